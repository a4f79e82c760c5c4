// The fused fp32 RMSNorm (one autograd node) against the composite formula HF uses, values and gradients
// of both the input and the weight; the composite's gradients come from libtorch's autograd.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/llama.hpp"

using namespace srl::model;

TEST(RMSNorm, FusedMatchesCompositeAndItsGradients) {
  torch::manual_seed(5);
  RMSNorm norm(96, 1e-5);
  {
    torch::NoGradGuard ng;
    norm->weight.copy_(torch::randn({96}) * 0.5 + 1.0);
  }
  auto base = torch::randn({3, 7, 96}) * 2;
  auto g = torch::randn({3, 7, 96});
  auto x = base.clone().requires_grad_(true);
  auto y = norm(x);
  (y * g).sum().backward();
  auto w_ref = norm->weight.detach().clone().requires_grad_(true);
  auto x_ref = base.clone().requires_grad_(true);
  auto y_ref = w_ref * (x_ref * torch::rsqrt(x_ref.pow(2).mean(-1, true) + 1e-5));
  (y_ref * g).sum().backward();
  EXPECT_LT((y - y_ref).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((x.grad() - x_ref.grad()).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((norm->weight.grad() - w_ref.grad()).abs().max().item<float>(), 1e-4f);
  // Without gradients the same numbers come out.
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(norm(base), y.detach()));
}
