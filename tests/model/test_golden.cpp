// The C++ model against an independent PyTorch implementation (tests/golden/make_golden.py, written
// separately from the C++ code): logits, per-token log-probs, and the same with a PEFT LoRA adapter.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "model/checkpoint.hpp"
#include "model/llama.hpp"
#include "model/safetensors.hpp"

using namespace srl::model;

namespace {
const std::string kDir = std::string(SRL_SOURCE_DIR) + "/tests/golden/tiny";

Llama load_golden() {
  auto cfg = LlamaConfig::load(kDir + "/config.json");
  Llama m(cfg);
  m->load_base_tensors(safetensors::load(kDir + "/model.safetensors").tensors, kDir);
  m->eval();
  return m;
}

// Compares every logit and log-prob of both reference sequences; reports the worst element.
void check_against(Llama& m, const nlohmann::json& expected, const std::string& logits_key,
                   const std::string& logprobs_key) {
  torch::NoGradGuard ng;
  for (size_t s = 0; s < expected["ids"].size(); ++s) {
    std::vector<int64_t> ids = expected["ids"][s];
    auto logits = m->full_logits(torch::tensor(ids, torch::kLong).unsqueeze(0))[0];  // (T, V)
    auto ref = torch::zeros_like(logits);
    const auto& rows = expected[logits_key][s];
    for (size_t t = 0; t < rows.size(); ++t)
      for (size_t v = 0; v < rows[t].size(); ++v) ref[t][v] = rows[t][v].get<double>();
    const double err = (logits - ref).abs().max().item<double>();
    EXPECT_LT(err, 1e-4) << logits_key << " sequence " << s << " max abs error " << err;
    auto lp = torch::log_softmax(logits, -1);
    const auto& lps = expected[logprobs_key][s];
    for (size_t t = 1; t < ids.size(); ++t)
      EXPECT_NEAR(lp[t - 1][ids[t]].item<double>(), lps[t - 1].get<double>(), 1e-4)
          << logprobs_key << " sequence " << s << " position " << t;
  }
}
}  // namespace

TEST(Golden, LogitsAndLogprobsMatchIndependentPyTorch) {
  auto expected = nlohmann::json::parse(srl::fs::read_file(kDir + "/expected.json"));
  auto m = load_golden();
  check_against(m, expected, "logits", "logprobs");
}

TEST(Golden, LoraAdapterMatchesIndependentPyTorch) {
  auto expected = nlohmann::json::parse(srl::fs::read_file(kDir + "/expected.json"));
  auto m = load_golden();
  load_adapter(m, kDir);
  check_against(m, expected, "logits_lora", "logprobs_lora");
  // Adapters off gives the base model's numbers again.
  m->set_adapters_enabled(false);
  check_against(m, expected, "logits", "logprobs");
}

TEST(Golden, KVCacheDecodeMatchesReferenceLogits) {
  auto expected = nlohmann::json::parse(srl::fs::read_file(kDir + "/expected.json"));
  auto m = load_golden();
  torch::NoGradGuard ng;
  std::vector<int64_t> ids = expected["ids"][0];
  auto cache = KVCache::allocate(m->config(), 1, static_cast<int64_t>(ids.size()), torch::kFloat, torch::kCPU);
  for (size_t t = 0; t < ids.size(); ++t) {
    auto h = m->forward(torch::tensor({ids[t]}, torch::kLong).view({1, 1}),
                        torch::tensor({static_cast<int64_t>(t)}, torch::kLong).view({1, 1}), &cache);
    auto logits = m->logits(h)[0][0];
    for (int64_t v = 0; v < logits.size(0); v += 7)
      EXPECT_NEAR(logits[v].item<double>(), expected["logits"][0][t][v].get<double>(), 1e-4) << "t=" << t;
  }
}

TEST(Presets, MatchSharedBenchPresets) {
  const std::string path = std::string(SRL_SHARED_DIR) + "/bench/presets.json";
  if (!srl::fs::exists(path)) GTEST_SKIP() << "shared/bench/presets.json not found beside the checkout";
  auto j = nlohmann::json::parse(srl::fs::read_file(path));
  for (const auto& name : LlamaConfig::preset_names()) {
    auto ours = LlamaConfig::preset(name).to_json();
    ASSERT_TRUE(j.contains(name)) << name;
    for (auto& [k, v] : j[name].items()) EXPECT_EQ(ours[k], v) << name << "." << k;
  }
}
