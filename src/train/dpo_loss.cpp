// DPO-family losses; formulas and conventions in dpo_loss.hpp.
#include "train/dpo_loss.hpp"

#include <cmath>

#include "core/error.hpp"
#include "train/run_contract.hpp"

namespace srl::train {

namespace {

// Losses that read the per-token average log-prob instead of the sum.
bool length_normalised(DpoLossType t) {
  return t == DpoLossType::Ipo || t == DpoLossType::SigmoidNorm || t == DpoLossType::Simpo;
}

// All inputs share one 1-D shape (B,), B >= 1. A mismatch is a bug in the caller, not bad user input.
void check_shape(const torch::Tensor& t, const char* name, int64_t B) {
  if (t.dim() != 1 || t.size(0) != B)
    fail_internal("dpo_loss", std::string(name) + " must have shape (" + std::to_string(B) + ",), got " +
                                  std::to_string(t.dim()) + "-d with " + std::to_string(t.numel()) + " elements");
}

}  // namespace

void check_dpo_options(const DpoLossOptions& o, const std::string& where) {
  auto need = [&](bool ok, const std::string& key, const std::string& what) {
    if (!ok) fail(where + "." + key, what);
  };
  need(std::isfinite(o.beta) && o.beta > 0, "beta", "must be positive");
  need(std::isfinite(o.label_smoothing) && o.label_smoothing >= 0 && o.label_smoothing < 0.5, "label_smoothing",
       "must be in [0, 0.5)");
  // TRL silently ignores label smoothing for these; a setting that does nothing is more likely a mistake.
  need(o.label_smoothing == 0 || (o.loss_type != DpoLossType::Hinge && o.loss_type != DpoLossType::Ipo),
       "label_smoothing",
       std::string("has no effect with loss_type ") + config::name_of(kDpoLossNames, o.loss_type) + "; leave it at 0");
  need(std::isfinite(o.simpo_gamma) && o.simpo_gamma >= 0, "simpo_gamma", "must be >= 0");
  need(std::isfinite(o.sft_weight) && o.sft_weight >= 0, "sft_weight", "must be >= 0");
}

DpoLossOutput dpo_loss(const DpoBatchLogps& b, const DpoLossOptions& o) {
  check_dpo_options(o);
  const DpoLossType type = o.loss_type;
  const std::string type_name = config::name_of(kDpoLossNames, type);
  const bool simpo = type == DpoLossType::Simpo;
  const bool norm = length_normalised(type);
  const bool need_tokens = norm || o.sft_weight > 0;

  if (!b.policy_chosen.defined() || !b.policy_rejected.defined())
    fail_internal("dpo_loss", "policy log-probs are missing");
  const int64_t B = b.policy_chosen.dim() == 1 ? b.policy_chosen.size(0) : -1;
  if (B < 1) fail_internal("dpo_loss", "policy_chosen must be a non-empty (B,) tensor");
  check_shape(b.policy_chosen, "policy_chosen", B);
  check_shape(b.policy_rejected, "policy_rejected", B);
  if (simpo) {
    if (b.ref_chosen.defined() || b.ref_rejected.defined())
      fail("dpo.loss_type", "simpo is reference-free, but reference log-probs were given");
  } else {
    if (!b.ref_chosen.defined() || !b.ref_rejected.defined())
      fail("dpo.loss_type", "loss type " + type_name + " needs reference log-probs");
    check_shape(b.ref_chosen, "ref_chosen", B);
    check_shape(b.ref_rejected, "ref_rejected", B);
  }
  if (need_tokens) {
    if (!b.chosen_tokens.defined() || !b.rejected_tokens.defined())
      fail_internal("dpo_loss", "token counts are needed by " + type_name + (o.sft_weight > 0 ? " / sft_weight" : ""));
    check_shape(b.chosen_tokens, "chosen_tokens", B);
    check_shape(b.rejected_tokens, "rejected_tokens", B);
    const double min_len = torch::minimum(b.chosen_tokens.min(), b.rejected_tokens.min()).item<double>();
    if (!(min_len > 0)) fail("dpo_loss", "a response has no tokens (length must be > 0)");
  }

  // At least fp32 for the loss, whatever the log-probs came in.
  const auto dtype = b.policy_chosen.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  auto as = [&](const torch::Tensor& t) { return t.to(dtype); };
  torch::Tensor pc = as(b.policy_chosen), pr = as(b.policy_rejected);  // (B,)
  torch::Tensor lc, lr;                                                 // (B,) token counts
  if (need_tokens) lc = as(b.chosen_tokens), lr = as(b.rejected_tokens);
  torch::Tensor rc, rr;  // (B,) reference, undefined for simpo
  if (!simpo) rc = as(b.ref_chosen), rr = as(b.ref_rejected);
  if (norm) {
    pc = pc / lc, pr = pr / lr;
    if (!simpo) rc = rc / lc, rr = rr / lr;
  }

  const double beta = o.beta, ls = o.label_smoothing;
  torch::Tensor logits;  // (B,)
  if (simpo)
    logits = (pc - pr) - o.simpo_gamma / beta;
  else
    logits = (pc - rc) - (pr - rr);

  torch::Tensor losses;  // (B,)
  switch (type) {
    case DpoLossType::Sigmoid:
    case DpoLossType::SigmoidNorm:
    case DpoLossType::Simpo:
      losses = -torch::log_sigmoid(beta * logits) * (1 - ls) - torch::log_sigmoid(-beta * logits) * ls;
      break;
    case DpoLossType::Robust:
      losses = (-torch::log_sigmoid(beta * logits) * (1 - ls) + torch::log_sigmoid(-beta * logits) * ls) / (1 - 2 * ls);
      break;
    case DpoLossType::Hinge:
      losses = torch::relu(1 - beta * logits);
      break;
    case DpoLossType::Ipo:
      losses = (logits - 1 / (2 * beta)).pow(2);
      break;
  }

  DpoLossOutput out;
  out.loss = losses.mean();
  if (o.sft_weight > 0) {
    // Per-token NLL of the chosen response, always from the summed log-prob.
    out.loss = out.loss + o.sft_weight * (-as(b.policy_chosen) / lc).mean();
  }

  torch::NoGradGuard no_grad;
  if (simpo) {
    out.chosen_rewards = (beta * pc).detach();
    out.rejected_rewards = (beta * pr).detach();
  } else {
    out.chosen_rewards = (beta * (pc - rc)).detach();
    out.rejected_rewards = (beta * (pr - rr)).detach();
  }
  const auto& cr = out.chosen_rewards;
  const auto& rj = out.rejected_rewards;
  out.metrics["rewards/chosen"] = cr.mean().item<double>();
  out.metrics["rewards/rejected"] = rj.mean().item<double>();
  out.metrics[contract::metric::kRewardsAccuracies] = (cr > rj).to(torch::kDouble).mean().item<double>();
  out.metrics[contract::metric::kRewardsMargins] = (cr - rj).mean().item<double>();
  out.metrics["logps/chosen"] = pc.detach().mean().item<double>();
  out.metrics["logps/rejected"] = pr.detach().mean().item<double>();
  return out;
}

}  // namespace srl::train
