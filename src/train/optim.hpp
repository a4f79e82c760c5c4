// AdamW (decoupled weight decay, as torch.optim.AdamW), learning-rate schedules and gradient clipping.
// Written here rather than using torch::optim so its state has stable names (saved in trainer_state for
// exact resume) and the update order is fixed.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/names.hpp"

namespace srl::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  // Parameters whose name contains "norm" get no weight decay (HF Trainer convention).
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions opt);
  void step(double lr);  // one update from each parameter's .grad(); parameters without grad are skipped
  void zero_grad();
  int64_t steps() const { return t_; }
  const std::vector<std::pair<std::string, torch::Tensor>>& params() const { return params_; }
  // "<param>.exp_avg", "<param>.exp_avg_sq" plus "__step__" (int64 scalar).
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& s, const std::string& where);

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<torch::Tensor> m_, v_;
  AdamWOptions opt_;
  int64_t t_ = 0;
};

// The decay after warm-up.
enum class Schedule { Cosine, Linear, Constant };
inline constexpr config::Names<Schedule, 3> kScheduleNames{
    {{"cosine", Schedule::Cosine}, {"linear", Schedule::Linear}, {"constant", Schedule::Constant}}};

struct ScheduleOptions {
  Schedule kind = Schedule::Cosine;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0.0;  // floor of the decay, as a fraction of the peak
};
// Learning rate for 0-based `step`: linear warm-up to `peak` over warmup_steps, then the decay.
double lr_at(int64_t step, double peak, const ScheduleOptions& s);

// Scales gradients so their global L2 norm is at most max_norm (if > 0); returns the norm before clipping.
double clip_grad_norm(const std::vector<std::pair<std::string, torch::Tensor>>& params, double max_norm);

}  // namespace srl::train
