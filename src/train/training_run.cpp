#include "train/training_run.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <optional>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/progress.hpp"
#include "train/run_contract.hpp"
#include "train/trainer_common.hpp"

namespace srl::train {

EpochCursor::EpochCursor(int64_t n, int64_t seed, TrainerState& state)
    : n_(n), seed_(seed), st_(state), order_(epoch_order(n, seed, state.epoch)) {}

EpochCursor::Draw EpochCursor::next() {
  if (st_.cursor >= n_) {
    st_.cursor = 0;
    ++st_.epoch;
    order_ = epoch_order(n_, seed_, st_.epoch);
  }
  const int64_t pos = st_.cursor++;
  return {order_[pos], st_.epoch, pos};
}

TrainingRun::TrainingRun(std::string stage, const std::string& output_dir, const TrainLoopSection& train,
                         RunOptions opt)
    : stage_(std::move(stage)), dir_(output_dir), train_(train), opt_(opt) {
  resume_from_ = check_run_dir(output_dir, opt.resume);
  last_checkpoint_ = resume_from_.value_or("");
}

void TrainingRun::begin(const std::string& config_yaml) {
  fs::make_dirs(dir_.root());
  fs::write_file_atomic(dir_.path(contract::kConfigFile), config_yaml);
  torch::manual_seed(static_cast<uint64_t>(train_.seed));
}

void TrainingRun::restore(AdamW& optim, const std::vector<std::string>& extra_logs) {
  if (resume_from_) {
    state_ = load_trainer_state(*resume_from_, optim);
    spdlog::info("{}: resumed from {} at step {}", stage_, *resume_from_, state_.step);
  }
  std::vector<std::string> logs = {dir_.path(contract::kMetricsFile)};
  for (const auto& f : extra_logs) logs.push_back(dir_.path(f));
  restart_logs(logs, state_.step);
  metrics_ = std::make_unique<MetricsLog>(logs[0]);
}

std::string TrainingRun::save_checkpoint(model::Llama& model, const text::Tokenizer& tok, const AdamW& optim,
                                         const std::function<void(const std::string& dir)>& extra_files) {
  last_checkpoint_ =
      save_training_checkpoint(dir_, model, tok, optim, state_, static_cast<int>(train_.keep_checkpoints), extra_files);
  return last_checkpoint_;
}

std::string TrainingRun::save_checkpoint(const std::function<void(const std::string& dir)>& model_files,
                                         const AdamW& optim) {
  last_checkpoint_ =
      save_training_checkpoint(dir_, model_files, optim, state_, static_cast<int>(train_.keep_checkpoints));
  return last_checkpoint_;
}

void TrainingRun::loop(const LoopHooks& hooks) {
  if (!metrics_) fail_internal(stage_, "TrainingRun::loop before restore()");
  std::optional<ProgressBar> bar;
  if (opt_.progress) bar.emplace(train_.max_steps, stage_);
  auto every = [&](int64_t n) { return n > 0 && state_.step % n == 0; };
  while (state_.step < train_.max_steps) {
    StepReport r = hooks.step();
    ++state_.step;
    const bool last = state_.step == train_.max_steps;
    r.row[contract::metric::kStep] = state_.step;
    r.row[contract::metric::kStage] = stage_;
    r.row["epoch"] = state_.epoch;
    bool evaluated = false;
    if (hooks.evaluate && (every(train_.eval_every) || last)) evaluated = hooks.evaluate(r.row, last);
    if (hooks.finish_row) hooks.finish_row(r.row);
    if (evaluated || r.force_log || every(train_.log_every) || state_.step == 1 || last) metrics_->log(r.row);
    if (bar) bar->update(state_.step, r.progress);
    const bool stop_now = opt_.stop_after_step == state_.step;
    if (every(train_.save_every) || last || stop_now) last_checkpoint_ = hooks.save();
    if (stop_now) break;
  }
  if (bar) bar->finish();
}

}  // namespace srl::train
