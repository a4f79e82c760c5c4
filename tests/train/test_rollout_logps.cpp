// Per-token rollout log-probs: the prefix-shared computation (each prompt once, its cache duplicated for G
// responses) equals the plain per-row reference in values, entropies and gradients; both equal a hand
// computation at a temperature; and they are the numbers model::generate reported for the tokens it
// sampled (the sampler's log-probs are the behaviour policy's).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>
#include <vector>

#include "core/error.hpp"
#include "model/generate.hpp"
#include "train/rollout_logps.hpp"

using namespace srl;
using train::RolloutBatch;
using train::RolloutLogpOptions;
using train::TokenLogps;

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

// Three prompts of different lengths, 3 responses each (lengths 1..9, one prompt of length 1), shuffled
// so that a prompt's responses are not adjacent.
RolloutBatch mixed_batch() {
  std::mt19937 rng(321);
  RolloutBatch b;
  for (size_t p : {5, 1, 8}) b.prompts.push_back(random_ids(rng, p));
  const std::vector<std::pair<int64_t, size_t>> rows = {{0, 3}, {1, 7}, {2, 1}, {0, 9}, {1, 1}, {2, 4}, {0, 2}, {1, 5}, {2, 6}};
  for (auto [p, n] : rows) {
    b.prompt_index.push_back(p);
    b.responses.push_back(random_ids(rng, n));
  }
  return b;
}

std::vector<torch::Tensor> grads_of(model::Llama& m, const RolloutBatch& b, bool shared, TokenLogps* out) {
  for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
  RolloutLogpOptions o;
  o.temperature = 0.7;
  o.entropy = true;
  o.entropy_grad = true;
  auto r = shared ? train::rollout_logps(m, b, o) : train::rollout_logps_unshared(m, b, o);
  // Weight tokens unevenly so a wrong row or column shows up in the gradients.
  auto w = torch::arange(r.logps.numel(), torch::kFloat).reshape(r.logps.sizes()) / 10.0 - 1.0;
  auto loss = (r.logps * w).sum() + 0.3 * r.entropy.sum();
  loss.backward();
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  *out = r;
  return g;
}

}  // namespace

TEST(RlRolloutLogps, SharedEqualsUnsharedValuesAndGradients) {
  auto m = tiny_model();
  auto b = mixed_batch();
  TokenLogps s, u;
  auto gs = grads_of(m, b, true, &s);
  auto gu = grads_of(m, b, false, &u);
  ASSERT_EQ(s.logps.sizes(), (std::vector<int64_t>{9, 9}));
  EXPECT_EQ(s.logps.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(s.mask, u.mask));
  EXPECT_TRUE(torch::allclose(s.logps, u.logps, 1e-5, 1e-5)) << (s.logps - u.logps).abs().max();
  EXPECT_TRUE(torch::allclose(s.entropy, u.entropy, 1e-5, 1e-5));
  // Mask = response lengths; padding is exactly 0.
  auto lengths = s.mask.sum(1);
  for (size_t r = 0; r < b.responses.size(); ++r) EXPECT_EQ(lengths[r].item<float>(), b.responses[r].size());
  EXPECT_EQ((s.logps * (1 - s.mask)).abs().sum().item<float>(), 0.0f);
  auto names = m->named_parameters();
  for (size_t i = 0; i < gs.size(); ++i) {
    EXPECT_TRUE(torch::allclose(gs[i], gu[i], 1e-4, 1e-4))
        << names[i].key() << " max diff " << (gs[i] - gu[i]).abs().max().item<double>();
    EXPECT_GT(gs[i].abs().sum().item<double>(), 0.0) << names[i].key();
  }
}

TEST(RlRolloutLogps, MatchesHandComputationAtTemperature) {
  auto m = tiny_model();
  auto b = mixed_batch();
  RolloutLogpOptions o;
  o.temperature = 0.7;
  torch::NoGradGuard ng;  // the fused inference path gives the same numbers
  auto s = train::rollout_logps(m, b, o);
  for (size_t r = 0; r < b.responses.size(); ++r) {
    std::vector<int64_t> all = b.prompts[b.prompt_index[r]];
    const size_t P = all.size();
    all.insert(all.end(), b.responses[r].begin(), b.responses[r].end());
    auto lp = torch::log_softmax(m->full_logits(torch::tensor(all, torch::kLong).unsqueeze(0)).to(torch::kDouble) / 0.7, -1)[0];
    for (size_t j = 0; j < b.responses[r].size(); ++j)
      EXPECT_NEAR(s.logps[r][j].item<double>(), lp[P + j - 1][b.responses[r][j]].item<double>(), 1e-4) << r << "," << j;
  }
}

TEST(RlRolloutLogps, EqualSamplerLogprobsOfGenerate) {
  auto m = tiny_model();
  std::mt19937 rng(4);
  std::vector<std::vector<int64_t>> prompts = {random_ids(rng, 6), random_ids(rng, 3)};
  model::SamplingParams sp;
  sp.temperature = 0.8;
  sp.max_new_tokens = 12;
  sp.seed = 11;
  sp.stop_ids = {0, 1};
  // G = 3 per prompt, in one batch.
  std::vector<std::vector<int64_t>> rows;
  RolloutBatch b{prompts, {}, {}};
  for (int64_t p = 0; p < 2; ++p)
    for (int g = 0; g < 3; ++g) {
      rows.push_back(prompts[p]);
      b.prompt_index.push_back(p);
    }
  auto gens = model::generate(m, rows, sp);
  for (auto& g : gens) b.responses.push_back(g.tokens);
  RolloutLogpOptions o;
  o.temperature = sp.temperature;
  auto s = train::rollout_logps(m, b, o);
  for (size_t r = 0; r < gens.size(); ++r)
    for (size_t j = 0; j < gens[r].tokens.size(); ++j)
      EXPECT_NEAR(s.logps[r][j].item<float>(), gens[r].logprobs[j], 1e-4) << r << "," << j;
}

TEST(RlRolloutLogps, LengthOneResponsesAndBadInput) {
  auto m = tiny_model();
  std::mt19937 rng(8);
  RolloutBatch b{{random_ids(rng, 4), random_ids(rng, 4)}, {random_ids(rng, 1), random_ids(rng, 1), random_ids(rng, 1)}, {0, 1, 1}};
  TokenLogps s, u;
  auto gs = grads_of(m, b, true, &s);
  auto gu = grads_of(m, b, false, &u);
  EXPECT_TRUE(torch::allclose(s.logps, u.logps, 1e-5, 1e-5));
  for (size_t i = 0; i < gs.size(); ++i) EXPECT_TRUE(torch::allclose(gs[i], gu[i], 1e-4, 1e-4)) << i;

  RolloutLogpOptions o;
  for (bool shared : {true, false}) {
    auto run = [&](const RolloutBatch& x) {
      return shared ? train::rollout_logps(m, x, o) : train::rollout_logps_unshared(m, x, o);
    };
    auto bad = b;
    bad.responses[1].clear();
    EXPECT_THROW(run(bad), Error);
    bad = b;
    bad.prompt_index[2] = 2;  // no such prompt
    EXPECT_THROW(run(bad), Error);
    bad = b;
    bad.prompt_index.pop_back();
    EXPECT_THROW(run(bad), Error);
    bad = b;
    bad.responses[0][0] = kVocab;
    EXPECT_THROW(run(bad), Error);
    bad = b;
    bad.prompts[0] = random_ids(rng, 512);  // 512 + 1 > 512 positions
    EXPECT_THROW(run(bad), Error);
    EXPECT_THROW(run(RolloutBatch{}), Error);
  }
}
