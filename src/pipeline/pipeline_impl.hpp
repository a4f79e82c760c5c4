// The pipeline's private parts, shared by its three files: pipeline_units.cpp makes the units (each stage's
// resolved config, outputs and work), pipeline_state.cpp links and hashes them and keeps what is on disk
// (stage records, output directories, pipeline.json), pipeline.cpp runs them. Not part of the API.
#pragma once
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/report.hpp"
#include "pipeline/pipeline.hpp"
#include "train/rl.hpp"

namespace srl::pipeline {

// One unit of work: a stage, or one policy's evaluation or simulation.
struct Unit {
  std::string name, stage, method;  // "evaluate/dpo", "evaluate", "dpo"
  std::string label;                // a method's name in the report ("" = the method's own name)
  bool enabled = true;
  std::string output;               // directory ("" for a disabled stage replaced by existing files)
  bool owns_dir = true;             // false: only its files are replaced (the report directory)
  bool run_dir = false;             // a training run: complete when final/COMPLETE exists
  std::vector<std::string> outputs;  // files that must exist in `output`
  std::vector<std::string> inputs;   // paths its config reads
  std::string config_yaml;           // the resolved config, as --print-config shows it
  std::string hash_yaml;             // what is hashed (compute.threads zeroed: it does not change results)
  std::function<void()> work;
  std::vector<size_t> deps;
  std::string hash;
  // Run state.
  std::string status = "pending";
  double seconds = 0;
  std::optional<StageRecord> record;
};

struct Pipeline::Impl {
  PipelineConfig cfg;
  std::string out, data_dir, tok_dir, command;
  std::vector<Unit> units;
  std::map<std::string, std::string> hash_cache;

  // pipeline_units.cpp
  explicit Impl(PipelineConfig c);
  void add_data();
  void add_tokenizer();
  void add_training();  // add_sft, add_reward_model, add_dpo, add_rl twice
  void add_sft();
  void add_reward_model();
  void add_dpo();
  void add_rl(const std::string& name, const StageConfig& sc, train::RlMode mode);
  void add_guardrail();
  struct EvalSet {
    std::string prefix, dir, input;  // unit name prefix ("evaluate_ood"), output folder, evaluate.input
    int64_t max_prompts = 0;
  };
  std::vector<EvalSet> eval_sets() const;
  Unit evaluate_unit(const std::string& method, const EvalSet& set);
  void add_evaluation();
  void add_guardrail_eval();
  std::string guardrail_eval_file() const;  // "" when the guardrail_eval unit is disabled
  void add_report();
  std::vector<eval::MethodRun> report_methods() const;

  // pipeline_state.cpp
  void link();
  nlohmann::ordered_json state_json() const;
  void write_state() const;
  bool outputs_complete(const Unit& u) const;
  void prepare_output(const Unit& u) const;
  void write_record(Unit& u) const;

  // pipeline.cpp
  void check_stage_flag(const std::string& flag, const std::string& stage) const;
  void forget_readers_of(size_t i);

  const Unit* find(const std::string& name) const {
    for (const auto& u : units)
      if (u.name == name) return &u;
    return nullptr;
  }
  bool enabled(const std::string& name) const {
    const Unit* u = find(name);
    return u && u->enabled;
  }
};

namespace detail {

std::string first_line(const std::string& s);
// Rethrows the active exception as one naming the unit; the kind (exit code) is kept.
[[noreturn]] void rethrow_in(const std::string& unit);
// Absolute, lexically normal, no trailing '/'.
std::string normal(const std::string& p);

}  // namespace detail

}  // namespace srl::pipeline
