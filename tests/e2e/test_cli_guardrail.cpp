// The guardrail as a user meets it: `train-guardrail` on a small config, `classify` of a few messages and
// of the hand-written set (classifier beside the keyword rules), `evaluate` of a tiny policy on hand-written
// tickets with the guardrail on (eval.json's handling and guardrail blocks, the routed replies in the
// transcripts), and one `error:` line for a path that is not a guardrail run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.hpp"

namespace stdfs = std::filesystem;

namespace {
const std::string kSrc = SRL_SOURCE_DIR;
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_cli_guardrail").string();

srl_test::CliResult run(const std::string& args) { return srl_test::run_cli(args); }

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class CliGuardrail : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    stdfs::create_directories(kTmp);
    std::ofstream(kTmp + "/g.yaml") << "output_dir: " << kTmp << "/guardrail\ndata:\n  train_tickets: 2000\n"
                                    << "  val_tickets: 400\nclassifier:\n  buckets: 16384\n  dim: 16\n  hidden: 16\n"
                                    << "train:\n  max_steps: 150\n  batch_size: 32\n  eval_every: 0\n"
                                    << "compute:\n  threads: 1\n";
    auto g = run("train-guardrail --config " + kTmp + "/g.yaml");
    ASSERT_EQ(g.code, 0) << g.err;
  }
};
}  // namespace

TEST_F(CliGuardrail, ClassifyMessagesAndTheHandWrittenSet) {
  auto c = run("classify --guardrail " + kTmp + "/guardrail \"where is my order A12345\" \"i want to end my life\"");
  ASSERT_EQ(c.code, 0) << c.err;
  std::stringstream ss(c.out);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(ss, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["text"], "where is my order A12345");
  EXPECT_TRUE(rows[0]["keyword"].contains("risk"));
  EXPECT_GE(rows[1]["p_risk"].get<double>(), 0.0);
  EXPECT_LE(rows[1]["p_risk"].get<double>(), 1.0);

  auto e = run("classify --guardrail " + kTmp + "/guardrail --eval " + kSrc + "/data/eval_ood --out " + kTmp + "/ood.json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("unsafe recall"), std::string::npos);
  auto j = nlohmann::json::parse(read(kTmp + "/ood.json"));
  EXPECT_GE(j["classifier"]["tickets"].get<int>(), 300);
  EXPECT_EQ(j["classifier"]["risks"].size(), 8u);
  EXPECT_EQ(j["keyword"]["tickets"], j["classifier"]["tickets"]);

  auto bad = run("classify --guardrail " + kTmp + " hello");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("not a guardrail run"), std::string::npos) << bad.err;
}

TEST_F(CliGuardrail, EvaluateOnLabelledTicketsWithTheGuardrail) {
  ASSERT_EQ(run("tokenizer train --input " + kSrc + "/data/demo/support_sft.jsonl --vocab-size 512 --out " + kTmp + "/tok").code, 0);
  ASSERT_EQ(run("init --preset tiny --tokenizer " + kTmp + "/tok --out " + kTmp + "/policy --seed 1").code, 0);
  std::ofstream(kTmp + "/e.yaml") << "evaluate:\n  input: " << kSrc << "/data/eval_ood/safety.jsonl\n  max_prompts: 12\n"
                                  << "  batch_size: 6\n  sampling:\n    max_new_tokens: 8\n  reward_model: \"\"\n"
                                  << "  bootstrap_resamples: 200\n  latency_prompts: 0\n  kl_prompts: 0\n"
                                  << "  guardrail: " << kTmp << "/guardrail\ncompute:\n  dtype: fp32\n  threads: 1\n";
  auto r = run("evaluate --config " + kTmp + "/e.yaml --policy " + kTmp + "/policy --out " + kTmp + "/eval");
  ASSERT_EQ(r.code, 0) << r.err;
  auto ev = nlohmann::json::parse(read(kTmp + "/eval/eval.json"));
  ASSERT_TRUE(ev["handling"].is_object());
  EXPECT_EQ(ev["handling"]["tickets"], 12);
  ASSERT_TRUE(ev["guardrail"].is_object());
  EXPECT_TRUE(ev["guardrail"]["handling"].is_object());
  const int routed = ev["guardrail"]["routed"].get<int>();
  int seen = 0;
  std::stringstream ss(read(kTmp + "/eval/transcripts.jsonl"));
  std::string line;
  while (std::getline(ss, line)) {
    auto t = nlohmann::json::parse(line);
    ASSERT_TRUE(t.contains("guarded_response"));
    if (!t["guardrail_route"].get<std::string>().empty()) {
      ++seen;
      EXPECT_NE(t["guarded_response"], t["response"]);
    } else {
      EXPECT_EQ(t["guarded_response"], t["response"]);
    }
  }
  EXPECT_EQ(seen, routed);
  EXPECT_EQ(ev["adversarial_prompts"].get<int>() + ev["safe_prompts"].get<int>(), 12);
}
