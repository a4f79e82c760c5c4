#include "train/rl_config.hpp"

#include <cmath>

#include "core/error.hpp"
#include "train/run_contract.hpp"

namespace srl::train {

namespace {

void need(bool ok, const std::string& key, const std::string& what) {
  if (!ok) fail("config: rl." + key, what);
}

bool finite(double x) { return std::isfinite(x); }

}  // namespace

const char* rl_stage_name(RlMode mode) {
  return mode == RlMode::DirectPreference ? contract::stage::kDirectPreferenceRl : contract::stage::kRewardModelRl;
}

void check_rl_config(const RlConfig& c, RlMode mode, bool check_reward_source) {
  need(!c.output_dir.empty(), "output_dir", "must not be empty");
  need(c.data.max_prompt_len >= 2, "data.max_prompt_len", "must be at least 2");
  need(c.data.eval_prompts >= 0, "data.eval_prompts", "must be >= 0");
  const auto& r = c.rollout;
  need(r.rollouts_per_prompt >= 1, "rollout.rollouts_per_prompt", "must be positive");
  need(r.prompts_per_step >= 1, "rollout.prompts_per_step", "must be positive");
  need(r.max_new_tokens >= 1, "rollout.max_new_tokens", "must be positive");
  need(finite(r.temperature) && r.temperature > 0, "rollout.temperature",
       "must be positive (the ratio and KL need the sampling distribution; greedy decoding has none)");
  need(finite(r.truncation_penalty) && r.truncation_penalty >= 0, "rollout.truncation_penalty", "must be >= 0");
  const auto& w = c.reward;
  if (mode == RlMode::DirectPreference) {
    need(r.rollouts_per_prompt >= 2, "rollout.rollouts_per_prompt",
         "a pairwise judge compares rollouts of the same prompt: needs at least 2 (got " +
             std::to_string(r.rollouts_per_prompt) + ")");
    if (check_reward_source) {
      need(w.judge != JudgeKind::Heuristic, "reward.judge",
           "heuristic is the evaluation layer's rubric (eval::make_heuristic_judge): pass it as RlOptions::judge, "
           "as `supportrl direct-preference-rl` does");
      need(w.judge != JudgeKind::RewardModel || !w.reward_model.empty(), "reward.reward_model",
           "judge: reward_model needs the path of a trained reward model");
    }
  } else if (check_reward_source) {
    need(!w.reward_model.empty(), "reward.reward_model", "reward-model RL needs the path of a trained reward model");
  }
  need(w.chunk_size >= 2, "reward.chunk_size", "must be at least 2");
  need(finite(w.tie_margin) && w.tie_margin >= 0 && w.tie_margin < 0.5, "reward.tie_margin", "must be in [0, 0.5)");
  need(w.panel_seed >= 0, "reward.panel_seed", "must be >= 0");
  need(w.batch_size >= 1, "reward.batch_size", "must be positive");
  const auto& o = c.objective;
  need(finite(o.kl_beta) && o.kl_beta >= 0, "objective.kl_beta", "must be >= 0");
  need(finite(o.clip_eps) && o.clip_eps > 0, "objective.clip_eps", "must be positive");
  need(o.num_substeps >= 1, "objective.num_substeps", "must be positive");
  need(!o.online_dpo || (finite(o.dpo_beta) && o.dpo_beta > 0), "objective.dpo_beta", "must be positive");
  need(!o.online_dpo || r.rollouts_per_prompt >= 2, "objective.online_dpo",
       "pairs the best and worst rollout of a group: needs rollouts_per_prompt >= 2");
  need(r.prompts_per_step % o.num_substeps == 0, "objective.num_substeps",
       "must divide rollout.prompts_per_step (" + std::to_string(r.prompts_per_step) +
           ") so every minibatch holds whole prompt groups");
  need(finite(o.entropy_coef) && o.entropy_coef >= 0, "objective.entropy_coef", "must be >= 0");
  const auto& t = c.train;
  check_train_loop(t, "rl.");
  need(t.win_rate_every >= 0, "train.win_rate_every", "must be >= 0");
  need(t.rollout_log_every >= 0, "train.rollout_log_every", "must be >= 0");
  need(t.rollout_log_prompts >= 0, "train.rollout_log_prompts", "must be >= 0");
  need(t.hacking_window >= 0, "train.hacking_window", "must be >= 0");
  check_lora_section(c.lora, "rl.");
  need(c.lora.lora_rank > 0, "lora.lora_rank",
       "RL trains LoRA adapters: the KL reference is the same weights with the adapters off (set a rank > 0)");
  need(c.lora.lora_dropout == 0, "lora.lora_dropout",
       "must be 0 for RL: dropout would make the policy's log-probs (and the importance ratio) noisy");
}

}  // namespace srl::train
