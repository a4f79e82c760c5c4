// The hand-written AdamW against libtorch's own torch::optim::AdamW (an independent implementation),
// schedules against closed forms, clipping against a direct norm computation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "train/optim.hpp"

using namespace srl::train;

TEST(AdamW, MatchesTorchAdamWOverSeveralSteps) {
  torch::manual_seed(0);
  auto w0 = torch::randn({5, 3});
  auto a = w0.clone().set_requires_grad(true);
  auto b = w0.clone().set_requires_grad(true);
  AdamWOptions o;
  o.weight_decay = 0.1;
  AdamW ours({{"w", a}}, o);
  torch::optim::AdamW ref({b}, torch::optim::AdamWOptions(1e-2).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.1));
  for (int s = 0; s < 5; ++s) {
    auto x = torch::randn({4, 5});
    ours.zero_grad();
    ref.zero_grad();
    (torch::matmul(x, a).pow(2).sum()).backward();
    (torch::matmul(x, b).pow(2).sum()).backward();
    ours.step(1e-2);
    ref.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6)) << (a - b).abs().max();
  EXPECT_EQ(ours.steps(), 5);
}

TEST(AdamW, NormParametersAreNotDecayed) {
  auto w = torch::ones({3}).set_requires_grad(true);
  AdamWOptions o;
  o.weight_decay = 0.5;
  AdamW opt({{"model.norm.weight", w}}, o);
  w.mutable_grad() = torch::zeros({3});
  opt.step(0.1);
  EXPECT_TRUE(torch::equal(w, torch::ones({3})));
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  torch::manual_seed(1);
  auto w0 = torch::randn({4});
  auto a = w0.clone().set_requires_grad(true);
  AdamW opt({{"w", a}}, {});
  auto grad_step = [](AdamW& o, torch::Tensor& p, int k) {
    o.zero_grad();
    p.mutable_grad() = torch::full({4}, 0.1 * (k + 1));
    o.step(0.01);
  };
  grad_step(opt, a, 0);
  grad_step(opt, a, 1);
  auto st = opt.state();
  std::map<std::string, torch::Tensor> saved;
  for (auto& [k, v] : st) saved[k] = v.clone();
  auto b = a.detach().clone().set_requires_grad(true);
  AdamW opt2({{"w", b}}, {});
  opt2.load_state(saved, "test");
  grad_step(opt, a, 2);
  grad_step(opt2, b, 2);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_EQ(opt2.steps(), 3);
}

TEST(Schedule, WarmupThenCosineAndLinear) {
  ScheduleOptions s;
  s.warmup_steps = 10;
  s.total_steps = 110;
  EXPECT_DOUBLE_EQ(lr_at(0, 1.0, s), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(9, 1.0, s), 1.0);
  EXPECT_NEAR(lr_at(10, 1.0, s), 1.0, 1e-12);
  EXPECT_NEAR(lr_at(60, 1.0, s), 0.5, 1e-12);  // half-way through the cosine
  EXPECT_NEAR(lr_at(110, 1.0, s), 0.0, 1e-12);
  s.kind = Schedule::Linear;
  EXPECT_NEAR(lr_at(35, 2.0, s), 2.0 * 0.75, 1e-12);
  s.min_lr_ratio = 0.1;
  EXPECT_NEAR(lr_at(110, 1.0, s), 0.1, 1e-12);
  s.kind = Schedule::Constant;
  EXPECT_DOUBLE_EQ(lr_at(100, 3.0, s), 3.0);
}

TEST(ClipGradNorm, ScalesToMaxNorm) {
  auto a = torch::zeros({2}).set_requires_grad(true);
  auto b = torch::zeros({1}).set_requires_grad(true);
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  double n = clip_grad_norm({{"a", a}, {"b", b}}, 1.0);
  EXPECT_NEAR(n, 5.0, 1e-9);
  EXPECT_NEAR(a.grad()[0].item<float>(), 0.6, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<float>(), 0.8, 1e-5);
}
