// The skeleton of a training run, shared by SFT, the reward model, DPO and RL: the run directory and its
// config.yaml, the libtorch seed, resume (trainer state, logs cut back to the checkpoint's step), the
// seeded data cursor, the step loop with its evaluation / logging / checkpoint cadence from the stage's
// `train:` section, the progress bar and the last good checkpoint that a non-finite stop names.
//
// A stage supplies what differs as three hooks: one step (forward, backward, optimizer; returns the
// step's metrics), an evaluation and a checkpoint writer. The order of a run:
//
//   TrainingRun run(stage, output_dir, cfg.train, options);   // refuses a used dir unless resuming
//   ... load and check the data ...
//   run.begin(config::to_yaml(cfg));                          // dir, config.yaml, torch::manual_seed
//   ... build the model (prepare_training_model(..., run.resume_from())) and the optimizer ...
//   run.restore(optim);                                       // trainer state, logs, metrics.jsonl
//   run.loop({.step = ..., .evaluate = ..., .save = ...});
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/run_dir.hpp"
#include "train/config_sections.hpp"
#include "train/trainer_state.hpp"

namespace srl::train {

struct RunOptions {
  bool resume = false;           // continue from the newest complete checkpoint in output_dir
  int64_t stop_after_step = -1;  // end early after saving this step (simulates an interruption)
  bool progress = true;          // progress bar on a terminal
};

// One epoch after another over n examples, each a seeded permutation (epoch_order), walked by the
// trainer state's (epoch, cursor), so a resumed run draws exactly what the uninterrupted one would.
class EpochCursor {
 public:
  EpochCursor(int64_t n, int64_t seed, TrainerState& state);
  struct Draw {
    int64_t index;     // the example
    int64_t epoch;     // the epoch it was drawn in
    int64_t position;  // its position in that epoch's permutation
  };
  Draw next();

 private:
  int64_t n_, seed_;
  TrainerState& st_;
  std::vector<int64_t> order_;
};

// What one step hands back to the loop.
struct StepReport {
  nlohmann::json row = nlohmann::json::object();  // the step's metrics; the loop adds step, stage, epoch
  std::string progress;                           // progress-bar suffix
  bool force_log = false;                         // log the row off the log_every cadence (a warning)
};

struct LoopHooks {
  // One step: state().step is its 0-based index while it runs; the loop counts it afterwards.
  std::function<StepReport()> step;
  // Due every eval_every steps and at the last step (`final`); adds its metrics to the row and returns
  // whether it evaluated anything (an evaluated row is always logged). Empty: no evaluation.
  std::function<bool(nlohmann::json& row, bool final)> evaluate;
  // After the evaluation, before the row is logged (e.g. a step time that includes the evaluation).
  std::function<void(nlohmann::json& row)> finish_row;
  // Writes a checkpoint of the current state and returns its directory. Due every save_every steps,
  // at the last step and at stop_after_step.
  std::function<std::string()> save;
};

class TrainingRun {
 public:
  // Refuses a directory with checkpoints unless resuming, and resuming one without (check_run_dir).
  TrainingRun(std::string stage, const std::string& output_dir, const TrainLoopSection& train, RunOptions opt);

  // The checkpoint a resumed run continues from (nullopt for a fresh run).
  const std::optional<std::string>& resume_from() const { return resume_from_; }
  // Creates the run directory, writes the resolved config as config.yaml, seeds libtorch with train.seed.
  void begin(const std::string& config_yaml);
  // After the optimizer exists: a resumed run restores its trainer state (and optimizer moments); then
  // metrics.jsonl and `extra_logs` (files of the run directory) are cut back to the state's step and
  // metrics.jsonl is opened for appending.
  void restore(AdamW& optim, const std::vector<std::string>& extra_logs = {});
  // Runs steps until train.max_steps (or stop_after_step).
  void loop(const LoopHooks& hooks);

  TrainerState& state() { return state_; }
  const std::string& stage() const { return stage_; }
  std::string path(const std::string& file) const { return dir_.path(file); }
  const RunDir& dir() const { return dir_; }
  // The newest complete checkpoint of this run ("" before the first): what a non-finite stop names.
  const std::string& last_checkpoint() const { return last_checkpoint_; }
  // save_training_checkpoint into this run with train.keep_checkpoints.
  std::string save_checkpoint(model::Llama& model, const text::Tokenizer& tok, const AdamW& optim,
                              const std::function<void(const std::string& dir)>& extra_files = {});
  // The same for a model that is not a Llama (the request classifier): `model_files(dir)` writes it.
  std::string save_checkpoint(const std::function<void(const std::string& dir)>& model_files, const AdamW& optim);

 private:
  std::string stage_;
  RunDir dir_;
  const TrainLoopSection& train_;
  RunOptions opt_;
  std::optional<std::string> resume_from_;
  TrainerState state_;
  std::unique_ptr<MetricsLog> metrics_;
  std::string last_checkpoint_;
};

}  // namespace srl::train
