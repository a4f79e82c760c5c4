// Gradient checks of the model's hand-assembled pieces (RMSNorm, rotary embedding, grouped-query attention
// with masks, SwiGLU, LoRA branch, tied output projection): autograd against central finite differences,
// in float64 so the comparison is tight.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/llama.hpp"

using namespace srl::model;

namespace {
LlamaConfig small_config() {
  LlamaConfig c;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 16;
  return c;
}

double loss_of(Llama& m, const torch::Tensor& ids, const torch::Tensor& w) {
  torch::NoGradGuard ng;
  auto lp = torch::log_softmax(m->full_logits(ids), -1);
  return (lp * w).sum().item<double>();
}
}  // namespace

TEST(GradCheck, EveryParameterMatchesFiniteDifferences) {
  torch::manual_seed(3);
  Llama m(small_config());
  m->init_weights(5, 0.4);
  LoraConfig lc;
  lc.r = 2;
  lc.targets = {"q", "v", "down"};
  m->add_lora(lc);
  for (auto& [n, t] : m->lora_tensors()) t.detach().normal_(0, 0.3);
  m->to(torch::kDouble);
  // Norm weights away from 1 so their gradient is exercised in a generic spot.
  for (auto& p : m->named_parameters())
    if (p.key().find("norm") != std::string::npos) p.value().detach().uniform_(0.5, 1.5);
  auto ids = torch::tensor({{1, 4, 7, 2, 9, 3}}, torch::kLong);
  auto w = torch::randn({1, 6, 11}, torch::kDouble);  // a random linear functional of the log-probs
  auto lp = torch::log_softmax(m->full_logits(ids), -1);
  (lp * w).sum().backward();
  const double eps = 1e-6;
  int checked = 0;
  for (auto& p : m->named_parameters()) {
    auto flat = p.value().detach().view({-1});
    auto grad = p.value().grad().view({-1});
    // A few coordinates of every tensor (all of the small ones).
    for (int64_t i = 0; i < flat.numel(); i += std::max<int64_t>(1, flat.numel() / 5)) {
      const double orig = flat[i].item<double>();
      flat[i] = orig + eps;
      const double up = loss_of(m, ids, w);
      flat[i] = orig - eps;
      const double down = loss_of(m, ids, w);
      flat[i] = orig;
      const double fd = (up - down) / (2 * eps);
      EXPECT_NEAR(grad[i].item<double>(), fd, 1e-6 + 1e-5 * std::abs(fd)) << p.key() << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

TEST(GradCheck, PaddedBatchMaskBlocksGradientFromPadding) {
  // With a KV cache and left padding, changing a padding token must not change real rows' logits.
  Llama m(small_config());
  m->init_weights(9, 0.4);
  m->eval();
  torch::NoGradGuard ng;
  auto run = [&](int64_t pad_token) {
    auto cache = KVCache::allocate(m->config(), 1, 8, torch::kFloat, torch::kCPU);
    cache.key_valid[0][0] = false;
    cache.key_valid[0][1] = false;
    cache.has_padding = true;
    auto ids = torch::tensor({pad_token, pad_token, int64_t{3}, int64_t{5}, int64_t{7}}, torch::kLong).unsqueeze(0);
    auto pos = torch::tensor({0, 0, 0, 1, 2}, torch::kLong).unsqueeze(0);
    return m->logits(m->forward(ids, pos, &cache)).narrow(1, 2, 3).clone();
  };
  auto a = run(0), b = run(10);
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));
  // And equals the unpadded sequence.
  auto plain = m->full_logits(torch::tensor({{3, 5, 7}}, torch::kLong));
  EXPECT_TRUE(torch::allclose(a, plain, 1e-5, 1e-5));
}
