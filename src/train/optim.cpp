#include "train/optim.hpp"

#include <cmath>

#include "core/error.hpp"

namespace srl::train {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, AdamWOptions opt)
    : params_(std::move(params)), opt_(opt) {
  for (auto& [n, p] : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::zero_grad() {
  for (auto& [n, p] : params_)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

void AdamW::step(double lr) {
  torch::NoGradGuard ng;
  ++t_;
  const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& [name, p] = params_[i];
    const auto& g = p.grad();
    if (!g.defined()) continue;
    if (opt_.weight_decay > 0 && name.find("norm") == std::string::npos) p.mul_(1.0 - lr * opt_.weight_decay);
    m_[i].mul_(opt_.beta1).add_(g, 1.0 - opt_.beta1);
    v_[i].mul_(opt_.beta2).addcmul_(g, g, 1.0 - opt_.beta2);
    auto denom = (v_[i] / bc2).sqrt_().add_(opt_.eps);
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

std::map<std::string, torch::Tensor> AdamW::state() const {
  std::map<std::string, torch::Tensor> s;
  for (size_t i = 0; i < params_.size(); ++i) {
    s[params_[i].first + ".exp_avg"] = m_[i];
    s[params_[i].first + ".exp_avg_sq"] = v_[i];
  }
  s["__step__"] = torch::tensor({t_}, torch::kLong);
  return s;
}

void AdamW::load_state(const std::map<std::string, torch::Tensor>& s, const std::string& where) {
  torch::NoGradGuard ng;
  auto get = [&](const std::string& key, const torch::Tensor& like) {
    auto it = s.find(key);
    if (it == s.end()) fail(where, "optimizer state lacks '" + key + "' (checkpoint from another model or LoRA setup?)");
    if (it->second.sizes() != like.sizes()) fail(where, "optimizer state '" + key + "' has the wrong shape");
    return it->second;
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    m_[i].copy_(get(params_[i].first + ".exp_avg", m_[i]));
    v_[i].copy_(get(params_[i].first + ".exp_avg_sq", v_[i]));
  }
  auto it = s.find("__step__");
  if (it == s.end() || it->second.numel() != 1) fail(where, "optimizer state lacks its step count");
  t_ = it->second.to(torch::kLong).item<int64_t>();
}

double lr_at(int64_t step, double peak, const ScheduleOptions& s) {
  if (s.warmup_steps > 0 && step < s.warmup_steps)
    return peak * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  if (s.kind == Schedule::Constant) return peak;
  const int64_t decay_steps = std::max<int64_t>(1, s.total_steps - s.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - s.warmup_steps) / static_cast<double>(decay_steps));
  const double f = s.kind == Schedule::Linear ? 1.0 - progress : 0.5 * (1.0 + std::cos(M_PI * progress));
  return peak * (s.min_lr_ratio + (1.0 - s.min_lr_ratio) * f);
}

double clip_grad_norm(const std::vector<std::pair<std::string, torch::Tensor>>& params, double max_norm) {
  torch::NoGradGuard ng;
  double sq = 0;
  for (auto& [n, p] : params)
    if (p.grad().defined()) sq += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm && std::isfinite(norm)) {
    const double scale = max_norm / (norm + 1e-6);
    for (auto& [n, p] : params)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  }
  return norm;
}

}  // namespace srl::train
