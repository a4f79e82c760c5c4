// `supportrl pipeline`, `simulate` and `report` as a user meets them: the whole pipeline on the tiny preset
// with a few steps per stage writes the report with every method; a second run skips everything; a changed
// stage (or --force) reruns that stage and exactly what reads its output; a disabled method leaves the
// report; a bad stage key fails before anything runs, naming the stage and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_runner.hpp"

namespace stdfs = std::filesystem;

namespace {
const std::string kSrc = SRL_SOURCE_DIR;
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_pipeline").string();

using Result = srl_test::CliResult;
using json = nlohmann::json;

Result run(const std::string& args) { return srl_test::run_cli(args); }

void write(const std::string& path, const std::string& text) {
  stdfs::create_directories(stdfs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

json read_json(const std::string& path) { return json::parse(read(path)); }

// Bad input: exit 2, and the last stderr line is one `error: ...` line mentioning every needle.
void expect_bad_input(const Result& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 2) << r.err;
  auto last = r.err.substr(r.err.rfind("error:") == std::string::npos ? 0 : r.err.rfind("error:"));
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << "expected one line: " << last;
  for (const auto& n : needles) EXPECT_NE(last.find(n), std::string::npos) << "expected '" << n << "' in: " << last;
}

// A tiny-preset pipeline with a few steps per stage and a handful of prompts; `dpo_extra` is appended to
// the dpo stage's set list, `extra` to the file.
std::string tiny_config(const std::string& out, const std::string& dpo_extra = "", const std::string& extra = "") {
  const std::string c = kSrc + "/configs/";
  return "pipeline:\n  name: tiny\n  output_dir: " + out + "/runs\n  report_dir: " + out + "/report\n  seed: 1\n"
         "compute:\n  dtype: fp32\n  threads: 1\n"
         "data:\n  train_pairs: 24\n  val_pairs: 8\n  rl_prompts: 8\n  eval_prompts: 6\n  sft_conversations: 48\n"
         "tokenizer:\n  vocab_size: 400\n"
         "sft:\n  config: " + c + "sft.yaml\n  set: [model.preset=tiny, train.max_steps=2, train.batch_size=4, "
         "train.warmup_steps=0, train.log_every=1, data.max_seq_len=256]\n"
         "reward_model:\n  config: " + c + "rl_reward_model.yaml\n  set: [reward_model.train.max_steps=2, "
         "reward_model.train.batch_size=4, reward_model.train.warmup_steps=0, reward_model.train.stats_pairs=8, "
         "reward_model.lora.lora_rank=4, reward_model.data.max_prompt_len=64, reward_model.data.max_seq_len=128]\n"
         "dpo:\n  config: " + c + "dpo.yaml\n  set: [train.max_steps=2, train.batch_size=4, train.grad_accum=1, "
         "train.warmup_steps=0, train.kl_samples=2, train.max_new_tokens=8, lora.lora_rank=4, data.max_prompt_len=64, "
         "data.max_seq_len=128" + dpo_extra + "]\n"
         "reward_model_rl:\n  config: " + c + "rl_reward_model.yaml\n  set: [rl.train.max_steps=1, "
         "rl.rollout.prompts_per_step=2, rl.rollout.rollouts_per_prompt=2, rl.rollout.max_new_tokens=8, "
         "rl.data.eval_prompts=2, rl.lora.lora_rank=4, rl.data.max_prompt_len=64]\n"
         "direct_preference_rl:\n  config: " + c + "rl_direct_preference.yaml\n  set: [rl.train.max_steps=1, "
         "rl.rollout.prompts_per_step=2, rl.rollout.rollouts_per_prompt=2, rl.rollout.max_new_tokens=8, "
         "rl.data.eval_prompts=2, rl.lora.lora_rank=4, rl.data.max_prompt_len=64]\n"
         "evaluate:\n  config: " + c + "support_eval.yaml\n  set: [evaluate.max_prompts=4, evaluate.batch_size=4, "
         "evaluate.sampling.max_new_tokens=8, evaluate.latency_prompts=1, evaluate.kl_prompts=2, "
         "evaluate.bootstrap_resamples=100]\n"
         "simulate:\n  set: [simulate.scenarios=2, simulate.trials=2, simulate.max_turns=2, simulate.max_new_tokens=8]\n"
         "guardrail:\n  config: " + c + "guardrail.yaml\n  set: [data.train_tickets=300, data.val_tickets=100, "
         "train.max_steps=5, train.batch_size=8, classifier.buckets=4096, classifier.dim=8, classifier.hidden=8, "
         "data.bitext=\"\"]\n"
         "eval_sets:\n  handwritten: " + kSrc + "/data/eval_ood\n  bitext: \"\"\n" +  // the same units with or without the corpus
         extra;
}

const std::vector<std::string> kMethods = {"sft", "dpo", "reward_model_rl", "direct_preference_rl"};

// Unit name -> status from pipeline.json.
std::map<std::string, std::string> statuses(const std::string& runs) {
  std::map<std::string, std::string> s;
  const json state = read_json(runs + "/pipeline.json");  // items() must not outlive it
  for (const auto& [name, st] : state["stages"].items()) s[name] = st["status"];
  return s;
}

// Every unit's status is "ran" for the names listed and "skipped" for the others.
void expect_ran_exactly(const std::map<std::string, std::string>& st, const std::set<std::string>& ran) {
  for (const auto& [name, status] : st) EXPECT_EQ(status, ran.count(name) ? "ran" : "skipped") << name;
  for (const auto& r : ran) EXPECT_TRUE(st.count(r)) << r;
}

class PipelineCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    stdfs::create_directories(kTmp);
  }
};
}  // namespace

TEST_F(PipelineCli, RunsEveryStageThenSkipsAndRerunsOnlyWhatChanged) {
  const std::string dir = kTmp + "/full", runs = dir + "/runs", cfg = dir + "/pipeline.yaml";
  write(cfg, tiny_config(dir));

  // 1. Everything runs; the report has every method.
  auto r = run("pipeline --config " + cfg);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& f : {"index.html", "report.md", "summary.json"}) EXPECT_TRUE(stdfs::exists(dir + "/report/" + f)) << f;
  const auto summary = read_json(dir + "/report/summary.json");
  EXPECT_EQ(summary["baseline"], "sft");
  for (const auto& m : kMethods) EXPECT_TRUE(summary["policies"].contains(m)) << m;
  EXPECT_EQ(summary["order"], json(kMethods));
  EXPECT_EQ(summary["policies"]["dpo"]["label"], "DPO (sigmoid)");
  auto st = statuses(runs);
  const std::set<std::string> all = {"data", "tokenizer", "sft", "reward_model", "dpo", "reward_model_rl",
                                     "direct_preference_rl", "evaluate/sft", "evaluate/dpo", "evaluate/reward_model_rl",
                                     "evaluate/direct_preference_rl", "simulate/sft", "simulate/dpo",
                                     "simulate/reward_model_rl", "simulate/direct_preference_rl", "report",
                                     "guardrail", "evaluate_ood/sft", "evaluate_ood/dpo", "evaluate_ood/reward_model_rl",
                                     "evaluate_ood/direct_preference_rl", "guardrail_eval"};
  EXPECT_EQ(st.size(), all.size());
  for (const auto& name : all) EXPECT_EQ(st[name], "ran") << name;
  // Each unit's record holds the hash pipeline.json reports; training records count tokens from the run.
  const auto state = read_json(runs + "/pipeline.json");
  for (const auto& [name, s] : state["stages"].items()) {
    const auto rec = read_json(s["output"].get<std::string>() + "/.pipeline_stage.json");
    EXPECT_EQ(rec["hash"], s["hash"]) << name;
    EXPECT_EQ(rec["stage"], name);
  }
  for (const auto& m : kMethods) {
    const auto rec = read_json(runs + "/" + m + "/.pipeline_stage.json");
    EXPECT_GT(rec["tokens"].get<double>(), 0) << m;
    EXPECT_GT(summary["policies"][m]["train_tokens"].get<double>(), 0) << m;
  }
  EXPECT_TRUE(stdfs::exists(runs + "/sim/dpo/simulate.json"));
  EXPECT_TRUE(stdfs::exists(runs + "/eval/reward_model_rl/eval.json"));
  // Beyond the templates: every method on the hand-written tickets with the guardrail, and the classifier
  // scored beside the keyword rules; the report shows both.
  const auto ood = read_json(runs + "/eval_ood/dpo/eval.json");
  EXPECT_TRUE(ood["handling"].is_object());
  EXPECT_TRUE(ood["guardrail"].is_object());
  EXPECT_EQ(ood["guardrail"]["classifier"], runs + "/guardrail");
  const auto ge = read_json(runs + "/guardrail_eval/guardrail_eval.json");
  ASSERT_EQ(ge["sets"].size(), 1u);
  EXPECT_EQ(ge["sets"][0]["name"], "ood");
  const std::string report_md = read(dir + "/report/report.md");
  EXPECT_NE(report_md.find("### Beyond the templates"), std::string::npos);
  EXPECT_NE(report_md.find("| DPO (sigmoid) | hand-written |"), std::string::npos);
  EXPECT_NE(report_md.find("### The guardrail"), std::string::npos);

  // 2. Nothing changed: every unit is skipped and says so. Threads do not change results, so not the hash.
  r = run("pipeline --config " + cfg + " --set compute.threads=2");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_ran_exactly(statuses(runs), {});
  EXPECT_NE(r.err.find("skip sft (unchanged)"), std::string::npos) << r.err;

  // 3. A changed DPO setting reruns DPO and what reads it: its evaluation, simulation and the report.
  const std::set<std::string> dpo_and_after = {"dpo", "evaluate/dpo", "evaluate_ood/dpo", "simulate/dpo", "report"};
  write(cfg, tiny_config(dir, ", dpo.beta=0.2"));
  r = run("pipeline --config " + cfg);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_ran_exactly(statuses(runs), dpo_and_after);
  EXPECT_NE(read(runs + "/dpo/config.yaml").find("beta: 0.2"), std::string::npos);

  // 4. --force dpo does the same with nothing changed.
  r = run("pipeline --config " + cfg + " --force dpo");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_ran_exactly(statuses(runs), dpo_and_after);

  // 5. --only report with everything current skips it; forced, it alone runs.
  r = run("pipeline --config " + cfg + " --only report");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_ran_exactly(statuses(runs), {});
  r = run("pipeline --config " + cfg + " --only report --force report");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_ran_exactly(statuses(runs), {"report"});
  // The report shows the command that produced it.
  const std::string md = read(dir + "/report/report.md");
  EXPECT_NE(md.find("--force report"), std::string::npos);
  EXPECT_NE(md.find("--only report"), std::string::npos);

  // 6. A disabled method leaves evaluation, simulation and the report; nothing else reruns.
  r = run("pipeline --config " + cfg + " --set direct_preference_rl.enabled=false");
  ASSERT_EQ(r.code, 0) << r.err;
  st = statuses(runs);
  EXPECT_EQ(st["direct_preference_rl"], "disabled");
  EXPECT_EQ(st.count("evaluate/direct_preference_rl"), 0u);
  EXPECT_EQ(st.count("evaluate_ood/direct_preference_rl"), 0u);
  EXPECT_EQ(st["report"], "ran");
  for (const auto& name : {"sft", "dpo", "evaluate/dpo", "simulate/reward_model_rl"}) EXPECT_EQ(st[name], "skipped") << name;
  const auto reduced = read_json(dir + "/report/summary.json");
  EXPECT_FALSE(reduced["policies"].contains("direct_preference_rl"));
  EXPECT_TRUE(reduced["policies"].contains("reward_model_rl"));

  // 7. `supportrl report` rebuilds the same report from pipeline.json elsewhere.
  r = run("report --pipeline-dir " + runs + " --out " + dir + "/report2 --name again");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto again = read_json(dir + "/report2/summary.json");
  EXPECT_EQ(again["name"], "again");
  EXPECT_EQ(again["order"], reduced["order"]);
  EXPECT_EQ(again["policies"]["dpo"]["win_rate_vs_sft"], reduced["policies"]["dpo"]["win_rate_vs_sft"]);
  EXPECT_EQ(again["policies"]["dpo"]["train_seconds"], reduced["policies"]["dpo"]["train_seconds"]);
}

TEST_F(PipelineCli, BadStageKeyFailsBeforeAnythingRunsNamingStageAndKey) {
  const std::string dir = kTmp + "/bad";
  write(dir + "/pipeline.yaml", tiny_config(dir, ", train.max_stepz=3"));
  auto r = run("pipeline --config " + dir + "/pipeline.yaml");
  expect_bad_input(r, {"pipeline stage dpo", "train.max_stepz", "did you mean 'train.max_steps'"});
  EXPECT_FALSE(stdfs::exists(dir + "/runs")) << "a config error must stop the pipeline before the data stage";

  // A pipeline key of its own: the file and the key.
  write(dir + "/p2.yaml", tiny_config(dir, "", "reprot:\n  enabled: false\n"));
  expect_bad_input(run("pipeline --config " + dir + "/p2.yaml"), {"p2.yaml", "reprot"});
  // Pointing a stage's output elsewhere is refused: the pipeline owns (and deletes) those directories.
  write(dir + "/p3.yaml", tiny_config(dir, ", output_dir=/tmp/elsewhere"));
  expect_bad_input(run("pipeline --config " + dir + "/p3.yaml"), {"pipeline stage dpo", "output_dir"});
  // A method that needs a disabled stage.
  write(dir + "/p5.yaml", tiny_config(dir));
  expect_bad_input(run("pipeline --config " + dir + "/p5.yaml --set reward_model.enabled=false"),
                   {"pipeline stage reward_model_rl", "disabled"});
  expect_bad_input(run("pipeline --config " + dir + "/p5.yaml --force dpp"), {"--force", "unknown stage 'dpp'"});
  expect_bad_input(run("pipeline --config " + dir + "/p5.yaml --set eval_sets.handwritten=/nonexistent/eval_ood"),
                   {"eval_sets.handwritten", "no such file or directory"});
  EXPECT_FALSE(stdfs::exists(dir + "/runs"));
}

TEST_F(PipelineCli, SimulateWritesSummaryAndTranscriptsReproducibly) {
  const std::string dir = kTmp + "/sim";
  auto t = run("tokenizer train --input " + kSrc + "/data/demo/support_sft.jsonl --vocab-size 400 --out " + dir + "/tok");
  ASSERT_EQ(t.code, 0) << t.err;
  auto i = run("init --preset tiny --tokenizer " + dir + "/tok --out " + dir + "/model --seed 1");
  ASSERT_EQ(i.code, 0) << i.err;
  const std::string common = "simulate --policy " + dir + "/model --scenarios 3 --trials 2 --max-turns 2 --seed 5 "
                             "--set compute.threads=1 --set simulate.max_new_tokens=12";
  auto r = run(common + " --out " + dir + "/a");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("success_rate"), std::string::npos) << r.out;
  const auto j = read_json(dir + "/a/simulate.json");
  for (const auto& k : {"scenarios", "trials", "success_rate", "mean_cumulative_reward", "mean_turns_to_resolution",
                        "pass_k", "outcomes"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["scenarios"], 3);
  EXPECT_EQ(j["trials"], 2);
  EXPECT_TRUE(j["pass_k"].contains("1") && j["pass_k"].contains("2"));
  int total = 0;
  for (const auto& k : {"resolved", "escalated", "abandoned", "unresolved"}) total += j["outcomes"][k].get<int>();
  EXPECT_EQ(total, 6);  // every trial ends one way

  // One transcript per trial; each starts with the customer and the policy answered at least once.
  std::istringstream lines(read(dir + "/a/transcripts.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto tr = json::parse(line);
    ASSERT_GE(tr["messages"].size(), 2u);
    EXPECT_EQ(tr["messages"][0]["role"], "user");
    EXPECT_EQ(tr["messages"][1]["role"], "assistant");
    ++n;
  }
  EXPECT_EQ(n, 6);

  // Same arguments, same conversations.
  r = run(common + " --out " + dir + "/b");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read(dir + "/a/transcripts.jsonl"), read(dir + "/b/transcripts.jsonl"));
  EXPECT_EQ(read(dir + "/a/simulate.json"), read(dir + "/b/simulate.json"));

  expect_bad_input(run("simulate --policy " + dir + "/model --trials 0 --out " + dir + "/c"), {"--trials"});
  expect_bad_input(run("simulate --policy " + dir + "/nope --out " + dir + "/c"), {dir + "/nope"});
}

TEST_F(PipelineCli, FailingStageStopsNamingItAndARerunResumesAfterTheFinishedOnes) {
  const std::string dir = kTmp + "/resume", runs = dir + "/runs", cfg = dir + "/pipeline.yaml";
  // reward_model_rl pointed at a reward model that does not exist: it fails after five units finished.
  const std::string text = tiny_config(dir);
  const std::string anchor = "rl.data.eval_prompts=2, rl.lora.lora_rank=4, rl.data.max_prompt_len=64]\n";
  const size_t at = text.find(anchor);  // the first RL stage is reward_model_rl
  ASSERT_NE(at, std::string::npos);
  std::string broken = text;
  broken.insert(at + anchor.size() - 2, ", rl.reward.reward_model=" + dir + "/no_such_rm");
  write(cfg, broken);
  auto r = run("pipeline --config " + cfg);
  expect_bad_input(r, {"pipeline stage reward_model_rl", "no_such_rm"});
  auto st = statuses(runs);
  for (const auto& name : {"data", "tokenizer", "sft", "reward_model", "dpo"}) EXPECT_EQ(st[name], "ran") << name;
  EXPECT_EQ(st["reward_model_rl"], "failed");
  for (const auto& name : {"direct_preference_rl", "evaluate/sft", "report"}) EXPECT_EQ(st[name], "not_run") << name;
  EXPECT_FALSE(stdfs::exists(runs + "/reward_model_rl/.pipeline_stage.json"));

  // Fixed: what finished is kept, the rest runs.
  write(cfg, text);
  r = run("pipeline --config " + cfg);
  ASSERT_EQ(r.code, 0) << r.err;
  st = statuses(runs);
  for (const auto& name : {"data", "tokenizer", "sft", "reward_model", "dpo"}) EXPECT_EQ(st[name], "skipped") << name;
  for (const auto& name : {"reward_model_rl", "direct_preference_rl", "evaluate/sft", "simulate/dpo", "report"})
    EXPECT_EQ(st[name], "ran") << name;
}
