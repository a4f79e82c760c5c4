// One step of online RL (rl.hpp) as four phases with their inputs and outputs, plus the metrics row:
//
//   sample_rollouts   P prompts x G rollouts in one batched generate call (+ the reference's replies
//                     when the step measures the win rate)
//   score_rollouts    rewards: one batched call to the judge (tournaments) or the reward model
//   rollout_reference log-probs without gradient: the reference (adapters off) and, where the update
//                     cannot take them from its own forward, the sampling policy's ("old")
//   update_policy     num_substeps optimizer updates, one per minibatch of whole prompt groups: the
//                     clipped group-relative loss (or online DPO) with KL and entropy terms
//   metrics_row       the step's metrics.jsonl row
//
// Shapes: R = P * G rollouts per step, prompt-major (rollout g of prompt i is row i * G + g); each of
// the K = num_substeps minibatches holds PK = P / K prompts, so R_k = PK * G rows, T_k its longest
// response. Per-token tensors are (R_k, T_k), right-padded, with a float mask.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/generate.hpp"
#include "model/llama.hpp"
#include "text/tokenizer.hpp"
#include "train/optim.hpp"
#include "train/rl_config.hpp"
#include "train/rl_core.hpp"
#include "train/rl_prompts.hpp"
#include "train/rl_rewards.hpp"
#include "train/rollout_logps.hpp"

namespace srl::train {

// What every step reads and no step changes.
struct RlStepContext {
  const RlConfig& cfg;
  bool pairwise;                    // direct preference RL (a judge) rather than reward-model RL (a scorer)
  model::Llama& m;
  const text::Tokenizer& tok;
  const Compute& cmp;
  const std::vector<RlPrompt>& prompts;
  const std::vector<std::vector<int64_t>>& prompt_tokens;  // (prompts) rendered generation prompts
  const std::vector<std::pair<std::string, torch::Tensor>>& params;
  PairwiseJudge* judge = nullptr;   // pairwise
  RewardSource* scorer = nullptr;   // !pairwise
  std::string source_name;          // "reward source 'panel'", for error messages
  std::vector<Comparison> comparisons;  // one group's tournament
  model::SamplingParams sampling;   // rollout sampling (seed set per step)
  bool shape_kl = false;            // KL subtracted from the reward (needs every KL before the update)
  int64_t G = 0, P = 0, K = 0, PK = 0;
};
RlStepContext make_step_context(const RlConfig& cfg, bool pairwise, model::Llama& m, const text::Tokenizer& tok,
                                const Compute& cmp, const std::vector<RlPrompt>& prompts,
                                const std::vector<std::vector<int64_t>>& prompt_tokens,
                                const std::vector<std::pair<std::string, torch::Tensor>>& params);

// The seed of one of a step's sampling calls (salt 1: rollouts, 2: the reference's replies).
uint64_t step_seed(int64_t seed, int64_t step, uint64_t salt);
// A generation decoded for the reward sources.
RolloutText to_text(const text::Tokenizer& tok, const std::vector<text::Message>& conv, const model::Generation& g);

// Phase 1.
struct Rollouts {
  std::vector<int64_t> prompt_index;         // (P) into ctx.prompts
  std::vector<model::Generation> gens;       // (R)
  std::vector<RolloutText> texts;            // (R)
  std::vector<model::Generation> ref_gens;   // (P) the starting policy's replies, or empty
  std::vector<RolloutText> ref_texts;        // (P) or empty
  int64_t gen_tokens = 0;                    // sampled tokens, reference replies included
  int64_t truncated = 0;                     // rollouts cut at max_new_tokens
  double seconds = 0;
};
// `step` is the 1-based step being made (it seeds the sampling and decides the win-rate cadence).
Rollouts sample_rollouts(const RlStepContext& ctx, std::vector<int64_t> prompt_index, int64_t step);

// Phase 2.
struct Rewards {
  std::vector<double> reward;       // (R) tournament or reward-model reward, minus the truncation penalty
  std::vector<double> win_vs_ref;   // (R) each rollout against its prompt's reference reply, or empty
  std::optional<double> decisive;   // share of tournament comparisons that were not ties
  double seconds = 0;
};
Rewards score_rollouts(const RlStepContext& ctx, const Rollouts& r);

// Phase 3.
struct StepLogps {
  std::vector<RolloutBatch> minibatches;  // (K) whole prompt groups each
  std::vector<torch::Tensor> ref;         // (K) of (R_k, T_k) reference log-probs, detached
  std::vector<torch::Tensor> old;         // (K) of (R_k, T_k) sampling policy's; undefined where phase 4 fills it
  std::vector<torch::Tensor> mask;        // (K) of (R_k, T_k)
  double seconds = 0;
};
StepLogps rollout_reference(const RlStepContext& ctx, const Rollouts& r);
// (R) sequence KL of the sampling policy to the reference, minibatch k's rows filled (the others kept).
void fill_sequence_kl(const RlStepContext& ctx, const StepLogps& lp, int64_t k, std::vector<double>& seq_kl);

// Phase 4.
struct UpdateStats {
  double loss_sum = 0, grad_norm_last = 0, lr = 0;
  double clip_sum = 0, ratio_sum = 0, ratio_max = 0, drift_sum = 0;  // token-weighted sums
  double entropy_sum = 0, kl_token_sum = 0, tokens = 0;             // token-weighted sums; response tokens
  int64_t train_tokens = 0;   // prompt + response tokens through the training forward
  int64_t dpo_pairs = 0;      // online DPO pairs used
  double seconds = 0;
};
struct UpdateInputs {
  const std::vector<double>& reward;      // (R) for online DPO's best/worst
  const std::vector<double>& advantages;  // (R)
  AdamW& optim;
  const ScheduleOptions& schedule;
  int64_t first_update;                   // optimizer updates before this step (step index * K)
  int64_t step;                           // 1-based, for error messages
  const std::string& last_checkpoint;     // what a non-finite stop names
};
UpdateStats update_policy(const RlStepContext& ctx, StepLogps& lp, const UpdateInputs& in);

// Mean |sampler log-prob - training forward's old log-prob| per response token (the inference/training
// mismatch, ~1e-6 in fp32).
double sampler_logp_diff(const RlStepContext& ctx, const Rollouts& r, const StepLogps& lp, double tokens);

// Phase 5: the step's metrics row (without step/stage/epoch, which the training loop adds).
nlohmann::json metrics_row(const RlStepContext& ctx, const Rollouts& r, const Rewards& w,
                           const std::vector<double>& shaped, const std::vector<double>& seq_kl,
                           const UpdateStats& u, double sampler_diff);

}  // namespace srl::train
