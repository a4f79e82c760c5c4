// The fused log p(target) against libtorch's log_softmax + gather: values and gradients, fp32 and bf16
// logits (the bf16 gradient within bf16 rounding), and a loss built on it against finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/target_logprobs.hpp"

using srl::train::target_logprobs;

TEST(TargetLogprobs, MatchesLogSoftmaxGatherAndItsGradient) {
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    auto base = (torch::randn({37, 301}) * 3).to(dtype);
    auto targets = torch::randint(0, 301, {37}, torch::kLong);
    auto g = torch::randn({37});
    auto a = base.clone().requires_grad_(true);
    auto b = base.clone().requires_grad_(true);
    auto got = target_logprobs(a, targets);
    auto ref = torch::log_softmax(b.to(torch::kFloat), -1).gather(1, targets.unsqueeze(1)).squeeze(1);
    EXPECT_EQ(got.scalar_type(), torch::kFloat);
    EXPECT_LT((got - ref).abs().max().item<float>(), 1e-5f);
    (got * g).sum().backward();
    (ref * g).sum().backward();
    ASSERT_EQ(a.grad().scalar_type(), dtype);
    // bf16 gradients are rounded to bf16 on both sides: within a few ulps of the largest entries.
    const float tol = dtype == torch::kFloat ? 1e-6f : 2e-2f;
    EXPECT_LT((a.grad().to(torch::kFloat) - b.grad().to(torch::kFloat)).abs().max().item<float>(), tol);
  }
}

TEST(TargetLogprobs, GradientMatchesFiniteDifferences) {
  torch::manual_seed(2);
  auto x = torch::randn({3, 17}, torch::kFloat);
  auto targets = torch::tensor({4, 0, 16}, torch::kLong);
  auto xd = x.clone().requires_grad_(true);
  target_logprobs(xd, targets).sum().backward();
  // Central differences of sum log p in double, computed directly from the definition.
  auto f = [&](const torch::Tensor& z) {
    auto zd = z.to(torch::kDouble);
    auto lse = zd.exp().sum(-1).log();
    return (zd.gather(1, targets.unsqueeze(1)).squeeze(1) - lse).sum().item<double>();
  };
  const double h = 1e-3;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 17; j += 4) {
      auto p = x.clone(), m = x.clone();
      p[r][j] += h;
      m[r][j] -= h;
      EXPECT_NEAR(xd.grad()[r][j].item<double>(), (f(p) - f(m)) / (2 * h), 1e-3) << r << "," << j;
    }
}
