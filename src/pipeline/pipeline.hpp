// `supportrl pipeline`: data -> tokenizer -> SFT -> reward model -> DPO -> reward-model RL -> direct
// preference RL -> evaluation -> simulated customers -> report, in one process, each stage through the
// same library call as its own command. Every unit of work (a stage, or one policy's evaluation or
// simulation) has a content hash over its resolved config, its inputs and the binary's version; a unit
// whose output directory holds a record with the same hash and complete outputs is skipped, and a unit
// that reruns makes everything that reads its output rerun. docs/pipeline.md.
// Not a scheduler: units run one after another, in a fixed order, in this process.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/report.hpp"
#include "pipeline/pipeline_config.hpp"

namespace srl::pipeline {

// The stages, in the order they run: data, tokenizer, sft, reward_model, dpo, reward_model_rl,
// direct_preference_rl, evaluate, simulate, report.
const std::vector<std::string>& stage_names();
// The methods compared in the report, baseline first: sft, dpo, reward_model_rl, direct_preference_rl.
const std::vector<std::string>& method_names();

// <unit output>/.pipeline_stage.json, written after a unit succeeded.
struct StageRecord {
  std::string stage;  // unit name: "sft", "evaluate/dpo"
  std::string hash;   // 16 hex digits
  double seconds = 0;  // wall time of the run that produced the output
  double tokens = 0;   // training stages: trainer_state.json tokens_seen of the final checkpoint; else 0
  std::string finished_at;  // UTC, ISO 8601
};
inline constexpr const char* kRecordFile = ".pipeline_stage.json";
// The record in `dir`, if there is a readable one (a malformed record counts as none: the unit reruns).
std::optional<StageRecord> read_stage_record(const std::string& dir);

struct RunOptions {
  std::vector<std::string> force;  // stages to rerun even when unchanged (their dependants rerun too)
  std::string only;                // run only this stage's units; what they read must be up to date
  std::string command;             // the command line, shown in the report
};

class Pipeline {
 public:
  // Resolves every enabled stage's config (base file + the pipeline's keys + the stage's `set`), checks
  // what can be checked without files, and computes every unit's hash. Nothing runs and nothing is written.
  // A bad stage config is srl::fail("pipeline stage <stage>", <the config error, naming the key>).
  explicit Pipeline(PipelineConfig cfg);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The pipeline config, then each enabled unit's resolved config, as one YAML document each.
  std::string resolved_yaml() const;
  // Runs what is out of date; writes <output_dir>/pipeline.json after every unit and returns its content.
  // A failing unit stops the run: srl::Error of the same kind, where = "pipeline stage <unit>".
  nlohmann::ordered_json run(const RunOptions& opt);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The report input of a finished pipeline run, from <pipeline_dir>/pipeline.json: every method that was
// evaluated, with its run, evaluation and simulation directories and its training seconds and tokens.
// `name` empty = the pipeline's name. A missing or malformed pipeline.json is srl::fail naming it.
eval::ReportInput report_input_from_state(const std::string& pipeline_dir, const std::string& out_dir,
                                          const std::string& name, const std::string& command);

}  // namespace srl::pipeline
