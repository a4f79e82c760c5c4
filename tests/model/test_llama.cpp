// Llama module checks: KV-cache decoding equals the full forward pass, padding/batching does not change a
// sequence's logits, LoRA with B=0 and adapters-off equal the base model, merge equals the adapted model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "model/generate.hpp"
#include "model/llama.hpp"

using namespace srl::model;

namespace {
LlamaConfig test_config() {
  LlamaConfig c = LlamaConfig::preset("tiny");
  c.vocab_size = 97;
  c.max_position_embeddings = 64;
  return c;
}
torch::Tensor positions(int64_t B, int64_t T, int64_t start = 0) {
  return torch::arange(start, start + T, torch::kLong).unsqueeze(0).expand({B, T}).contiguous();
}
}  // namespace

TEST(Llama, PresetsMatchParameterCount) {
  Llama m(LlamaConfig::preset("tiny"));
  int64_t n = 0;
  for (auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(n, LlamaConfig::preset("tiny").num_parameters());
}

TEST(Llama, KVCacheDecodingEqualsFullForward) {
  torch::manual_seed(0);
  Llama m(test_config());
  m->init_weights(7, 0.1);
  m->eval();
  torch::NoGradGuard ng;
  auto ids = torch::randint(0, 97, {2, 12}, torch::kLong);
  auto full = m->full_logits(ids);  // (2, 12, V)
  auto cache = KVCache::allocate(m->config(), 2, 16, torch::kFloat, torch::kCPU);
  // Prefill 5 tokens, then one token at a time.
  auto h = m->forward(ids.narrow(1, 0, 5), positions(2, 5), &cache);
  EXPECT_TRUE(torch::allclose(m->logits(h), full.narrow(1, 0, 5), 1e-5, 1e-5));
  for (int64_t t = 5; t < 12; ++t) {
    auto ht = m->forward(ids.narrow(1, t, 1), positions(2, 1, t), &cache);
    auto lt = m->logits(ht).squeeze(1);
    EXPECT_TRUE(torch::allclose(lt, full.select(1, t), 1e-5, 1e-5)) << "step " << t;
  }
  EXPECT_EQ(cache.len, 12);
}

TEST(Llama, GreedyGenerationWithMixedPromptLengthsMatchesSingle) {
  Llama m(test_config());
  m->init_weights(3, 0.2);
  m->eval();
  std::vector<std::vector<int64_t>> prompts = {{5, 6, 7, 8, 9, 10, 11}, {3, 4}, {12, 13, 14, 15}};
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = 8;
  auto batched = generate(m, prompts, p);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto alone = generate(m, {prompts[i]}, p);
    EXPECT_EQ(batched[i].tokens, alone[0].tokens) << "prompt " << i;
    ASSERT_EQ(batched[i].logprobs.size(), alone[0].logprobs.size());
    for (size_t t = 0; t < alone[0].logprobs.size(); ++t)
      EXPECT_NEAR(batched[i].logprobs[t], alone[0].logprobs[t], 1e-4);
    // The greedy path recomputed by a plain full forward gives the same tokens and log-probs.
    std::vector<int64_t> seq = prompts[i];
    for (size_t t = 0; t < alone[0].tokens.size(); ++t) {
      torch::NoGradGuard ng;
      auto ids = torch::tensor(seq, torch::kLong).unsqueeze(0);
      auto lp = torch::log_softmax(m->full_logits(ids)[0][-1], -1);
      int64_t arg = lp.argmax().item<int64_t>();
      EXPECT_EQ(arg, alone[0].tokens[t]);
      EXPECT_NEAR(lp[arg].item<float>(), alone[0].logprobs[t], 1e-4);
      seq.push_back(arg);
    }
  }
}

TEST(Llama, StopTokenEndsSequenceAndSeedsReproduce) {
  Llama m(test_config());
  m->init_weights(5, 0.3);
  m->eval();
  SamplingParams p;
  p.temperature = 1.0;
  p.top_k = 20;
  p.top_p = 0.9;
  p.max_new_tokens = 20;
  p.seed = 42;
  auto a = generate(m, {{1, 2, 3}, {4, 5}}, p);
  auto b = generate(m, {{1, 2, 3}, {4, 5}}, p);
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_EQ(a[1].tokens, b[1].tokens);
  // Make the first sampled token a stop token: generation ends right there with reason "stop".
  p.stop_ids = {a[0].tokens[0]};
  auto c = generate(m, {{1, 2, 3}}, p);
  ASSERT_EQ(c[0].tokens.size(), 1u);
  EXPECT_EQ(c[0].finish_reason, "stop");
  p.stop_ids = {};
  p.max_new_tokens = 3;
  auto d = generate(m, {{1, 2, 3}}, p);
  EXPECT_EQ(d[0].tokens.size(), 3u);
  EXPECT_EQ(d[0].finish_reason, "length");
}

TEST(Llama, SamplerTopKOneIsGreedyAndLogprobIsUntruncated) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f};
  SamplingParams p;
  p.temperature = 1.0;
  p.top_k = 1;
  float lp = 0;
  for (double u : {0.0, 0.5, 0.999}) EXPECT_EQ(sample_token(logits.data(), 4, p, u, &lp), 1);
  double lse = std::log(std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + std::exp(-1.0));
  EXPECT_NEAR(lp, 3.0 - lse, 1e-6);
  // top_p = 0.5 keeps only the top token (its probability is 0.66).
  p.top_k = 0;
  p.top_p = 0.5;
  EXPECT_EQ(sample_token(logits.data(), 4, p, 0.99, &lp), 1);
  // Without truncation a draw near 1 reaches the last-ranked mass (the tail token 3 holds the final 0.0116).
  p.top_p = 1.0;
  EXPECT_EQ(sample_token(logits.data(), 4, p, 0.9999, &lp), 3);
}

TEST(Llama, LoraWithZeroBAndAdaptersOffEqualBase) {
  torch::NoGradGuard ng;
  Llama m(test_config());
  m->init_weights(11, 0.1);
  auto ids = torch::randint(0, 97, {2, 9}, torch::kLong);
  auto base = m->full_logits(ids);
  LoraConfig lc;
  lc.r = 4;
  lc.alpha = 8;
  lc.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  m->add_lora(lc);
  EXPECT_TRUE(torch::equal(m->full_logits(ids), base));  // B = 0
  for (auto& [name, t] : m->lora_tensors())
    if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.1);
  auto adapted = m->full_logits(ids);
  EXPECT_FALSE(torch::allclose(adapted, base, 1e-4, 1e-4));
  m->set_adapters_enabled(false);
  EXPECT_TRUE(torch::equal(m->full_logits(ids), base));
  m->set_adapters_enabled(true);
  m->merge_lora();
  m->set_adapters_enabled(false);
  EXPECT_TRUE(torch::allclose(m->full_logits(ids), adapted, 1e-4, 1e-4));
}

TEST(Llama, TrainableParametersAreAdaptersOnlyWithLora) {
  Llama m(test_config());
  auto all = m->trainable_parameters();
  EXPECT_EQ(all.size(), m->parameters().size());
  LoraConfig lc;
  lc.r = 2;
  lc.targets = {"q", "v"};
  m->add_lora(lc);
  auto tr = m->trainable_parameters();
  EXPECT_EQ(tr.size(), 2u * 2u * 2u);  // 2 layers x (q, v) x (A, B)
  for (auto& [n, t] : tr) EXPECT_NE(n.find("lora_"), std::string::npos) << n;
  auto names = m->lora_tensors();
  EXPECT_TRUE(names.count("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
}

TEST(Llama, BaseTensorNamesFollowHuggingFace) {
  Llama m(test_config());
  auto t = m->base_tensors();
  EXPECT_TRUE(t.count("model.embed_tokens.weight"));
  EXPECT_TRUE(t.count("model.layers.1.self_attn.k_proj.weight"));
  EXPECT_TRUE(t.count("model.layers.0.mlp.gate_proj.weight"));
  EXPECT_TRUE(t.count("model.layers.0.post_attention_layernorm.weight"));
  EXPECT_TRUE(t.count("model.norm.weight"));
  EXPECT_FALSE(t.count("lm_head.weight"));  // tied
  EXPECT_EQ(t["model.layers.0.self_attn.k_proj.weight"].sizes(), torch::IntArrayRef({64, 128}));
}

TEST(Llama, BlockedCausalAttentionMatchesTokenByTokenDecode) {
  // 160 tokens take the blocked causal path (query blocks of 64); one-token decode steps never do.
  LlamaConfig c = test_config();
  c.max_position_embeddings = 256;
  Llama m(c);
  m->init_weights(13, 0.1);
  torch::NoGradGuard ng;
  auto ids = torch::randint(0, 97, {2, 160}, torch::kLong);
  auto full = m->full_logits(ids);
  auto cache = KVCache::allocate(c, 2, 160, torch::kFloat, torch::kCPU);
  for (int64_t t = 0; t < 160; ++t) {
    auto lt = m->logits(m->forward(ids.narrow(1, t, 1), positions(2, 1, t), &cache)).squeeze(1);
    ASSERT_TRUE(torch::allclose(lt, full.select(1, t), 1e-4, 1e-4)) << "position " << t;
  }
  // And with gradients on (the training path) the same numbers come out.
  torch::GradMode::set_enabled(true);
  auto trained = m->full_logits(ids);
  torch::GradMode::set_enabled(false);
  EXPECT_TRUE(torch::allclose(trained, full, 1e-5, 1e-5));
}

TEST(Llama, SamplerNeverPicksIdsBeyondVocabLimit) {
  // The padded rows (ids >= the tokenizer's size) hold the largest logits here, yet are never chosen.
  std::vector<float> logits = {0.5f, 2.0f, 1.0f, 9.0f, 8.0f};
  SamplingParams p;
  p.vocab_limit = 3;
  float lp = 0;
  p.temperature = 0;
  EXPECT_EQ(sample_token(logits.data(), 5, p, 0.3, &lp), 1);
  double lse = 0;
  for (float l : logits) lse += std::exp(l);
  EXPECT_NEAR(lp, 2.0 - std::log(lse), 1e-5);  // normalised over the whole output layer
  p.temperature = 1.0;
  for (double u : {0.0, 0.4, 0.8, 0.9999}) EXPECT_LT(sample_token(logits.data(), 5, p, u, &lp), 3);
}

namespace {
// The nucleus/top-k sampler written the plain way: sort every candidate, cut, draw. sample_token sorts
// only a head of the order; it must pick the same token with the same log-prob in every case.
int64_t reference_sample(const std::vector<float>& l, const SamplingParams& p, double u, float* logprob) {
  const auto V = static_cast<int64_t>(l.size());
  const int64_t Vs = p.vocab_limit > 0 ? std::min(p.vocab_limit, V) : V;
  const double inv_t = 1.0 / p.temperature;
  double mx = -INFINITY, sum = 0;
  for (float x : l) mx = std::max<double>(mx, x);
  for (float x : l) sum += std::exp((x - mx) * inv_t);
  auto lp = [&](int64_t i) { return static_cast<float>((l[i] - mx) * inv_t - std::log(sum)); };
  std::vector<int64_t> idx(Vs);
  for (int64_t i = 0; i < Vs; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  int64_t keep = p.top_k > 0 ? std::min(p.top_k, Vs) : Vs;
  if (p.top_p < 1.0) {
    double cum = 0;
    int64_t n = 0;
    while (n < keep && cum < p.top_p) cum += std::exp(lp(idx[n++]));
    keep = std::max<int64_t>(n, 1);
  }
  double total = 0, acc = 0;
  for (int64_t j = 0; j < keep; ++j) total += std::exp(lp(idx[j]));
  for (int64_t j = 0; j < keep; ++j)
    if ((acc += std::exp(lp(idx[j]))) > u * total) return *logprob = lp(idx[j]), idx[j];
  return *logprob = lp(idx[keep - 1]), idx[keep - 1];
}
}  // namespace

TEST(Llama, SamplerTruncationMatchesSortingTheWholeVocabulary) {
  std::mt19937_64 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  // Peaked rows (the head holds the mass), flat rows (the floor must drop to the whole vocabulary), and
  // coarse rows full of exact ties.
  for (float scale : {12.0f, 0.05f, 3.0f})
    for (int row = 0; row < 20; ++row) {
      std::vector<float> l(512);
      for (auto& x : l) x = scale == 3.0f ? std::round(normal(rng) * scale) : normal(rng) * scale;
      for (double temperature : {0.3, 1.0, 2.5})
        for (auto [top_k, top_p] : {std::pair<int64_t, double>{0, 0.95}, {40, 1.0}, {40, 0.5}, {0, 0.999}, {600, 0.9}}) {
          SamplingParams p;
          p.temperature = temperature;
          p.top_k = top_k;
          p.top_p = top_p;
          p.vocab_limit = row % 3 == 0 ? 500 : 0;
          const double u = unif(rng);
          float got_lp = 0, want_lp = 0;
          const int64_t got = sample_token(l.data(), 512, p, u, &got_lp);
          ASSERT_EQ(got, reference_sample(l, p, u, &want_lp)) << scale << " T " << temperature << " k " << top_k << " p " << top_p;
          ASSERT_EQ(got_lp, want_lp);
        }
    }
}
