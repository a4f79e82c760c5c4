// The DPO family of preference losses as pure tensor functions: sequence log-probs in, a scalar loss,
// the implicit rewards and TRL-named metrics out. No model, no batching, no optimiser here; the DPO
// trainer computes the log-probs (policy = adapters on, reference = adapters off) and calls dpo_loss.
//
// Conventions follow TRL (DPOTrainer.dpo_loss, CPOTrainer for SimPO). With, per pair,
//   pi_c, pi_r   policy log-probs of the chosen / rejected response (summed over response tokens)
//   ref_c, ref_r the same under the reference model
//   len_c, len_r response lengths in tokens
//   logits = (pi_c - ref_c) - (pi_r - ref_r)         ls = label_smoothing
// the per-pair losses are
//   sigmoid       -logsigmoid(beta*logits)*(1-ls) - logsigmoid(-beta*logits)*ls      (ls > 0: cDPO)
//   robust        (-logsigmoid(beta*logits)*(1-ls) + logsigmoid(-beta*logits)*ls) / (1-2ls)   (rDPO)
//   hinge         relu(1 - beta*logits)                                               (SLiC)
//   ipo           (logits - 1/(2*beta))^2, every log-prob first averaged over its tokens (as TRL does)
//   sigmoid_norm  the sigmoid loss, every log-prob first averaged over its tokens (length-normalised DPO)
//   simpo         reference-free: logits = pi_c/len_c - pi_r/len_r - gamma/beta, then the sigmoid loss
//                 (with label smoothing); gamma = simpo_gamma is the target reward margin itself, as in
//                 TRL's CPOConfig.simpo_gamma, so beta*logits = beta*(avg_c - avg_r) - gamma. (The SimPO
//                 repository's gamma_beta_ratio is simpo_gamma / beta here.)
// and loss = mean over the batch, plus sft_weight * mean(-pi_c/len_c) (per-token NLL of the chosen
// response, TRL's rpo_alpha term) when sft_weight > 0.
//
// Implicit rewards (detached): beta*(pi - ref) on the log-probs the loss uses (token averages for ipo and
// sigmoid_norm), beta*pi/len for simpo. Metrics (batch means, TRL names): rewards/chosen,
// rewards/rejected, rewards/accuracies (chosen > rejected strictly: a tie is not accurate),
// rewards/margins (chosen - rejected), logps/chosen, logps/rejected (the policy log-probs as the loss sees
// them: sums, or token averages for ipo, sigmoid_norm and simpo).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "core/names.hpp"

namespace srl::train {

enum class DpoLossType { Sigmoid, Ipo, Robust, Hinge, SigmoidNorm, Simpo };
inline constexpr config::Names<DpoLossType, 6> kDpoLossNames{{{"sigmoid", DpoLossType::Sigmoid},
                                                              {"ipo", DpoLossType::Ipo},
                                                              {"robust", DpoLossType::Robust},
                                                              {"hinge", DpoLossType::Hinge},
                                                              {"sigmoid_norm", DpoLossType::SigmoidNorm},
                                                              {"simpo", DpoLossType::Simpo}}};

struct DpoLossOptions {
  DpoLossType loss_type = DpoLossType::Sigmoid;
  double beta = 0.1;                  // > 0 (for ipo: the regulariser tau, target log-ratio gap 1/(2 beta))
  double label_smoothing = 0.0;       // [0, 0.5); sigmoid, sigmoid_norm, robust, simpo only
  double simpo_gamma = 0.5;           // SimPO target reward margin gamma (>= 0); logits shift by gamma/beta
  double sft_weight = 0.0;            // >= 0; weight of the per-token NLL of the chosen response
};

struct DpoBatchLogps {
  torch::Tensor policy_chosen, policy_rejected;  // (B,) summed log-probs under the policy (carry the graph)
  torch::Tensor ref_chosen, ref_rejected;        // (B,) same under the reference; undefined for simpo
  torch::Tensor chosen_tokens, rejected_tokens;  // (B,) response lengths in tokens (float, > 0); needed by
                                                 // ipo, sigmoid_norm, simpo and sft_weight > 0
};

struct DpoLossOutput {
  torch::Tensor loss;                              // scalar, mean over the batch (+ SFT term)
  torch::Tensor chosen_rewards, rejected_rewards;  // (B,) detached implicit rewards
  std::map<std::string, double> metrics;           // TRL names, see above
};

// Computes in at least fp32 (bf16/fp16 inputs are upcast); keeps double when given double.
DpoLossOutput dpo_loss(const DpoBatchLogps& b, const DpoLossOptions& o);

// Unknown loss type, beta <= 0, label_smoothing outside [0, 0.5) or given to a loss that ignores it
// (hinge, ipo), simpo_gamma < 0, sft_weight < 0, non-finite values: srl::fail(where + ".<option>", ...).
void check_dpo_options(const DpoLossOptions& o, const std::string& where = "dpo");

}  // namespace srl::train
