// The comparison report's readers (private to src/eval/report_*.cpp): every input file of a pipeline
// run read and checked once into plain structs, so the sections and the summary never touch JSON or
// YAML. A malformed file is srl::fail naming the file (and line for JSON); an optional file that is
// absent leaves `present` false. What each file must hold: docs/report_format.md.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/report.hpp"
#include "eval/svg.hpp"

namespace srl::eval::report {

// dir/file ("" dir: file).
std::string join_path(const std::string& dir, const std::string& file);

// ---- metrics.jsonl (a training run)
struct MetricRow {
  int64_t step = 0;
  std::map<std::string, double> v;  // the keys the report reads (metric_keys()), when numeric
};
struct Metrics {
  std::string path;
  bool present = false;
  std::string stage;              // the trainer that wrote the file (contract::stage); "" with no stepped row
  std::vector<MetricRow> rows;    // rows with a "step", in file order
  bool logged_eval = false;       // some row has a held-out "eval/..." key (read or not)
  std::optional<int64_t> last_step() const;
  // (step, value) of every row that has `key`.
  svg::Series series(const std::string& name, const std::string& key) const;
};
// The metric keys read (and type-checked); other keys of metrics.jsonl may hold anything.
const std::vector<std::string>& metric_keys();
// Whether the trainer that wrote `m` logs `key` (held-out keys only when it logged an evaluation), so
// that a run without it is a renamed or missing metric, not a run that never had one.
bool trainer_writes(const Metrics& m, const std::string& key);

// ---- config.yaml: what one optimizer step consumes, looked up by the run's stage.
struct StepUnit {
  std::string path;     // config.yaml, when the run has one
  std::string unit;     // "examples" | "pairs" | "prompts"; "" when unknown
  double per_step = 0;
};

// ---- eval.json and transcripts.jsonl (`supportrl evaluate`)
struct WinRate {
  double estimate = 0, lo = 0, hi = 0;
};
struct IntentRow {
  std::string intent;
  std::optional<double> prompts, win_rate_panel, mean_reward;
};
struct EvalData {
  std::string path;
  std::optional<WinRate> win_panel, win_rm;
  std::optional<double> lc_panel, lc_rm, mean_reward, mean_panel_score, refusal, unsafe, kl, mean_length, p50, p95,
      tokens_per_s, prompts, safe_prompts, adversarial_prompts;
  std::map<std::string, double> evaluators;
  std::vector<IntentRow> per_intent;
};
struct Transcript {
  std::string id, prompt, intent, response;
  std::optional<std::string> baseline_response;
  std::optional<double> reward, panel_prob, length, latency;
};
struct Transcripts {
  std::string path;
  bool present = false;
  std::vector<Transcript> rows;
  std::map<std::string, size_t> by_id;
  const Transcript* find(const std::string& id) const;
};

// ---- simulate.json (`supportrl simulate`)
struct SimData {
  std::string path;
  bool present = false;
  std::optional<double> scenarios, trials, success_rate, mean_cumulative_reward, mean_turns;
  std::vector<std::pair<int64_t, double>> pass_k;        // sorted by k
  std::vector<std::pair<std::string, double>> outcomes;  // key order of the file's object (sorted)
};

// ---- the reward model's eval.json (train::reward_eval_json)
struct RewardModelData {
  std::string path;
  bool present = false;
  std::optional<double> accuracy, ece, agreement, bayes_accuracy, non_tie;
  std::string ceiling_source;
  std::vector<svg::CalibrationBin> bins;
};

// ---- the sets beyond the templates: eval.json's "handling" and "guardrail" blocks (eval/handling.hpp)
struct HandlingData {
  bool present = false;
  std::optional<double> addresses_intent, refusal, safe_ok, unsafe, crisis, escalation;
};
struct GuardedData {  // the replies with the guardrail routing flagged tickets
  bool present = false;
  std::optional<WinRate> win_panel;
  std::optional<double> refusal, unsafe, routed;
  HandlingData handling;
};
struct SetEval {
  std::string name;  // "in-template", "hand-written", "Bitext"
  EvalData eval;
  HandlingData handling;
  GuardedData guarded;
};
// ---- guardrail_eval.json: the classifier and the keyword rules per labelled set
struct ClassifierScores {
  std::optional<double> intent_accuracy, unsafe_recall, false_positive_rate, risk_accuracy, intent_ece, risk_ece;
  struct Risk {
    std::string name;
    double support = 0, precision = 0, recall = 0, f1 = 0;
  };
  std::vector<Risk> risks;
  std::vector<svg::CalibrationBin> risk_bins, intent_bins;
};
struct GuardrailSet {
  std::string name;
  double tickets = 0, unsafe = 0;
  ClassifierScores classifier, keyword;
};
struct GuardrailEvalData {
  std::string path;
  bool present = false;
  std::optional<double> threshold;
  std::vector<GuardrailSet> sets;
};

// ---- everything, per run
struct Run {
  MethodRun m;
  std::string display;  // label, plus the seed when its name has several
  size_t seeds_of_name = 1;
  bool first_of_name = true;
  bool is_baseline = false;
  Metrics metrics;
  StepUnit unit;
  EvalData eval;
  std::vector<SetEval> sets;  // sets[0] is the in-template evaluation (eval_dir), then MethodRun::set_evals
  SimData sim;
  Transcripts tr;
  std::string label() const { return m.label.empty() ? m.name : m.label; }  // without the seed
};

struct Loaded {
  const ReportInput* in = nullptr;
  std::vector<Run> runs;
  std::vector<std::string> names;  // distinct method names, in input order
  size_t base = 0;                 // index of the baseline run (the first run named in.baseline)
  RewardModelData rm;
  GuardrailEvalData guardrail;
  const Run& baseline() const { return runs[base]; }
  std::string base_label() const { return runs[base].label(); }
  std::vector<const Run*> runs_named(const std::string& name) const;  // in input order
};

// Reads and checks every input of `in` (the input list first: names, seeds, the baseline).
Loaded load(const ReportInput& in);

}  // namespace srl::eval::report
