// Pieces every trainer shares (SFT, reward model, DPO, RL): building the model to train from a config
// (fresh, continued from another run, or resumed), marking what is trainable, the seeded data order,
// and the non-finite stop with its diagnostic.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint.hpp"
#include "train/config_sections.hpp"
#include "train/optim.hpp"

namespace srl::train {

// The model a run trains:
//  - resume_from set: that checkpoint as saved (its adapters attached, not merged);
//  - else model.init set: that run/checkpoint; if it carries LoRA adapters they are merged into the
//    base weights first (a new run trains on top of the previous one's result);
//  - else a fresh model from preset/config_json with model.tokenizer (required then).
// Then LoRA from `lora` is attached if lora_rank > 0 and the model has none yet.
model::LoadedModel prepare_training_model(const ModelSection& model, const LoraSection& lora,
                                          const std::optional<std::string>& resume_from);

// Freezes every parameter, then enables gradients on model.trainable_parameters() (the adapters with
// LoRA, everything without) and returns them.
std::vector<std::pair<std::string, torch::Tensor>> set_trainable(model::Llama& m);

// The example order of one epoch: a seeded Fisher-Yates shuffle (no library-defined algorithm, so the
// order is the same on every platform and resume reproduces it).
std::vector<int64_t> epoch_order(int64_t n, int64_t seed, int64_t epoch);

// A non-finite loss or gradient norm ends the run (exit 1) naming the step, the values and the last
// good checkpoint to restart from. Nothing is saved after it.
void stop_if_not_finite(const std::string& stage, int64_t step, double loss, double grad_norm,
                        const std::string& last_good_checkpoint);

// Elements of the parameters a run trains (the log line at its start).
int64_t count_parameters(const std::vector<std::pair<std::string, torch::Tensor>>& params);

// Drops the rows after `step` from each existing log (all rows when starting fresh at step 0), so a
// resumed run's logs continue exactly where its checkpoint was taken.
void restart_logs(const std::vector<std::string>& paths, int64_t step);

// Refuses to start over a run directory that holds checkpoints unless resuming, and resuming one that
// has none. Returns the checkpoint to resume from (when resume).
std::optional<std::string> check_run_dir(const std::string& output_dir, bool resume);

}  // namespace srl::train
