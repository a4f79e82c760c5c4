// The inference engine against independent references: its kernels against libtorch's matmul and the
// libtorch generate path (greedy tokens identical, log-probs within 1e-4 in fp32; bf16 against fp32
// teacher forcing within bf16's tolerance), continuous batching against decoding alone, stop conditions
// and seeded sampling. Each numeric check runs on both kernel implementations (AVX-512 and portable).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "model/engine.hpp"
#include "model/generate.hpp"
#include "model/kernels.hpp"

using namespace srl::model;

namespace {

// Runs the body once per kernel implementation; the AVX-512 pass is skipped where the CPU lacks it.
class EngineTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { kern::force_portable(GetParam()); }
  void TearDown() override { kern::force_portable(false); }
};

std::string impl_name(const ::testing::TestParamInfo<bool>& info) { return info.param ? "portable" : "native"; }

Llama make_model(const std::string& preset, uint64_t seed) {
  auto c = LlamaConfig::preset(preset);
  c.max_position_embeddings = 96;
  Llama m(c);
  m->init_weights(seed, 0.08);  // peaked enough that greedy choices are not near ties
  m->eval();
  return m;
}

std::vector<std::vector<int64_t>> random_prompts(const std::vector<int64_t>& lengths, int64_t vocab, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::vector<std::vector<int64_t>> out;
  for (auto L : lengths) {
    auto t = at::randint(0, vocab, {L}, gen, torch::kLong);
    out.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + L);
  }
  return out;
}

// One prompt decoded alone in an engine of its own (one slot), with the random stream it had in a batch.
Generation decode_alone(const std::shared_ptr<const EngineWeights>& w, const std::vector<int64_t>& prompt,
                        const SamplingParams& p, uint64_t stream, int64_t capacity = 64) {
  DecodeEngine e(w, 1, capacity);
  const auto id = e.submit(prompt, p, stream);
  while (e.busy()) e.step();
  return e.take(id);
}

// Decodes `rows` in one batch and every `stride`-th of them alone, in fp32 and in bf16: each must get the
// tokens and log-probs it gets alone. Returns the batched generations of each precision.
std::vector<std::vector<Generation>> decode_batched_and_alone(Llama& m, const std::vector<std::vector<int64_t>>& rows,
                                                              const SamplingParams& p, size_t stride = 1,
                                                              int64_t capacity = 64) {
  std::vector<std::vector<Generation>> out;
  for (auto precision : {EnginePrecision::f32, EnginePrecision::bf16}) {
    out.push_back(generate_with_engine(m, rows, p, precision));
    const auto w = engine_weights(m, precision);
    for (size_t i = 0; i < rows.size(); i += stride) {
      const auto g = decode_alone(w, rows[i], p, i, capacity);
      EXPECT_EQ(g.tokens, out.back()[i].tokens) << "row " << i;
      EXPECT_EQ(g.logprobs, out.back()[i].logprobs) << "row " << i;
    }
  }
  return out;
}

}  // namespace

TEST_P(EngineTest, MatmulMatchesTorchAndIgnoresBatchMates) {
  torch::manual_seed(3);
  for (auto [out, in] : {std::pair<int64_t, int64_t>{100, 70}, {128, 256}, {64, 33}}) {
    auto W = torch::randn({out, in});
    auto X = torch::randn({7, in});
    for (auto type : {kern::WType::f32, kern::WType::bf16}) {
      auto packed = kern::pack(W.data_ptr<float>(), out, in, type);
      const bool bf16 = type == kern::WType::bf16;
      std::vector<uint16_t> xb(static_cast<size_t>(7 * packed.in_padded));
      if (bf16) kern::to_bf16_rows(X.data_ptr<float>(), in, 7, in, packed.in_padded, xb.data());
      auto Y = torch::zeros({7, out});
      kern::matmul(packed, X.data_ptr<float>(), in, xb.data(), 7, Y.data_ptr<float>(), out, false, 0, packed.panels);
      // Reference: libtorch's fp32 matmul on the same (rounded) inputs.
      auto Wr = bf16 ? W.to(torch::kBFloat16).to(torch::kFloat) : W;
      auto Xr = bf16 ? X.to(torch::kBFloat16).to(torch::kFloat) : X;
      auto ref = torch::matmul(Xr, Wr.t());
      EXPECT_LT((Y - ref).abs().max().item<float>(), 1e-4f) << out << "x" << in << (bf16 ? " bf16" : " f32");
      // Row 5 alone gives bit-identical numbers; accumulate adds to what is there.
      auto Y1 = torch::full({1, out}, 7.0f);
      kern::matmul(packed, X.data_ptr<float>() + 5 * in, in, xb.data() + 5 * packed.in_padded, 1, Y1.data_ptr<float>(),
                   out, false, 0, packed.panels);
      EXPECT_TRUE(torch::equal(Y1[0], Y[5])) << "row result depends on its batch";
      auto Y2 = torch::ones({1, out});
      kern::matmul(packed, X.data_ptr<float>() + 5 * in, in, xb.data() + 5 * packed.in_padded, 1, Y2.data_ptr<float>(),
                   out, true, 0, packed.panels);
      EXPECT_LT((Y2[0] - (Y[5] + 1.0f)).abs().max().item<float>(), 1e-5f);
    }
  }
}

TEST_P(EngineTest, Fp32GreedyMatchesLibtorchPathWithMixedPromptLengths) {
  for (const std::string preset : {"tiny", "small"}) {
    Llama m = make_model(preset, 11);
    auto prompts = random_prompts({5, 17, 9, 1}, m->config().vocab_size, 4);
    SamplingParams p;
    p.temperature = 0;
    p.max_new_tokens = 20;
    auto ref = generate_torch(m, prompts, p);
    auto got = generate_with_engine(m, prompts, p, EnginePrecision::f32);
    // Single prompts too: the batch must not change a sequence.
    auto alone = generate_with_engine(m, {prompts[1]}, p, EnginePrecision::f32);
    for (size_t b = 0; b < prompts.size(); ++b) {
      ASSERT_EQ(got[b].tokens, ref[b].tokens) << preset << " prompt " << b;
      ASSERT_EQ(got[b].finish_reason, ref[b].finish_reason);
      for (size_t t = 0; t < ref[b].logprobs.size(); ++t)
        EXPECT_NEAR(got[b].logprobs[t], ref[b].logprobs[t], 1e-4) << preset << " prompt " << b << " token " << t;
    }
    EXPECT_EQ(alone[0].tokens, got[1].tokens);
    EXPECT_EQ(alone[0].logprobs, got[1].logprobs);
  }
}

TEST_P(EngineTest, Bf16LogprobsWithinToleranceOfFp32TeacherForcing) {
  for (const std::string preset : {"tiny", "small"}) {
    Llama m = make_model(preset, 5);
    auto prompts = random_prompts({12, 7}, m->config().vocab_size, 9);
    SamplingParams p;
    p.temperature = 1.0;
    p.seed = 3;
    p.max_new_tokens = 16;
    auto got = generate_with_engine(m, prompts, p, EnginePrecision::bf16);
    torch::NoGradGuard ng;
    double worst = 0, sum = 0;
    int64_t n = 0;
    for (size_t b = 0; b < prompts.size(); ++b) {
      std::vector<int64_t> seq = prompts[b];
      seq.insert(seq.end(), got[b].tokens.begin(), got[b].tokens.end());
      auto ids = torch::tensor(seq, torch::kLong).unsqueeze(0);
      auto lp = torch::log_softmax(m->full_logits(ids)[0], -1);
      for (size_t t = 0; t < got[b].tokens.size(); ++t) {
        const auto pos = static_cast<int64_t>(prompts[b].size() + t) - 1;
        const double d = std::abs(lp[pos][got[b].tokens[t]].item<double>() - got[b].logprobs[t]);
        worst = std::max(worst, d);
        sum += d;
        ++n;
      }
    }
    // bf16 keeps 8 bits of mantissa: logits off by ~0.4% of their size.
    EXPECT_LT(worst, 0.15) << preset;
    EXPECT_LT(sum / static_cast<double>(n), 0.03) << preset;
  }
}

TEST_P(EngineTest, SequenceInContinuousBatchGetsItsAloneTokens) {
  Llama m = make_model("tiny", 2);
  const auto prompts = random_prompts({6, 14, 3, 9, 11}, m->config().vocab_size, 1);
  std::vector<SamplingParams> params(prompts.size());
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].temperature = i % 2 ? 0.8 : 0.0;  // each with its own sampling parameters and seed
    params[i].seed = 100 + i;
    params[i].max_new_tokens = 6 + 3 * static_cast<int64_t>(i);
  }
  auto w = engine_weights(m, EnginePrecision::f32);
  std::vector<Generation> alone;
  for (size_t i = 0; i < prompts.size(); ++i) alone.push_back(decode_alone(w, prompts[i], params[i], i));
  // Two slots: sequences queue, join as others leave, and join mid-way through others' decoding.
  DecodeEngine e(w, 2, 64);
  std::map<int64_t, size_t> which;
  which[e.submit(prompts[0], params[0], 0)] = 0;
  e.step();
  e.step();
  for (size_t i = 1; i < prompts.size(); ++i) which[e.submit(prompts[i], params[i], i)] = i;
  int64_t steps = 0;
  while (e.busy()) {
    for (auto id : e.step()) {
      const auto g = e.take(id);
      EXPECT_EQ(g.tokens, alone[which[id]].tokens) << "sequence " << which[id];
      EXPECT_EQ(g.logprobs, alone[which[id]].logprobs) << "sequence " << which[id];
      which.erase(id);
    }
    ASSERT_LT(++steps, 200);
  }
  // Sequence 0 finished during the first two steps' aftermath; the rest were taken in the loop.
  EXPECT_TRUE(which.empty() || (which.size() == 1 && e.finished(which.begin()->first)));
}

TEST_P(EngineTest, RolloutsOfOnePromptSharePrefillWithoutChangingTokens) {
  Llama m = make_model("tiny", 9);
  // 21 tokens: one whole key block shared in place, 5 copied (an odd count: bf16 values come in pairs).
  auto two = random_prompts({21, 6}, m->config().vocab_size, 5);
  const std::vector<std::vector<int64_t>> rows = {two[0], two[0], two[1], two[0], two[1]};
  SamplingParams p;
  p.temperature = 1.0;
  p.seed = 77;
  p.max_new_tokens = 12;
  for (const auto& batched : decode_batched_and_alone(m, rows, p))
    EXPECT_NE(batched[0].tokens, batched[1].tokens);  // same prompt, own random streams
}

// More rollouts than prompt tokens: the shared prefill step has fewer rows than sequences to sample
// (`generate --n 16` of a short message). 130 of them, so the final norm's rows (130 x 128) are split
// across the thread team through the shared buffer. Each rollout still gets its alone tokens.
TEST_P(EngineTest, ManyRolloutsOfAShortPrompt) {
  Llama m = make_model("tiny", 4);
  const auto prompt = random_prompts({3}, m->config().vocab_size, 6)[0];
  const std::vector<std::vector<int64_t>> rows(130, prompt);
  SamplingParams p;
  p.temperature = 1.0;
  p.seed = 5;
  p.max_new_tokens = 6;
  decode_batched_and_alone(m, rows, p, 43, 16);
}

TEST_P(EngineTest, StopTokensLengthAndContextEndSequences) {
  Llama m = make_model("tiny", 8);
  const auto prompts = random_prompts({4}, m->config().vocab_size, 2);
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = 12;
  auto free_run = generate_with_engine(m, prompts, p, EnginePrecision::f32)[0];
  EXPECT_EQ(free_run.finish_reason, "length");
  EXPECT_EQ(free_run.tokens.size(), 12u);
  // Stop at the first occurrence of the 4th token: the stop token is included, reason "stop".
  p.stop_ids = {free_run.tokens[3]};
  auto stopped = generate_with_engine(m, prompts, p, EnginePrecision::f32)[0];
  const auto first = std::find(free_run.tokens.begin(), free_run.tokens.end(), free_run.tokens[3]) - free_run.tokens.begin();
  EXPECT_EQ(stopped.finish_reason, "stop");
  EXPECT_EQ(static_cast<int64_t>(stopped.tokens.size()), first + 1);
  // The context (96 positions) caps new tokens: 90 prompt tokens leave 6.
  p.stop_ids.clear();
  p.max_new_tokens = 50;
  auto near_end = generate_with_engine(m, random_prompts({90}, m->config().vocab_size, 3), p, EnginePrecision::f32)[0];
  EXPECT_EQ(near_end.tokens.size(), 6u);
  EXPECT_EQ(near_end.finish_reason, "length");
  // max_new_tokens 0: nothing generated.
  p.max_new_tokens = 0;
  EXPECT_TRUE(generate_with_engine(m, prompts, p, EnginePrecision::f32)[0].tokens.empty());
}

TEST_P(EngineTest, SeededSamplingIsReproducibleAndIndependentOfBatch) {
  Llama m = make_model("tiny", 4);
  const auto prompts = random_prompts({5, 8, 5}, m->config().vocab_size, 6);
  SamplingParams p;
  p.temperature = 1.0;
  p.seed = 42;
  p.max_new_tokens = 16;
  auto a = generate_with_engine(m, prompts, p, EnginePrecision::f32);
  auto b = generate_with_engine(m, prompts, p, EnginePrecision::f32);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens);
  p.seed = 43;
  auto c = generate_with_engine(m, prompts, p, EnginePrecision::f32);
  EXPECT_NE(a[0].tokens, c[0].tokens);
  // Prompts 0 and 2 are different draws (own streams); top-p keeps the run reproducible too.
  p.seed = 42;
  p.top_p = 0.9;
  auto d = generate_with_engine(m, prompts, p, EnginePrecision::f32);
  auto e = generate_with_engine(m, prompts, p, EnginePrecision::f32);
  EXPECT_EQ(d[1].tokens, e[1].tokens);
  EXPECT_NE(a[0].tokens, a[2].tokens);
}

TEST_P(EngineTest, LoraAdaptersAreFoldedInAndSwitchable) {
  Llama m = make_model("tiny", 6);
  LoraConfig lc;
  lc.r = 4;
  lc.targets = {"q", "v", "gate", "down"};
  m->add_lora(lc);
  {
    torch::NoGradGuard ng;
    for (auto& [name, t] : m->lora_tensors()) t.normal_(0.0, 0.1);
  }
  const auto prompts = random_prompts({7, 3}, m->config().vocab_size, 7);
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = 10;
  for (bool on : {true, false}) {
    AdapterGuard g(m, on);
    auto ref = generate_torch(m, prompts, p);
    auto got = generate_with_engine(m, prompts, p, EnginePrecision::f32);
    for (size_t b = 0; b < prompts.size(); ++b) EXPECT_EQ(got[b].tokens, ref[b].tokens) << "adapters " << on;
  }
}

TEST_P(EngineTest, BadPromptsAreErrorsNamingThePrompt) {
  Llama m = make_model("tiny", 1);
  SamplingParams p;
  EXPECT_THROW(generate_with_engine(m, {{1, 2}, {}}, p, EnginePrecision::f32), srl::Error);
  EXPECT_THROW(generate_with_engine(m, {{1, 999999}}, p, EnginePrecision::f32), srl::Error);
  EXPECT_THROW(generate_with_engine(m, {std::vector<int64_t>(96, 1)}, p, EnginePrecision::f32), srl::Error);
}

// The compact bf16 form (kernels_raw.hpp): decoded by the format's description, independently of the
// AVX-512 kernel, it gives every packed word back, escaped pair rows included; and products of 1-2 rows
// that read it are bit-identical to the raw panels' products.
TEST(CompactWeights, DecodesToThePackedWordsAndGivesTheRawProducts) {
  torch::manual_seed(5);
  const int64_t out = 100, in = 71;  // a partial panel and an odd input: padding in both directions
  auto W = torch::randn({out, in}) * 0.02;
  // Values outside any window of 16 exponents: zeros, tiny, huge, negative zero, a subnormal.
  W[3][7] = 0.0f;
  W[50][70] = -0.0f;
  W[64][0] = 1e-30f;
  W[99][33] = 300.0f;
  W[10][11] = 1e-39f;
  auto packed = kern::pack(W.data_ptr<float>(), out, in, kern::WType::bf16);
  auto c = kern::compact_form(packed, 1.0);
  ASSERT_NE(c, nullptr);
  EXPECT_GE(c->escaped_rows, 4);  // at least one pair row per planted value except those sharing a row
  EXPECT_LT(c->escaped_rows, c->rows / 4);
  const int64_t pairs = packed.in_padded / 2, words = (pairs + 63) / 64;
  const kern::CompactView& v = c->view;
  for (int64_t p = 0; p < packed.panels; ++p) {
    const auto* panel = reinterpret_cast<const uint32_t*>(packed.data.get() + p * packed.panel_bytes());
    const uint32_t* raw = v.raw + v.raw_start[p] * kern::kPanel;
    for (int64_t ip = 0; ip < pairs; ++ip) {
      const uint32_t* want = panel + ip * kern::kPanel;
      if ((v.escapes[p * words + ip / 64] >> (ip % 64)) & 1) {
        for (int64_t o = 0; o < kern::kPanel; ++o) ASSERT_EQ(raw[o], want[o]);
        raw += kern::kPanel;
        continue;
      }
      const int64_t row = p * pairs + ip;
      for (int64_t g = 0; g < 2; ++g)
        for (int64_t q = 0; q < 64; ++q) {
          const int64_t value = g * 64 + kern::compact_source(q), lane = value / 2;
          if (lane >= out - p * kern::kPanel || 2 * ip + value % 2 >= in) continue;  // padding: never used
          const uint8_t code = (v.codes[row * 64 + q] >> (4 * g)) & 0xf;
          const auto bits = static_cast<uint16_t>(v.tables[p * 16 + code] << 8 | v.low[row * 128 + g * 64 + q]);
          ASSERT_EQ(bits, static_cast<uint16_t>(want[lane] >> (16 * (value % 2)))) << "panel " << p << " pair " << ip;
        }
    }
  }
  if (kern::implementation() == "portable") GTEST_SKIP() << "no AVX-512: the compact form is never read";
  ASSERT_NE(packed.compact, nullptr);
  auto raw_only = kern::pack(W.data_ptr<float>(), out, in, kern::WType::bf16);
  raw_only.compact.reset();
  auto X = torch::randn({2, in});
  std::vector<uint16_t> xb(static_cast<size_t>(2 * packed.in_padded));
  kern::to_bf16_rows(X.data_ptr<float>(), in, 2, in, packed.in_padded, xb.data());
  for (int64_t n : {1, 2})
    for (bool acc : {false, true}) {
      auto a = torch::full({n, out}, 0.5f), b = a.clone();
      kern::matmul(packed, X.data_ptr<float>(), in, xb.data(), n, a.data_ptr<float>(), out, acc, 0, packed.panels);
      kern::matmul(raw_only, X.data_ptr<float>(), in, xb.data(), n, b.data_ptr<float>(), out, acc, 0, packed.panels);
      EXPECT_TRUE(torch::equal(a, b)) << n << " rows, accumulate " << acc;
    }
  // Too many escapes: no compact form (every pair row holds a value far from the others).
  auto wide = torch::randn({64, 32}) * 0.02;
  for (int64_t i = 0; i < 32; i += 2) wide[i][i] = 1e-20f;
  auto wp = kern::pack(wide.data_ptr<float>(), 64, 32, kern::WType::bf16);
  EXPECT_EQ(kern::compact_form(wp, 0.125), nullptr);
  EXPECT_EQ(wp.compact, nullptr);
}

// pool_compact moves several matrices' compact forms into one allocation: each keeps its bytes (the
// products are unchanged) and they all hold the same storage; a matrix without a compact form is skipped.
TEST(CompactWeights, PoolKeepsEveryMatrixsProducts) {
  if (kern::implementation() == "portable") GTEST_SKIP() << "no AVX-512: no compact forms are built";
  torch::manual_seed(6);
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{100, 71}, {64, 32}, {130, 200}};
  std::vector<torch::Tensor> ws;
  std::vector<kern::PackedMatrix> ms;
  for (auto [out, in] : shapes) {
    ws.push_back(torch::randn({out, in}) * 0.02);
    ms.push_back(kern::pack(ws.back().data_ptr<float>(), out, in, kern::WType::bf16));
    ASSERT_NE(ms.back().compact, nullptr);
  }
  auto f32 = kern::pack(ws[0].data_ptr<float>(), shapes[0].first, shapes[0].second, kern::WType::f32);
  auto products = [&] {
    std::vector<torch::Tensor> ys;
    for (auto& m : ms) {
      auto X = torch::randn({3, m.in});
      std::vector<uint16_t> xb(static_cast<size_t>(3 * m.in_padded));
      kern::to_bf16_rows(X.data_ptr<float>(), m.in, 3, m.in, m.in_padded, xb.data());
      auto y = torch::zeros({3, m.out});
      kern::matmul(m, X.data_ptr<float>(), m.in, xb.data(), 3, y.data_ptr<float>(), m.out, false, 0, m.panels);
      ys.push_back(y);
    }
    return ys;
  };
  torch::manual_seed(7);
  const auto before = products();
  std::vector<kern::PackedMatrix*> ptrs = {&ms[0], &f32, &ms[1], &ms[2]};
  kern::pool_compact(ptrs);
  EXPECT_EQ(f32.compact, nullptr);
  for (auto& m : ms) {
    EXPECT_EQ(m.compact->storage, ms[0].compact->storage);
    EXPECT_EQ(m.compact->view.low, m.compact->low);
  }
  torch::manual_seed(7);
  const auto after = products();
  for (size_t i = 0; i < ms.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i])) << "matrix " << i;
}

INSTANTIATE_TEST_SUITE_P(Kernels, EngineTest, ::testing::Values(false, true), impl_name);
