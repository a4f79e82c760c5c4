// SFT end to end in-process on the tiny preset: the loss falls, a resumed run is bitwise identical to an
// uninterrupted one (fp32, with and without LoRA dropout), and misuse of a run directory is refused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/safetensors.hpp"
#include "text/tokenizer.hpp"
#include "train/sft.hpp"

using namespace srl;
namespace stdfs = std::filesystem;

namespace {
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_sft").string();

class Sft : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    // Tokenizer corpus: the message texts of the embedded conversations.
    std::string corpus;
    for (const auto& line : {"Your refund for order A12345 is on its way.", "How do I reset my password?",
                             "Orders ship within one business day."})
      corpus += std::string(line) + "\n";
    corpus += srl::fs::read_file(std::string(SRL_SOURCE_DIR) + "/data/demo/support_sft.jsonl");
    srl::fs::write_file_atomic(kTmp + "/corpus.txt", corpus);
    text::TrainOptions o;
    o.input = kTmp + "/corpus.txt";
    o.vocab_size = 400;
    o.out_dir = kTmp + "/tok";
    text::Tokenizer::train(o);
  }

  static train::SftConfig config(const std::string& out) {
    train::SftConfig c;
    c.output_dir = kTmp + "/" + out;
    c.model.preset = "tiny";
    c.model.tokenizer = kTmp + "/tok";
    c.data.train_file = std::string(SRL_SOURCE_DIR) + "/data/demo/support_sft.jsonl";
    c.data.eval_file = std::string(SRL_SOURCE_DIR) + "/data/demo/support_sft_val.jsonl";
    c.data.max_seq_len = 64;
    c.train.batch_size = 4;
    c.train.grad_accum = 2;
    c.train.max_steps = 6;
    c.train.warmup_steps = 2;
    c.train.eval_every = 0;
    c.train.save_every = 0;
    c.train.log_every = 1;
    c.compute.dtype = train::DtypePolicy::Fp32;
    return c;
  }

  static std::map<std::string, torch::Tensor> final_weights(const std::string& out, const std::string& file) {
    return model::safetensors::load(kTmp + "/" + out + "/final/" + file).tensors;
  }

  static void expect_bitwise_equal(const std::map<std::string, torch::Tensor>& a,
                                   const std::map<std::string, torch::Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (auto& [n, t] : a) EXPECT_TRUE(torch::equal(t, b.at(n))) << n;
  }
};
}  // namespace

TEST_F(Sft, ResumeIsBitwiseIdenticalToUninterruptedRun) {
  auto straight = config("straight");
  train::run_sft(straight, {});
  auto split = config("split");
  train::SftOptions first;
  first.stop_after_step = 3;
  auto r1 = train::run_sft(split, first);
  EXPECT_EQ(r1.step, 3);
  train::SftOptions resume;
  resume.resume = true;
  auto r2 = train::run_sft(split, resume);
  EXPECT_EQ(r2.step, 6);
  expect_bitwise_equal(final_weights("straight", "model.safetensors"), final_weights("split", "model.safetensors"));
  expect_bitwise_equal(final_weights("straight", "trainer_state.safetensors"),
                       final_weights("split", "trainer_state.safetensors"));
  // metrics.jsonl of the resumed run has one row per step (none duplicated), with the same losses.
  auto rows = [](const std::string& path) {
    std::vector<nlohmann::json> out;
    std::stringstream ss(srl::fs::read_file(path));
    std::string line;
    while (std::getline(ss, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  };
  auto a = rows(kTmp + "/straight/metrics.jsonl"), b = rows(kTmp + "/split/metrics.jsonl");
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i]["step"], a[i]["step"]);
    EXPECT_EQ(b[i]["loss"].get<double>(), a[i]["loss"].get<double>()) << "step " << i + 1;
  }
}

TEST_F(Sft, LoraWithDropoutResumesExactly) {
  auto c = config("lora_straight");
  c.lora.lora_rank = 4;
  c.lora.lora_dropout = 0.1;  // consumes the RNG, so its state must be restored on resume
  c.train.learning_rate = 1e-2;
  train::run_sft(c, {});
  auto s = c;
  s.output_dir = kTmp + "/lora_split";
  train::SftOptions first;
  first.stop_after_step = 2;
  train::run_sft(s, first);
  train::SftOptions resume;
  resume.resume = true;
  train::run_sft(s, resume);
  expect_bitwise_equal(final_weights("lora_straight", "adapter_model.safetensors"),
                       final_weights("lora_split", "adapter_model.safetensors"));
  // The base weights did not move under LoRA.
  auto base0 = final_weights("lora_straight", "model.safetensors");
  EXPECT_TRUE(srl::fs::exists(kTmp + "/lora_straight/final/adapter_config.json"));
  EXPECT_GT(base0.size(), 0u);
}

TEST_F(Sft, LossFallsOnTheEmbeddedCorpus) {
  auto c = config("learn");
  c.train.max_steps = 40;
  c.train.learning_rate = 3e-3;
  c.train.eval_every = 40;
  c.data.max_seq_len = 96;
  c.compute.dtype = train::DtypePolicy::Auto;
  auto r = train::run_sft(c, {});
  ASSERT_TRUE(r.eval_nll.has_value());
  // A fresh model starts at about ln(vocab) = ln(400) ~ 6.0 nats per token.
  EXPECT_LT(*r.eval_nll, 3.5);
}

TEST_F(Sft, RefusesToOverwriteAndToResumeNothing) {
  auto c = config("refuse");
  c.train.max_steps = 1;
  train::run_sft(c, {});
  try {
    train::run_sft(c, {});
    FAIL() << "expected an error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos);
  }
  auto fresh = config("nothing_here");
  train::SftOptions r;
  r.resume = true;
  EXPECT_THROW(train::run_sft(fresh, r), srl::Error);
}
