// Sequence log-probs of (prompt, response) pairs: the prefix-shared version (prompt once through a KV
// cache, duplicated for both responses) equals the per-row reference in values and in gradients w.r.t.
// every parameter; both equal a hand-computed full forward of one pair; token counts; edge cases.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <random>
#include <vector>

#include "core/error.hpp"
#include "train/sequence_logps.hpp"

using namespace srl;
using train::PairedSequences;
using train::SequenceLogps;

namespace {

constexpr int64_t kVocab = 61;

model::Llama tiny_model() {
  auto c = model::LlamaConfig::preset("tiny");
  c.vocab_size = kVocab;
  model::Llama m(c);
  m->init_weights(7, 0.1);
  return m;
}

std::vector<int64_t> random_ids(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int64_t> d(0, kVocab - 1);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Mixed prompt and response lengths, including length-1 responses and a length-1 prompt.
PairedSequences mixed_batch() {
  std::mt19937 rng(123);
  PairedSequences b;
  const std::vector<std::array<size_t, 3>> lens = {{5, 3, 7}, {1, 1, 4}, {9, 6, 1}, {3, 2, 2}};
  for (auto [p, c, r] : lens) {
    b.prompts.push_back(random_ids(rng, p));
    b.chosen.push_back(random_ids(rng, c));
    b.rejected.push_back(random_ids(rng, r));
  }
  return b;
}

// Hand-computed: one row (prompt + response), full forward, sum of log_softmax at the response targets.
double hand_logp(model::Llama& m, const std::vector<int64_t>& prompt, const std::vector<int64_t>& resp) {
  torch::NoGradGuard ng;
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), resp.begin(), resp.end());
  auto ids = torch::tensor(all, torch::kLong).unsqueeze(0);
  auto lp = torch::log_softmax(m->full_logits(ids).to(torch::kDouble), -1)[0];  // (T, V)
  double s = 0;
  for (size_t j = 0; j < resp.size(); ++j) s += lp[prompt.size() + j - 1][resp[j]].item<double>();
  return s;
}

std::vector<torch::Tensor> grads_of(model::Llama& m, const PairedSequences& b, bool shared, SequenceLogps* out) {
  for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
  auto r = shared ? train::sequence_logps(m, b) : train::sequence_logps_unshared(m, b);
  auto loss = r.chosen.sum() - 0.5 * r.rejected.sum();
  loss.backward();
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  *out = r;
  return g;
}

}  // namespace

TEST(SequenceLogps, SharedEqualsUnsharedValuesAndGradients) {
  auto m = tiny_model();
  auto b = mixed_batch();
  SequenceLogps s, u;
  auto gs = grads_of(m, b, true, &s);
  auto gu = grads_of(m, b, false, &u);
  ASSERT_EQ(s.chosen.sizes(), (std::vector<int64_t>{4}));
  ASSERT_EQ(s.rejected.sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(s.chosen.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(s.chosen, u.chosen, 1e-5, 1e-5)) << s.chosen << u.chosen;
  EXPECT_TRUE(torch::allclose(s.rejected, u.rejected, 1e-5, 1e-5)) << s.rejected << u.rejected;
  auto names = m->named_parameters();
  ASSERT_EQ(gs.size(), names.size());
  double total = 0;
  for (size_t i = 0; i < gs.size(); ++i) {
    EXPECT_TRUE(torch::allclose(gs[i], gu[i], 1e-4, 1e-4))
        << names[i].key() << " max diff " << (gs[i] - gu[i]).abs().max().item<double>();
    total += gs[i].abs().sum().item<double>();
  }
  EXPECT_GT(total, 0.0);
  // Every parameter (embeddings, both layers, norms) receives gradient through the shared path.
  for (size_t i = 0; i < gs.size(); ++i) EXPECT_GT(gs[i].abs().sum().item<double>(), 0.0) << names[i].key();

  // Both equal a hand-computed per-row full forward.
  for (int64_t i = 0; i < 4; ++i) {
    const double hc = hand_logp(m, b.prompts[i], b.chosen[i]), hr = hand_logp(m, b.prompts[i], b.rejected[i]);
    EXPECT_NEAR(s.chosen[i].item<double>(), hc, 1e-4) << i;
    EXPECT_NEAR(s.rejected[i].item<double>(), hr, 1e-4) << i;
    EXPECT_NEAR(u.chosen[i].item<double>(), hc, 1e-4) << i;
  }
  // Token counts: response lengths, float.
  EXPECT_EQ(s.chosen_tokens.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(s.chosen_tokens, torch::tensor({3.f, 1.f, 6.f, 2.f})));
  EXPECT_TRUE(torch::equal(s.rejected_tokens, torch::tensor({7.f, 4.f, 1.f, 2.f})));
  EXPECT_TRUE(torch::equal(u.chosen_tokens, s.chosen_tokens));
  EXPECT_TRUE(torch::equal(u.rejected_tokens, s.rejected_tokens));
}

TEST(SequenceLogps, EqualPromptLengthsAndAllLengthOneResponses) {
  auto m = tiny_model();
  std::mt19937 rng(5);
  // Same prompt length (no padding in the cache) and every response of length 1 (no continuation).
  PairedSequences b{{random_ids(rng, 4), random_ids(rng, 4)}, {random_ids(rng, 1), random_ids(rng, 1)},
                    {random_ids(rng, 1), random_ids(rng, 1)}};
  SequenceLogps s, u;
  auto gs = grads_of(m, b, true, &s);
  auto gu = grads_of(m, b, false, &u);
  EXPECT_TRUE(torch::allclose(s.chosen, u.chosen, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(s.rejected, u.rejected, 1e-5, 1e-5));
  for (size_t i = 0; i < gs.size(); ++i) EXPECT_TRUE(torch::allclose(gs[i], gu[i], 1e-4, 1e-4)) << i;
  EXPECT_NEAR(s.chosen[0].item<double>(), hand_logp(m, b.prompts[0], b.chosen[0]), 1e-4);
  EXPECT_TRUE(torch::equal(s.chosen_tokens, torch::tensor({1.f, 1.f})));
  // A single pair with equal prompt lengths and longer responses (unpadded cache + continuation).
  PairedSequences one{{random_ids(rng, 6)}, {random_ids(rng, 5)}, {random_ids(rng, 3)}};
  auto s1 = train::sequence_logps(m, one);
  EXPECT_NEAR(s1.chosen[0].item<double>(), hand_logp(m, one.prompts[0], one.chosen[0]), 1e-4);
  EXPECT_NEAR(s1.rejected[0].item<double>(), hand_logp(m, one.prompts[0], one.rejected[0]), 1e-4);
}

TEST(SequenceLogps, NoGradModeMatches) {
  // Without grad the model uses its fused inference weights; the numbers are the same.
  auto m = tiny_model();
  auto b = mixed_batch();
  auto u = train::sequence_logps_unshared(m, b);
  torch::NoGradGuard ng;
  auto s = train::sequence_logps(m, b);
  EXPECT_FALSE(s.chosen.requires_grad());
  EXPECT_TRUE(torch::allclose(s.chosen, u.chosen, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(s.rejected, u.rejected, 1e-5, 1e-5));
}

TEST(SequenceLogps, RejectsBadInput) {
  auto m = tiny_model();
  std::mt19937 rng(9);
  auto ok = [&] { return PairedSequences{{random_ids(rng, 3)}, {random_ids(rng, 2)}, {random_ids(rng, 2)}}; };
  for (bool shared : {true, false}) {
    auto run = [&](const PairedSequences& b) {
      return shared ? train::sequence_logps(m, b) : train::sequence_logps_unshared(m, b);
    };
    auto b = ok();
    b.chosen[0].clear();
    EXPECT_THROW(run(b), srl::Error);
    b = ok();
    b.rejected[0].clear();
    EXPECT_THROW(run(b), srl::Error);
    b = ok();
    b.prompts[0].clear();
    EXPECT_THROW(run(b), srl::Error);
    b = ok();
    b.chosen[0][0] = kVocab;  // outside the vocabulary
    EXPECT_THROW(run(b), srl::Error);
    b = ok();
    b.rejected.push_back({1});  // mismatched sizes
    EXPECT_THROW(run(b), srl::Error);
    EXPECT_THROW(run(PairedSequences{}), srl::Error);
    b = ok();
    b.prompts[0] = random_ids(rng, 511);  // 511 + 2 > 512 positions
    EXPECT_THROW(run(b), srl::Error);
  }
}

TEST(SequenceLogps, LongSequencesUseBlockedAttention) {
  // Continuations of >= 128 tokens after an unpadded prompt take the model's blocked causal path with a
  // non-empty cache; the reference rows (> 128 tokens) take it without one.
  auto m = tiny_model();
  std::mt19937 rng(11);
  PairedSequences b{{random_ids(rng, 70), random_ids(rng, 70)},
                    {random_ids(rng, 140), random_ids(rng, 20)},
                    {random_ids(rng, 131), random_ids(rng, 150)}};
  SequenceLogps s, u;
  auto gs = grads_of(m, b, true, &s);
  auto gu = grads_of(m, b, false, &u);
  EXPECT_TRUE(torch::allclose(s.chosen, u.chosen, 1e-5, 1e-4)) << s.chosen << u.chosen;
  EXPECT_TRUE(torch::allclose(s.rejected, u.rejected, 1e-5, 1e-4)) << s.rejected << u.rejected;
  for (size_t i = 0; i < gs.size(); ++i) EXPECT_TRUE(torch::allclose(gs[i], gu[i], 1e-4, 1e-4)) << i;
}

// Hand-computed: final-norm hidden state of one row's last token, from a full forward of prompt+response.
static torch::Tensor hand_last_hidden(model::Llama& m, const std::vector<int64_t>& prompt, const std::vector<int64_t>& resp) {
  torch::NoGradGuard ng;
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), resp.begin(), resp.end());
  const int64_t T = static_cast<int64_t>(all.size());
  auto ids = torch::tensor(all, torch::kLong).unsqueeze(0);
  return m->forward(ids, torch::arange(T, torch::kLong).unsqueeze(0))[0][T - 1];
}

TEST(SequenceLogps, LastTokenHiddenIsTheTrueLastTokenWhateverThePadding) {
  // Reward-model pooling: every row (mixed prompt and response lengths, so both left- and right-padding
  // occur) gets the state after its own last token; shared and unshared agree in values and gradients.
  auto m = tiny_model();
  auto b = mixed_batch();
  const int64_t B = static_cast<int64_t>(b.prompts.size());
  auto grads = [&](bool shared, torch::Tensor* h) {
    for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
    *h = shared ? train::last_token_hidden(m, b) : train::last_token_hidden_unshared(m, b);
    (*h * torch::linspace(-1, 1, h->size(1))).sum().backward();
    std::vector<torch::Tensor> g;
    for (auto& p : m->parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return g;
  };
  torch::Tensor hs, hu;
  auto gs = grads(true, &hs);
  auto gu = grads(false, &hu);
  ASSERT_EQ(hs.sizes(), (std::vector<int64_t>{2 * B, m->config().hidden_size}));
  EXPECT_TRUE(torch::allclose(hs, hu, 1e-5, 1e-5));
  for (size_t i = 0; i < gs.size(); ++i) EXPECT_TRUE(torch::allclose(gs[i], gu[i], 1e-4, 1e-4)) << i;
  for (int64_t i = 0; i < B; ++i) {
    EXPECT_TRUE(torch::allclose(hs[i].detach(), hand_last_hidden(m, b.prompts[i], b.chosen[i]), 1e-5, 1e-5)) << i;
    EXPECT_TRUE(torch::allclose(hs[B + i].detach(), hand_last_hidden(m, b.prompts[i], b.rejected[i]), 1e-5, 1e-5)) << i;
  }
}
