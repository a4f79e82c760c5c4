// The pipeline's own config file (configs/quickstart.yaml): where the run goes, the compute every stage
// uses, and one section per stage. A training, evaluate or simulate stage names the config file it starts
// from and a list of `--set` assignments applied on top; the pipeline fills in the keys that chain the
// stages (output directories, model.init, data files, the reward model) in between, so a stage's `set`
// still overrides them. docs/pipeline.md lists those keys.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/compute.hpp"

namespace srl::pipeline {

struct PipelineSection {
  std::string name = "quickstart";
  std::string output_dir = "runs/quickstart";
  std::string report_dir = "reports/quickstart";
  int64_t seed = 0;
  template <class V>
  void visit(V& v) {
    v("name", name, "report name");
    v("output_dir", output_dir, "every stage's output goes into <output_dir>/<stage>");
    v("report_dir", report_dir, "index.html, report.md, summary.json");
    v("seed", seed, "data, annotator panel, initialisation, data order and sampling seed of every stage");
  }
};

// `supportrl data generate` options (data::GenerateOptions), or existing files.
struct DataStageConfig {
  bool enabled = true;
  std::string dir;  // enabled: false -> the files of an earlier `data generate` here
  int64_t train_pairs = 3000;
  int64_t val_pairs = 300;
  int64_t rl_prompts = 400;
  int64_t eval_prompts = 200;
  int64_t sft_conversations = 1000;
  int64_t pairs_per_prompt = 3;
  int64_t annotators = 5;
  double noise = 0.05;
  std::string sft_answers = "agent";
  double customer_share = 0.5;
  template <class V>
  void visit(V& v) {
    v("enabled", enabled, "false: use the files in `dir` instead of generating them");
    v("dir", dir, "existing data directory (support_*.jsonl) when enabled is false");
    v("train_pairs", train_pairs, "training preference pairs");
    v("val_pairs", val_pairs, "held-out preference pairs");
    v("rl_prompts", rl_prompts, "prompts for online RL");
    v("eval_prompts", eval_prompts, "held-out evaluation prompts");
    v("sft_conversations", sft_conversations, "SFT conversations");
    v("pairs_per_prompt", pairs_per_prompt, "preference pairs per prompt");
    v("annotators", annotators, "simulated annotators in the labelling panel");
    v("noise", noise, "annotator noise (Bradley-Terry temperature)");
    v.choice("sft_answers", sft_answers, {"agent", "ideal"}, "SFT replies: historical agents or the ideal answer");
    v("customer_share", customer_share, "share of training/RL/SFT prompts written the way customers write");
  }
};

struct TokenizerStageConfig {
  bool enabled = true;
  std::string dir;  // enabled: false -> an existing tokenizer directory
  int64_t vocab_size = 2048;
  template <class V>
  void visit(V& v) {
    v("enabled", enabled, "false: use the tokenizer in `dir` instead of training one");
    v("dir", dir, "existing tokenizer directory when enabled is false");
    v("vocab_size", vocab_size, "pieces (the model presets have room for up to 2048 (tiny) / 4096 (small))");
  }
};

// A stage run from a config file plus overrides.
struct StageConfig {
  bool enabled = true;
  std::string config;             // base config file ("" = the struct's defaults)
  std::vector<std::string> set;   // `key=value`, the same keys as the stage command's --set
  template <class V>
  void visit(V& v) {
    v("enabled", enabled, "false: skip the stage (a method is then left out of evaluation and report)");
    v("config", config, "config file the stage starts from (empty: built-in defaults)");
    v("set", set, "overrides applied after the pipeline's own keys: [\"train.max_steps=100\", ...]");
  }
};

// The evaluation sets beyond the templates: every method is also evaluated on them (with the guardrail when
// its stage is enabled), and the guardrail classifier is scored on them against the keyword rules.
struct EvalSetsConfig {
  std::string handwritten = "data/eval_ood";  // "" = skip
  std::string bitext = "../shared/data/bitext/Bitext_Sample_Customer_Support_Training_Dataset.csv";  // skipped when absent
  int64_t bitext_prompts = 200;  // evaluation prompts from the Bitext evaluation half (0 = all)
  template <class V>
  void visit(V& v) {
    v("handwritten", handwritten, "hand-written out-of-template tickets (data/eval_ood; empty: skip)");
    v("bitext", bitext, "Bitext CSV: its evaluation half is a second set (skipped when the file is absent)");
    v("bitext_prompts", bitext_prompts, "Bitext tickets each method answers (0 = the whole evaluation half)");
  }
};

struct ReportStageConfig {
  bool enabled = true;
  template <class V>
  void visit(V& v) {
    v("enabled", enabled, "write the comparison report into pipeline.report_dir");
  }
};

struct PipelineConfig {
  PipelineSection pipeline;
  train::ComputeSection compute;
  DataStageConfig data;
  TokenizerStageConfig tokenizer;
  StageConfig sft = with_config("configs/sft.yaml");
  StageConfig reward_model = with_config("configs/rl_reward_model.yaml");
  StageConfig dpo = with_config("configs/dpo.yaml");
  StageConfig reward_model_rl = with_config("configs/rl_reward_model.yaml");
  StageConfig direct_preference_rl = with_config("configs/rl_direct_preference.yaml");
  StageConfig guardrail = with_config("configs/guardrail.yaml");
  StageConfig evaluate;
  EvalSetsConfig eval_sets;
  StageConfig simulate;
  ReportStageConfig report;
  template <class V>
  void visit(V& v) {
    v.section("pipeline", pipeline);
    v.section("compute", compute);
    v.section("data", data);
    v.section("tokenizer", tokenizer);
    v.section("sft", sft);
    v.section("reward_model", reward_model);
    v.section("dpo", dpo);
    v.section("reward_model_rl", reward_model_rl);
    v.section("direct_preference_rl", direct_preference_rl);
    v.section("guardrail", guardrail);
    v.section("evaluate", evaluate);
    v.section("eval_sets", eval_sets);
    v.section("simulate", simulate);
    v.section("report", report);
  }

 private:
  static StageConfig with_config(const char* path) {
    StageConfig s;
    s.config = path;
    return s;
  }
};

}  // namespace srl::pipeline
