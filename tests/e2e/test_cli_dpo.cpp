// `supportrl dpo` as a user meets it: a few-step run writes metrics.jsonl with the TRL names, eval.json
// and a summary line; a malformed data file, a missing SFT checkpoint and an impossible loss/cache
// combination each give exit code 2 and one line naming what and where.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.hpp"

namespace stdfs = std::filesystem;

namespace {
const std::string kSrc = SRL_SOURCE_DIR;
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_cli_dpo").string();

using Result = srl_test::CliResult;

Result run(const std::string& args) { return srl_test::run_cli(args); }

void write(const std::string& path, const std::string& text) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Bad input: exit 2, and the last stderr line is one `error: ...` line mentioning `needle`.
void expect_bad_input(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  auto last = r.err.substr(r.err.rfind("error:") == std::string::npos ? 0 : r.err.rfind("error:"));
  EXPECT_NE(last.find("error:"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << "expected one line: " << last;
  EXPECT_NE(last.find(needle), std::string::npos) << "expected '" << needle << "' in: " << last;
  EXPECT_EQ(r.err.find("frame #"), std::string::npos) << "libtorch backtrace leaked: " << r.err;
}

std::string pair_line(int i, const std::string& winner) {
  const std::string s = "Sure, I can help with order A" + std::to_string(1000 + i) + ".";
  nlohmann::json j = {{"prompt", "Where is order A" + std::to_string(1000 + i) + "?"},
                      {"response_a", s},
                      {"response_b", s + " We also sell tents."},
                      {"winner", winner},
                      {"tags", {{"intent", "track_order"}, {"difficulty", "easy"}, {"segment", "smb"}}}};
  return j.dump() + "\n";
}

class CliDpo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    stdfs::create_directories(kTmp);
    auto t = run("tokenizer train --input " + kSrc + "/data/demo/support_sft.jsonl --vocab-size 400 --out " + kTmp + "/tok");
    ASSERT_EQ(t.code, 0) << t.err;
    auto i = run("init --preset tiny --tokenizer " + kTmp + "/tok --out " + kTmp + "/sft --seed 1");
    ASSERT_EQ(i.code, 0) << i.err;
    std::string train, val;
    for (int k = 0; k < 12; ++k) train += pair_line(k, k == 3 ? "tie" : (k % 2 ? "a" : "b"));
    for (int k = 20; k < 24; ++k) val += pair_line(k, "a");
    write(kTmp + "/train.jsonl", train);
    write(kTmp + "/val.jsonl", val);
    write(kTmp + "/bad.jsonl", pair_line(0, "a") + "{\"prompt\": \"x\", \"response_a\": \n" + pair_line(1, "b"));
    write(kTmp + "/dpo.yaml", "output_dir: " + kTmp + "/dpo\nmodel:\n  init: " + kTmp + "/sft\ndata:\n  train_file: " +
                                  kTmp + "/train.jsonl\n  eval_file: " + kTmp + "/val.jsonl\n  max_prompt_len: 32\n"
                                  "  max_seq_len: 64\ntrain:\n  max_steps: 3\n  batch_size: 4\n  warmup_steps: 0\n"
                                  "  eval_every: 0\n  log_every: 1\n  kl_samples: 2\n  max_new_tokens: 4\nlora:\n"
                                  "  lora_rank: 4\ncompute:\n  dtype: fp32\n  threads: 1\n");
  }
};
}  // namespace

TEST_F(CliDpo, FewStepRunWritesTrlMetricsEvalJsonAndSummary) {
  auto r = run("dpo --config " + kTmp + "/dpo.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("dpo: step 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eval/rewards/accuracies"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ties skipped 1 (train)"), std::string::npos) << r.out;
  std::stringstream ss(read(kTmp + "/dpo/metrics.jsonl"));
  std::string line, last;
  int n = 0;
  while (std::getline(ss, line)) last = line, ++n;
  EXPECT_EQ(n, 3);
  auto row = nlohmann::json::parse(last);
  EXPECT_EQ(row["stage"], "dpo");
  for (auto k : {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                 "logps/chosen", "logps/rejected", "lr", "grad_norm", "tokens_per_s", "eval/loss",
                 "eval/rewards/accuracies", "kl_to_reference"})
    EXPECT_TRUE(row.contains(k)) << k << " missing in " << last;
  auto ej = nlohmann::json::parse(read(kTmp + "/dpo/eval.json"));
  EXPECT_EQ(ej["ties_skipped"]["train"], 1);
  EXPECT_TRUE(ej["metrics"].contains("eval/rewards/margins"));
  EXPECT_TRUE(stdfs::exists(kTmp + "/dpo/final/adapter_model.safetensors"));
  EXPECT_TRUE(stdfs::exists(kTmp + "/dpo/reference_logps/train.safetensors"));
  EXPECT_NE(read(kTmp + "/dpo/config.yaml").find("loss_type: sigmoid"), std::string::npos);
  // The result is a model the other commands load.
  auto g = run("generate --model " + kTmp + "/dpo --prompt 'Where is order A1?' --max-new-tokens 4");
  EXPECT_EQ(g.code, 0) << g.err;
}

TEST_F(CliDpo, BadInputsAreOneLineExit2) {
  const std::string cfg = "dpo --config " + kTmp + "/dpo.yaml --set output_dir=" + kTmp + "/bad_run ";
  expect_bad_input(run(cfg + "--set data.train_file=" + kTmp + "/bad.jsonl"), "bad.jsonl:2");
  expect_bad_input(run(cfg + "--set model.init=" + kTmp + "/no_sft_here"), "no_sft_here");
  expect_bad_input(run(cfg + "--set dpo.loss_type=simpo"), "dpo.reference_cache");
  expect_bad_input(run(cfg + "--set lora.lora_rank=0"), "lora.lora_rank");
  expect_bad_input(run(cfg + "--set dpo.loss_type=nope"), "dpo.loss_type");
  expect_bad_input(run(cfg + "--set data.ties=error"), "train.jsonl:4");
}

TEST_F(CliDpo, PrintConfigShowsEveryDefault) {
  auto r = run("dpo --config " + kTmp + "/dpo.yaml --print-config");
  ASSERT_EQ(r.code, 0) << r.err;
  for (auto k : {"reference_cache:", "kl_samples:", "ties:", "beta:", "lora_rank: 4"})
    EXPECT_NE(r.out.find(k), std::string::npos) << k;
  EXPECT_EQ(run("dpo --help").code, 0);
  // The shipped config parses and resolves.
  auto shipped = run("dpo --config " + kSrc + "/configs/dpo.yaml --print-config");
  ASSERT_EQ(shipped.code, 0) << shipped.err;
  EXPECT_NE(shipped.out.find("support_preference_train.jsonl"), std::string::npos);
}
