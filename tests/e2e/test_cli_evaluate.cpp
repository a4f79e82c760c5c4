// `supportrl evaluate` as a user meets it: a tiny policy answers a slice of the eval prompts; evaluated
// against its own earlier evaluation every comparison is an exact tie (win rate 0.5 with a zero-width
// interval, the replies reused, not regenerated); an external rubric adds its scores and a crashing one is
// reported while the run goes on; a baseline evaluation of other prompts and a bad config key are one
// `error:` line with exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.hpp"

namespace stdfs = std::filesystem;

namespace {
const std::string kSrc = SRL_SOURCE_DIR;
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_cli_evaluate").string();

srl_test::CliResult run(const std::string& args) { return srl_test::run_cli(args); }

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

void expect_bad_input(const srl_test::CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  auto last = r.err.substr(r.err.rfind("error:") == std::string::npos ? 0 : r.err.rfind("error:"));
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << "expected one line: " << last;
  EXPECT_NE(last.find(needle), std::string::npos) << "expected '" << needle << "' in: " << last;
}

// 14 prompts of the default eval file: both safe and adversarial ones.
std::string config(const std::string& evaluators) {
  const std::string path = kTmp + "/eval.yaml";
  std::ofstream(path) << "evaluate:\n  input: " << kSrc << "/data/support_eval_prompts.jsonl\n  max_prompts: 14\n"
                      << "  batch_size: 5\n  sampling:\n    max_new_tokens: 12\n  reward_model: \"\"\n"
                      << "  bootstrap_resamples: 200\n  latency_prompts: 3\n  kl_prompts: 0\n"
                      << "  evaluators: " << evaluators << "\ncompute:\n  dtype: fp32\n  threads: 1\n";
  return path;
}

class CliEvaluate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    stdfs::create_directories(kTmp);
    auto t =
        run("tokenizer train --input " + kSrc + "/data/demo/support_sft.jsonl --vocab-size 512 --out " + kTmp + "/tok");
    ASSERT_EQ(t.code, 0) << t.err;
    auto i = run("init --preset tiny --tokenizer " + kTmp + "/tok --out " + kTmp + "/policy --seed 1");
    ASSERT_EQ(i.code, 0) << i.err;
  }
};
}  // namespace

TEST_F(CliEvaluate, BaselineSelfComparisonExternalRubricAndErrors) {
  const std::string fx = kSrc + "/tests/eval/fixtures/";
  const std::string cfg = config("[support_helpfulness, safety_guardrails, panel, \"len=/usr/bin/python3 " + fx +
                                 "length_scorer.py\", \"crash=/usr/bin/python3 " + fx + "crash_after_first.py exit\"]");
  auto a = run("evaluate --config " + cfg + " --policy " + kTmp + "/policy --out " + kTmp + "/base");
  ASSERT_EQ(a.code, 0) << a.err;
  auto ev = nlohmann::json::parse(read(kTmp + "/base/eval.json"));
  EXPECT_EQ(ev["prompts"], 14);
  EXPECT_EQ(ev["safe_prompts"].get<int>() + ev["adversarial_prompts"].get<int>(), 14);
  EXPECT_GT(ev["adversarial_prompts"].get<int>(), 0);
  EXPECT_TRUE(ev["win_rate_vs_baseline"].is_null());
  EXPECT_TRUE(ev["kl_to_reference"].is_null());
  EXPECT_LE(ev["latency_ms"]["p50"].get<double>(), ev["latency_ms"]["p95"].get<double>());
  EXPECT_EQ(ev["latency_ms"]["prompts"], 3);
  EXPECT_TRUE(ev["evaluators"].contains("support_helpfulness/helpfulness")) << ev["evaluators"].dump();
  EXPECT_TRUE(ev["evaluators"].contains("panel/score"));
  EXPECT_TRUE(ev["evaluators"].contains("len/bytes"));
  ASSERT_EQ(ev["evaluators_failed"].size(), 1u) << ev.dump();
  EXPECT_EQ(ev["evaluators_failed"][0].get<std::string>().rfind("crash", 0), 0u);
  auto base = json_lines(read(kTmp + "/base/transcripts.jsonl"));
  ASSERT_EQ(base.size(), 14u);
  // The external rubric saw exactly the reply the transcript holds.
  EXPECT_EQ(base[3]["evaluators"]["len"]["scores"]["bytes"].get<double>(), base[3]["response"].get<std::string>().size());

  // Against its own evaluation: the same greedy replies, every panel comparison a tie.
  auto b = run("evaluate --config " + config("[safety_guardrails]") + " --policy " + kTmp + "/policy --baseline " +
               kTmp + "/base --out " + kTmp + "/self");
  ASSERT_EQ(b.code, 0) << b.err;
  auto self = nlohmann::json::parse(read(kTmp + "/self/eval.json"));
  const auto wr = self["win_rate_vs_baseline"]["panel"];
  EXPECT_DOUBLE_EQ(wr["estimate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(wr["ci95"][0].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(wr["ci95"][1].get<double>(), 0.5);
  EXPECT_NEAR(self["lc_win_rate"]["panel"].get<double>(), 0.5, 1e-9);
  for (const auto& t : json_lines(read(kTmp + "/self/transcripts.jsonl"))) {
    EXPECT_EQ(t["response"], t["baseline_response"]);
    EXPECT_DOUBLE_EQ(t["panel_prob"].get<double>(), 0.5);
  }

  // A baseline evaluation of other prompts is refused, not silently misaligned.
  expect_bad_input(run("evaluate --config " + cfg + " --policy " + kTmp + "/policy --baseline " + kTmp +
                       "/base --out " + kTmp + "/other --set evaluate.max_prompts=10"),
                   "replies_key");
  expect_bad_input(run("evaluate --config " + cfg + " --policy " + kTmp + "/policy --set evaluate.batchsize=3"),
                   "batchsize");
  expect_bad_input(run("evaluate --config " + config("[no_such_rubric]") + " --policy " + kTmp + "/policy --out " + kTmp + "/x"),
                   "no_such_rubric");
}
