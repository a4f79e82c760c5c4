// The supportrl binary as a user meets it: the model commands work end to end, and every kind of bad
// input gives exit code 2 with one line on stderr naming what and where (never a crash or a backtrace).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace stdfs = std::filesystem;

namespace {
const std::string kBin = SRL_BINARY;
const std::string kSrc = SRL_SOURCE_DIR;
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_cli").string();

using Result = srl_test::CliResult;

Result run(const std::string& args, const std::string& stdin_text = "") { return srl_test::run_cli(args, stdin_text); }

void write(const std::string& path, const std::string& text) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
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

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    stdfs::create_directories(kTmp);
    auto t = run("tokenizer train --input " + kSrc + "/data/demo/support_sft.jsonl --vocab-size 512 --out " + kTmp + "/tok");
    ASSERT_EQ(t.code, 0) << t.err;
    auto i = run("init --preset tiny --tokenizer " + kTmp + "/tok --out " + kTmp + "/model --seed 1");
    ASSERT_EQ(i.code, 0) << i.err;
  }
};
}  // namespace

TEST_F(Cli, VersionAndHelp) {
  auto v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("supportrl"), std::string::npos);
  for (auto sub : {"sft", "generate", "chat", "init", "logprobs", "bench", "tokenizer"}) {
    auto h = run(std::string(sub) + " --help");
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_NE(h.out.find("--"), std::string::npos) << sub;
  }
  EXPECT_EQ(run("no-such-command").code, 2);
}

TEST_F(Cli, LogprobsOfIdsAreNormalisedAndStartWithNull) {
  auto r = run("logprobs --model " + kTmp + "/model --ids 1,10,20,30");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["ids"].size(), 4u);
  EXPECT_TRUE(j["logprobs"][0].is_null());
  for (int i = 1; i < 4; ++i) {
    EXPECT_LT(j["logprobs"][i].get<double>(), 0.0);
    EXPECT_GT(j["logprobs"][i].get<double>(), -20.0);
  }
  // --text prepends BOS and uses the tokenizer.
  auto t = run("logprobs --model " + kTmp + "/model --text 'refund please'");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(nlohmann::json::parse(t.out)["ids"][0], 1);
}

TEST_F(Cli, GenerateAndChatRun) {
  auto g = run("generate --model " + kTmp + "/model --prompt 'Where is my order?' --n 2 --max-new-tokens 8 --json");
  ASSERT_EQ(g.code, 0) << g.err;
  std::stringstream ss(g.out);
  std::string line;
  int n = 0;
  while (std::getline(ss, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["tokens"].size(), j["logprobs"].size());
    EXPECT_LE(j["tokens"].size(), 8u);
    ++n;
  }
  EXPECT_EQ(n, 2);
  auto c = run("chat --model " + kTmp + "/model --max-new-tokens 4", "hello\n/quit\n");
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("assistant>"), std::string::npos);
}

TEST_F(Cli, SftInterruptedAndResumedFromTheCommandLine) {
  const std::string cfg = kTmp + "/sft.yaml";
  write(cfg, "output_dir: " + kTmp + "/sft\nmodel:\n  tokenizer: " + kTmp + "/tok\n  preset: tiny\ndata:\n  train_file: " +
                 kSrc + "/data/demo/support_sft.jsonl\n  max_seq_len: 48\ntrain:\n  max_steps: 4\n  batch_size: 2\n"
                 "  warmup_steps: 1\ncompute:\n  dtype: fp32\n");
  auto a = run("sft --config " + cfg + " --stop-after-step 2");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_TRUE(stdfs::exists(kTmp + "/sft/checkpoints/step_000002/COMPLETE"));
  EXPECT_TRUE(stdfs::exists(kTmp + "/sft/config.yaml"));
  auto again = run("sft --config " + cfg);
  expect_bad_input(again, "--resume");
  auto b = run("sft --config " + cfg + " --resume");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(stdfs::exists(kTmp + "/sft/final/model.safetensors"));
  EXPECT_NE(stdfs::read_symlink(kTmp + "/sft/final").string().find("step_000004"), std::string::npos);
}

TEST_F(Cli, BadConfigsAreOneLineExit2) {
  expect_bad_input(run("sft --config " + kTmp + "/missing.yaml"), "missing.yaml");
  write(kTmp + "/broken.yaml", "train:\n  max_steps: [1, 2\n");
  expect_bad_input(run("sft --config " + kTmp + "/broken.yaml"), "broken.yaml:");
  write(kTmp + "/unknown.yaml", "data:\n  train_file: x.jsonl\ntrain:\n  max_stepz: 3\n");
  expect_bad_input(run("sft --config " + kTmp + "/unknown.yaml"), "train.max_stepz");
  write(kTmp + "/type.yaml", "data:\n  train_file: x.jsonl\ntrain:\n  max_steps: lots\n");
  expect_bad_input(run("sft --config " + kTmp + "/type.yaml"), "train.max_steps");
  write(kTmp + "/required.yaml", "train:\n  max_steps: 3\n");
  expect_bad_input(run("sft --config " + kTmp + "/required.yaml"), "data.train_file");
  write(kTmp + "/ok.yaml", "data:\n  train_file: x.jsonl\n");
  expect_bad_input(run("sft --config " + kTmp + "/ok.yaml --set train.nope=1"), "train.nope");
  expect_bad_input(run("sft --config " + kTmp + "/ok.yaml --set justtext"), "--set");
  // A valid config whose data file does not exist names the data file.
  write(kTmp + "/nodata.yaml", "output_dir: " + kTmp + "/nodata\nmodel:\n  tokenizer: " + kTmp +
                                   "/tok\ndata:\n  train_file: " + kTmp + "/absent.jsonl\n");
  expect_bad_input(run("sft --config " + kTmp + "/nodata.yaml"), "absent.jsonl");
  write(kTmp + "/bad.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n{not json\n");
  write(kTmp + "/baddata.yaml", "output_dir: " + kTmp + "/baddata\nmodel:\n  tokenizer: " + kTmp +
                                    "/tok\ndata:\n  train_file: " + kTmp + "/bad.jsonl\n");
  expect_bad_input(run("sft --config " + kTmp + "/baddata.yaml"), "bad.jsonl:2");
}

TEST_F(Cli, BadModelInputsAreOneLineExit2) {
  expect_bad_input(run("generate --model " + kTmp + "/nowhere --prompt hi"), "nowhere");
  expect_bad_input(run("logprobs --model " + kTmp + "/model --ids 1,99999"), "99999");
  expect_bad_input(run("logprobs --model " + kTmp + "/model --ids 1,x"), "--ids");
  // tiny has a 512-token context: a longer prompt is refused before any work.
  std::string longp;
  for (int i = 0; i < 700; ++i) longp += "refund ";
  expect_bad_input(run("generate --model " + kTmp + "/model --prompt '" + longp + "'"), "context");
  // A corrupt checkpoint: truncated weights, then garbage config.
  stdfs::copy(kTmp + "/model", kTmp + "/corrupt", stdfs::copy_options::recursive | stdfs::copy_options::copy_symlinks);
  const std::string st = kTmp + "/corrupt/checkpoints/step_000000/model.safetensors";
  ASSERT_TRUE(stdfs::is_symlink(kTmp + "/corrupt/final"));
  stdfs::resize_file(st, stdfs::file_size(st) / 2);
  expect_bad_input(run("generate --model " + kTmp + "/corrupt --prompt hi"), "model.safetensors");
  write(kTmp + "/corrupt/checkpoints/step_000000/config.json", "{\"vocab_size\": \"big\"}");
  expect_bad_input(run("generate --model " + kTmp + "/corrupt --prompt hi"), "config.json");
  expect_bad_input(run("init --preset huge --tokenizer " + kTmp + "/tok --out " + kTmp + "/x"), "huge");
  expect_bad_input(run("generate --model " + kTmp + "/model --prompt hi --top-p 0"), "--top-p");
}

TEST_F(Cli, DataGenerateWithPolicyDraftsValidates) {
  const std::string out = kTmp + "/gen";
  auto g = run("data generate --out-dir " + out + " --seed 3 --train-pairs 30 --val-pairs 6 --rl-prompts 5 " +
               "--eval-prompts 24 --sft 5 --candidates-from " + kTmp + "/model");
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_NE(g.out.find("policy-draft pairs"), std::string::npos) << g.out;
  auto v = run("data validate " + out + "/support_preference_train.jsonl " + out + "/support_preference_val.jsonl");
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  std::ifstream in(out + "/support_preference_train.jsonl");
  std::string line;
  int policy = 0, total = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ++total;
    if (j["tags"]["variation_a"] == "policy" || j["tags"]["variation_b"] == "policy") ++policy;
  }
  EXPECT_GT(policy, 0);
  EXPECT_GT(total, 30);
  std::ifstream card(out + "/README.md");
  std::string text((std::istreambuf_iterator<char>(card)), {});
  EXPECT_NE(text.find("Policy drafts"), std::string::npos);
  // A missing policy directory is a clear error.
  expect_bad_input(run("data generate --out-dir " + out + "2 --seed 3 --candidates-from " + kTmp + "/nope"), "nope");
}
