// The comparison report of a pipeline run: reads what the stages left behind (training metrics and
// configs, `supportrl evaluate` and `supportrl simulate` outputs, the reward model's eval.json) and writes
// reports/<name>/index.html (one self-contained page: inline CSS and SVG, no scripts, no external
// resources), report.md (the same text and tables, charts only in the HTML) and summary.json (the numbers,
// for tests and for comparing runs). Almost every number is read from one input file, so it can be traced
// back (docs/report_format.md); the few it computes itself are in eval/report_numbers.hpp: the seed mean,
// min, max and spread of the panel win rate (and the mean interval width it is compared with), examples
// seen (last step × what one step consumes) and the efficiency gain per 1,000 seen, and the beats /
// safety-regression flags. Which trainer wrote a run is its metrics.jsonl "stage" (train/run_contract.hpp).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace srl::eval {

struct MethodRun {
  std::string name;      // "sft" | "dpo" | "reward_model_rl" | "direct_preference_rl" (or any; the baseline is the one
                         // named ReportInput::baseline)
  std::string label;     // display name, e.g. "DPO (sigmoid)" (empty: the name)
  std::string run_dir;   // training run: metrics.jsonl (+ config.yaml); may be empty
  std::string eval_dir;  // `supportrl evaluate` output: eval.json (required), transcripts.jsonl
  std::string sim_dir;   // `supportrl simulate` output: simulate.json; may be empty
  double train_seconds = 0;  // wall time of the training stage
  double train_tokens = 0;   // tokens processed in training
  uint64_t seed = 0;         // training seed (several MethodRuns of one name with different seeds = a stability study)
  // Evaluations on the sets beyond the templates, (set name, evaluate output dir), e.g. ("hand-written",
  // runs/quickstart/eval_ood/dpo); each eval.json may carry "handling" and "guardrail" blocks.
  std::vector<std::pair<std::string, std::string>> set_evals;
};

struct ReportInput {
  std::string name;     // "quickstart"
  std::string out_dir;  // reports/quickstart
  std::string baseline = "sft";
  std::vector<MethodRun> methods;
  std::string reward_model_dir;  // its eval.json holds the calibration table; may be empty
  std::string guardrail_eval;    // guardrail_eval.json (eval/guardrail_metrics.hpp); may be empty
  std::string command;           // the command line that produced the run, shown in the report
};

// Writes out_dir/index.html, out_dir/report.md and out_dir/summary.json, each atomically (srl::fs).
// Missing optional inputs (empty run_dir / sim_dir / reward_model_dir, or a directory without its file)
// leave "not run" where their numbers would be; a metric the run's trainer logs but its metrics.jsonl
// lacks (renamed, say) is named "not available" under its chart. A missing eval.json, a malformed input
// file (naming the file and line; in metrics.jsonl also a stepped row without a known "stage", and in
// config.yaml a missing step-size key of that stage), no run named `baseline`, or one name listed twice
// with the same seed: srl::fail.
// Same inputs, same bytes (nothing time-dependent is written).
void write_report(const ReportInput& in);

// summary.json as JSON ("format": "srl-report-summary-v1"; schema in docs/report_format.md).
nlohmann::json build_summary(const ReportInput& in);

}  // namespace srl::eval
