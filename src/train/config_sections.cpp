#include "train/config_sections.hpp"

#include <cmath>

#include "core/error.hpp"

namespace srl::train {

namespace {

// srl::fail("config: <prefix><key>", what) unless ok.
void need(bool ok, const std::string& prefix, const std::string& key, const std::string& what) {
  if (!ok) fail("config: " + prefix + key, what);
}

bool finite_at_least(double x, double lo) { return std::isfinite(x) && x >= lo; }

}  // namespace

void check_lora_section(const LoraSection& l, const std::string& prefix) {
  need(l.lora_rank >= 0, prefix, "lora.lora_rank", "must be >= 0");
  need(l.lora_dropout >= 0 && l.lora_dropout < 1, prefix, "lora.lora_dropout", "must be in [0, 1)");
}

void check_train_loop(const TrainLoopSection& t, const std::string& prefix) {
  need(t.max_steps > 0, prefix, "train.max_steps", "must be positive");
  need(std::isfinite(t.learning_rate) && t.learning_rate > 0, prefix, "train.learning_rate", "must be positive");
  need(finite_at_least(t.weight_decay, 0), prefix, "train.weight_decay", "must be >= 0");
  need(t.warmup_steps >= 0, prefix, "train.warmup_steps", "must be >= 0");
  need(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, prefix, "train.min_lr_ratio", "must be in [0, 1]");
  need(finite_at_least(t.max_grad_norm, 0), prefix, "train.max_grad_norm", "must be >= 0");
  need(t.eval_every >= 0, prefix, "train.eval_every", "must be >= 0");
  need(t.save_every >= 0, prefix, "train.save_every", "must be >= 0");
  need(t.log_every >= 1, prefix, "train.log_every", "must be positive");
  need(t.keep_checkpoints >= 1, prefix, "train.keep_checkpoints", "must be at least 1");
}

void check_batched_train(const BatchedTrainSection& t, const std::string& prefix) {
  check_train_loop(t, prefix);
  need(t.batch_size > 0, prefix, "train.batch_size", "must be positive");
  need(t.grad_accum > 0, prefix, "train.grad_accum", "must be positive");
}

ScheduleOptions schedule_options(const TrainLoopSection& t, int64_t total_updates) {
  ScheduleOptions so;
  so.kind = t.schedule;
  so.warmup_steps = t.warmup_steps;
  so.total_steps = total_updates;
  so.min_lr_ratio = t.min_lr_ratio;
  return so;
}

}  // namespace srl::train
