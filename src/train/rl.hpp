// Online RL for the support policy: one trainer, two reward sources.
//  - direct preference RL: the G rollouts of a prompt are compared pairwise by a judge (the simulated
//    annotator panel, a reward model's pairwise probability, or the helpfulness heuristic that eval/
//    injects) in a tournament; reward = win-minus-loss fraction;
//  - reward-model RL: reward = a trained reward model's score of each rollout.
// Shared machinery (rl_core.hpp): group-relative advantages, KL to the reference (the same weights with
// the LoRA adapters off) as reward shaping or a loss term, the PPO clipped policy loss over num_substeps
// minibatch updates per batch of rollouts. Each step: sample prompts_per_step x rollouts_per_prompt
// rollouts in one batched generate call -> rewards (judge calls batched per step) -> reference log-probs
// -> updates. metrics.jsonl, rollouts.jsonl, an evaluation hook (panel win rate against the starting
// policy on held-out prompts), atomic checkpoints and exact --resume. See docs/rl.md.
//
// The pieces, one file each: rl_config.hpp (the `rl:` section and its checks), rl_rewards.hpp (reward
// sources and judges), rl_prompts.hpp (the prompt file), rl_step.hpp (the step's phases and metrics row),
// rl_core.hpp (the arithmetic). This header adds the entry point; rl.cpp wires them into the training
// loop (training_run.hpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "train/compute.hpp"
#include "train/rl_config.hpp"
#include "train/rl_prompts.hpp"
#include "train/rl_rewards.hpp"

namespace srl::train {

struct RlOptions {
  RlMode mode = RlMode::DirectPreference;
  bool resume = false;           // continue from the newest complete checkpoint in output_dir
  int64_t stop_after_step = -1;  // end early after saving this step (simulates an interruption)
  bool progress = true;
  // Injected reward sources (tests, extensions): used instead of the configured judge / reward model.
  std::shared_ptr<PairwiseJudge> judge;
  std::shared_ptr<RewardSource> reward_source;
  // Training-time evaluators: called by the evaluation hook with the policy's greedy replies; the returned
  // metrics are logged with an "eval/" prefix. Empty: none (train/ does not know the evaluator registry).
  std::function<std::map<std::string, double>(const std::vector<RolloutText>& replies)> eval_callback;
};

struct RlResult {
  int64_t step = 0;
  std::map<std::string, double> last;  // the last step's numeric metrics
  std::map<std::string, double> eval;  // the last evaluation ("eval/panel_win_rate", ...)
  std::string checkpoint_dir;
};

RlResult run_rl(const RlConfig& cfg, const ComputeSection& compute, const RlOptions& opt);

}  // namespace srl::train
