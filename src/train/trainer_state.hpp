// Training checkpoints for exact resume: model files + trainer_state.safetensors (optimizer moments,
// libtorch RNG state) + trainer_state.json (step, data cursor, counters), then COMPLETE, then `final`.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/run_dir.hpp"
#include "model/llama.hpp"

#include "text/tokenizer.hpp"
#include "train/optim.hpp"

namespace srl::train {

struct TrainerState {
  int64_t step = 0;         // optimizer updates done
  int64_t epoch = 0;        // data pass in progress
  int64_t cursor = 0;       // next example index within the epoch's permutation
  int64_t tokens_seen = 0;  // weighted (target) tokens trained on
};

// Writes checkpoints/step_XXXXXX atomically file by file, marks it complete, points `final` at it and
// prunes older checkpoints beyond keep_last. Returns the checkpoint directory. `extra_files(dir)`, when
// given, writes a stage's own files (e.g. the reward model's value head) before COMPLETE, so they are
// part of the atomic checkpoint.
std::string save_training_checkpoint(const RunDir& run, model::Llama& model, const text::Tokenizer& tok,
                                     const AdamW& opt, const TrainerState& st, int keep_last,
                                     const std::function<void(const std::string& dir)>& extra_files = {});
// The same for a model that is not a Llama: `model_files(dir)` writes its files into the (existing)
// checkpoint directory.
std::string save_training_checkpoint(const RunDir& run, const std::function<void(const std::string& dir)>& model_files,
                                     const AdamW& opt, const TrainerState& st, int keep_last,
                                     const std::function<void(const std::string& dir)>& extra_files = {});
// Restores optimizer moments, the libtorch CPU RNG and the counters from a checkpoint directory
// (the model weights are loaded separately by model::load_model).
TrainerState load_trainer_state(const std::string& dir, AdamW& opt);

}  // namespace srl::train
