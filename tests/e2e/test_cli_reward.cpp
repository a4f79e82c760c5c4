// `supportrl train-reward-model` and `supportrl score` as a user meets them: a tiny run (interrupted and
// resumed) writes eval.json with the panel's label ceiling and reliability.svg, `score` adds rewards to
// pair and single-response lines, and bad input (a malformed pair, a missing SFT run, a policy given as a
// reward model, a malformed score line) is one `error:` line with exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.hpp"

namespace stdfs = std::filesystem;

namespace {
const std::string kSrc = SRL_SOURCE_DIR;
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_cli_reward").string();

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

std::string head_lines(const std::string& path, int n) {
  std::ifstream in(path);
  std::string line, out;
  for (int i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Exit 2 and the last stderr line is one `error: ...` line mentioning `needle`.
void expect_bad_input(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  auto last = r.err.substr(r.err.rfind("error:") == std::string::npos ? 0 : r.err.rfind("error:"));
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << "expected one line: " << last;
  EXPECT_NE(last.find(needle), std::string::npos) << "expected '" << needle << "' in: " << last;
  EXPECT_EQ(r.err.find("frame #"), std::string::npos) << "libtorch backtrace leaked: " << r.err;
}

// A config for a few-step run on slices of the default data, starting from a fresh tiny "SFT" model.
std::string config(const std::string& name, const std::string& init) {
  const std::string path = kTmp + "/" + name + ".yaml";
  write(
      path,
      "reward_model:\n  output_dir: " + kTmp + "/" + name + "\n  model:\n    init: " + init +
          "\n  data:\n    train_file: " + kTmp + "/train.jsonl\n    eval_file: " + kTmp +
          "/eval.jsonl\n    max_prompt_len: 48\n    max_seq_len: 128\n  train:\n    max_steps: 4\n"
          "    batch_size: 4\n    warmup_steps: 1\n    eval_every: 0\n    save_every: 0\n    log_every: 1\n"
          "    stats_pairs: 8\n  lora:\n    lora_rank: 4\n    lora_alpha: 8\ncompute:\n  dtype: fp32\n  threads: 1\n");
  return path;
}

class CliReward : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    stdfs::create_directories(kTmp);
    auto t =
        run("tokenizer train --input " + kSrc + "/data/demo/support_sft.jsonl --vocab-size 512 --out " + kTmp + "/tok");
    ASSERT_EQ(t.code, 0) << t.err;
    auto i = run("init --preset tiny --tokenizer " + kTmp + "/tok --out " + kTmp + "/policy --seed 1");
    ASSERT_EQ(i.code, 0) << i.err;
    write(kTmp + "/train.jsonl", head_lines(kSrc + "/data/support_preference_train.jsonl", 32));
    write(kTmp + "/eval.jsonl", head_lines(kSrc + "/data/support_preference_val.jsonl", 16));
  }
};
}  // namespace

TEST_F(CliReward, TrainInterruptResumeAndScore) {
  const std::string cfg = config("rm", kTmp + "/policy");
  auto pc = run("train-reward-model --config " + cfg + " --print-config");
  ASSERT_EQ(pc.code, 0) << pc.err;
  EXPECT_NE(pc.out.find("center_rewards_coefficient"), std::string::npos);
  auto a = run("train-reward-model --config " + cfg + " --stop-after-step 2");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_TRUE(stdfs::exists(kTmp + "/rm/checkpoints/step_000002/value_head.safetensors"));
  expect_bad_input(run("train-reward-model --config " + cfg), "--resume");
  auto b = run("train-reward-model --config " + cfg + " --resume");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.out.find("eval_accuracy"), std::string::npos) << b.out;

  auto e = nlohmann::json::parse(read(kTmp + "/rm/eval.json"));
  EXPECT_EQ(e["step"], 4);
  EXPECT_EQ(e["pairs"], 16);
  EXPECT_TRUE(e["accuracy"].is_number());
  EXPECT_TRUE(e["ece"].is_number());
  EXPECT_EQ(e["reliability"].size(), 10u);
  // The slice keeps the generator's ids and texts, so the panel's ceiling is known.
  EXPECT_EQ(e["label_ceiling"]["source"], "annotator_panel") << e["label_ceiling"].dump();
  EXPECT_TRUE(e["label_ceiling"]["agreement"].is_number());
  const auto svg = read(kTmp + "/rm/reliability.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);

  // Pairs in, rewards out (stdout), the input keys kept.
  auto s = run("score --model " + kTmp + "/rm --input " + kTmp + "/eval.jsonl --batch 4 --threads 1");
  ASSERT_EQ(s.code, 0) << s.err;
  auto lines = json_lines(s.out);
  ASSERT_EQ(lines.size(), 16u);
  for (const auto& j : lines) {
    ASSERT_TRUE(j["reward_a"].is_number()) << j.dump();
    ASSERT_TRUE(j["reward_b"].is_number());
    const double p = j["prob_a"].get<double>();
    EXPECT_NEAR(p, 1 / (1 + std::exp(-(j["reward_a"].get<double>() - j["reward_b"].get<double>()))), 1e-9);
    EXPECT_TRUE(j.contains("winner"));
  }
  // Single responses, to a file; the same text gets the same reward as in its pair.
  const auto first = lines.front();
  write(kTmp + "/singles.jsonl",
        nlohmann::json{{"prompt", first["prompt"]}, {"response", first["response_a"]}}.dump() + "\n" +
            nlohmann::json{{"messages", {{{"role", "user"}, {"content", "Where is my order?"}}}},
                           {"response", "On its way."}}
                .dump() +
            "\n");
  auto o = run("score --model " + kTmp + "/rm --input " + kTmp + "/singles.jsonl --output " + kTmp + "/scored.jsonl");
  ASSERT_EQ(o.code, 0) << o.err;
  auto singles = json_lines(read(kTmp + "/scored.jsonl"));
  ASSERT_EQ(singles.size(), 2u);
  EXPECT_NEAR(singles[0]["reward"].get<double>(), first["reward_a"].get<double>(), 1e-4);
  EXPECT_TRUE(singles[1]["reward"].is_number());

  // A malformed score line names FILE:LINE.
  write(kTmp + "/bad_score.jsonl", "{\"prompt\": \"hi\", \"response\": \"yo\"}\n{\"prompt\": \"hi\"}\n");
  expect_bad_input(run("score --model " + kTmp + "/rm --input " + kTmp + "/bad_score.jsonl"), "bad_score.jsonl:2");
}

TEST_F(CliReward, BadInputsAreOneLineExit2) {
  // A malformed training pair: FILE:LINE.
  write(kTmp + "/bad_pairs.jsonl", head_lines(kTmp + "/train.jsonl", 2) + "{\"prompt\": \"hi\", \"response_a\": 1}\n");
  const std::string cfg = config("bad", kTmp + "/policy");
  expect_bad_input(run("train-reward-model --config " + cfg + " --train-file " + kTmp + "/bad_pairs.jsonl"),
                   "bad_pairs.jsonl:3");
  // No SFT run where model.init points.
  expect_bad_input(run("train-reward-model --config " + config("noinit", kTmp + "/no_sft_run")), "no_sft_run");
  // A policy is not a reward model.
  expect_bad_input(run("score --model " + kTmp + "/policy --input " + kTmp + "/eval.jsonl"), "not a reward model");
  // An unknown key in the file.
  write(kTmp + "/typo.yaml", "reward_model:\n  train:\n    max_stepz: 3\n");
  expect_bad_input(run("train-reward-model --config " + kTmp + "/typo.yaml"), "reward_model.train.max_stepz");
}
