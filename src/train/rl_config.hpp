// The configuration of online RL (rl.hpp): the `rl:` section of configs/rl_direct_preference.yaml and
// configs/rl_reward_model.yaml, its choices as enums, and the checks that need no files. docs/rl.md
// explains every key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/names.hpp"
#include "data/preference.hpp"
#include "train/compute.hpp"
#include "train/config_sections.hpp"
#include "train/reward_model_train.hpp"
#include "train/rl_core.hpp"

namespace srl::train {

struct RlData {
  std::string prompt_file = "data/support_prompts.jsonl";
  data::OnInvalid on_invalid = data::OnInvalid::Error;
  int64_t max_prompt_len = 192;
  std::string eval_prompt_file = "data/support_eval_prompts.jsonl";
  int64_t eval_prompts = 32;
  template <class V>
  void visit(V& v) {
    v("prompt_file", prompt_file, "JSONL prompts {\"prompt\"} or {\"messages\"} (+ tags); --prompt-file overrides");
    v.choice("on_invalid", on_invalid, data::kOnInvalidNames, "a malformed prompt line: stop (error) or log and skip it");
    v("max_prompt_len", max_prompt_len, "longer prompts keep <s> and their newest tokens");
    v("eval_prompt_file", eval_prompt_file, "held-out prompts for the evaluation hook (empty: no evaluation)");
    v("eval_prompts", eval_prompts, "how many of them (the first N) are evaluated");
  }
};

struct RlRollout {
  int64_t rollouts_per_prompt = 4;
  int64_t prompts_per_step = 8;
  int64_t max_new_tokens = 96;
  double temperature = 1.0;
  double truncation_penalty = 0.0;
  template <class V>
  void visit(V& v) {
    v("rollouts_per_prompt", rollouts_per_prompt, "responses sampled per prompt (the group size G)");
    v("prompts_per_step", prompts_per_step, "prompts per step; one generate call samples all their rollouts");
    v("max_new_tokens", max_new_tokens, "longest response; longer ones are cut and flagged as truncated");
    v("temperature", temperature, "sampling temperature; log-probs, KL and ratios use the same temperature");
    v("truncation_penalty", truncation_penalty, "subtracted from the reward of a response cut at max_new_tokens");
  }
};

// Who compares two rollouts in direct preference RL.
enum class JudgeKind { Panel, RewardModel, Heuristic };
inline constexpr config::Names<JudgeKind, 3> kJudgeNames{
    {{"panel", JudgeKind::Panel}, {"reward_model", JudgeKind::RewardModel}, {"heuristic", JudgeKind::Heuristic}}};

struct RlReward {
  JudgeKind judge = JudgeKind::Panel;
  std::string reward_model;
  bool standardize = false;
  TournamentPattern tournament = TournamentPattern::AllPairs;
  int64_t chunk_size = 4;
  OutcomeMode outcome = OutcomeMode::Soft;
  double tie_margin = 0.0;
  int64_t panel_seed = 0;
  int64_t batch_size = 16;
  template <class V>
  void visit(V& v) {
    v.choice("judge", judge, kJudgeNames,
             "direct preference RL: who compares two rollouts (panel = the simulated annotators, an oracle)");
    v("reward_model", reward_model, "reward model run/checkpoint (reward-model RL, and judge: reward_model)");
    v("standardize", standardize, "reward-model RL: (score - mean) / std with the reward model's training statistics");
    v.choice("tournament", tournament, kTournamentNames,
             "which rollouts of a group the judge compares");
    v("chunk_size", chunk_size, "chunked tournament: group size of each all-pairs chunk (cost linear in G)");
    v.choice("outcome", outcome, kOutcomeModeNames, "a comparison's credit: P(a beats b) itself, or 1/0/0.5");
    v("tie_margin", tie_margin, "hard outcome: |P - 0.5| <= this is a tie");
    v("panel_seed", panel_seed, "the panel of `data generate --seed N` (judge: panel, and the evaluation hook)");
    v("batch_size", batch_size, "reward model: responses per scoring forward");
  }
};

// How the KL to the reference enters: subtracted from the reward, or added to the loss.
enum class KlMode { Reward, Loss };
inline constexpr config::Names<KlMode, 2> kKlModeNames{{{"reward", KlMode::Reward}, {"loss", KlMode::Loss}}};

struct RlObjective {
  double kl_beta = 0.1;
  KlEstimator kl_estimator = KlEstimator::K1;
  KlMode kl_mode = KlMode::Reward;
  double clip_eps = 0.2;
  int64_t num_substeps = 1;
  bool std_normalize = false;
  bool leave_one_out = false;
  double entropy_coef = 0.0;
  bool online_dpo = false;
  double dpo_beta = 0.1;
  template <class V>
  void visit(V& v) {
    v("kl_beta", kl_beta, "weight of the KL to the reference (adapters off); 0 = none (still reported)");
    v.choice("kl_estimator", kl_estimator, kKlEstimatorNames, "per-token KL estimate: k1 = logp - ref, k3 = (r-1) - log r");
    v.choice("kl_mode", kl_mode, kKlModeNames,
             "reward: subtract kl_beta * sequence KL from the reward; loss: add kl_beta * token-mean KL to the loss");
    v("clip_eps", clip_eps, "PPO clip range of the importance ratio");
    v("num_substeps", num_substeps, "minibatch updates per batch of rollouts (prompts_per_step must divide evenly)");
    v("std_normalize", std_normalize, "divide advantages by the group's reward standard deviation (GRPO)");
    v("leave_one_out", leave_one_out, "baseline = mean reward of the other rollouts of the group (RLOO)");
    v("entropy_coef", entropy_coef, "subtract entropy_coef * token-mean entropy from the loss");
    v("online_dpo", online_dpo,
      "instead of the clipped policy loss: a DPO update on each group's best vs worst rollout (by reward)");
    v("dpo_beta", dpo_beta, "online_dpo: beta of the sigmoid DPO loss");
  }
};

// `train:` of RL: the shared fields (config_sections.hpp; a step is one batch of rollouts, num_substeps
// optimizer updates) with RL's defaults, plus the rollout log, win rate and reward-hacking settings.
struct RlTrain : TrainLoopSection {
  int64_t win_rate_every = 1;
  int64_t rollout_log_every = 10;
  int64_t rollout_log_prompts = 2;
  int64_t hacking_window = 10;
  // Evaluators run on the evaluation hook's replies (docs/evaluators.md): names or name=command.
  std::vector<std::string> evaluators = {"support_helpfulness", "safety_guardrails"};
  RlTrain() {
    learning_rate = 5e-6;
    schedule = Schedule::Constant;
    warmup_steps = 0;
    save_every = 50;
    log_every = 1;
  }
  template <class V>
  void visit(V& v) {
    visit_steps(v);
    visit_loop(v);
    v("win_rate_every", win_rate_every,
      "every N steps the reference also answers each prompt; win_rate = the rollouts' rate against it (0 = never)");
    v("rollout_log_every", rollout_log_every,
      "every N steps write some prompts with all their rollouts to rollouts.jsonl (0 = never)");
    v("rollout_log_prompts", rollout_log_prompts, "how many prompts of the step go to rollouts.jsonl");
    v("hacking_window", hacking_window, "steps per window of the reward-hacking warning (0 = off)");
    v("evaluators", evaluators,
      "evaluators run on the evaluation replies, logged as eval/<name>/<score> (names or name=command)");
  }
};

struct RlConfig {
  std::string output_dir = "runs/rl";
  ModelSection model = model_from("runs/sft");
  RlData data;
  RlRollout rollout;
  RlReward reward;
  RlObjective objective;
  RlTrain train;
  LoraSection lora = lora_adapters(16, 32.0);
  template <class V>
  void visit(V& v) {
    v("output_dir", output_dir, "run directory");
    v.section("model", model);
    v.section("data", data);
    v.section("rollout", rollout);
    v.section("reward", reward);
    v.section("objective", objective);
    v.section("train", train);
    v.section("lora", lora);
  }
};

// configs/rl_direct_preference.yaml: the run under `rl:` plus where it computes.
struct RlFileConfig {
  RlConfig rl;
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v.section("rl", rl);
    v.section("compute", compute);
  }
};

// configs/rl_reward_model.yaml, read by both train-reward-model (its `reward_model:` part) and
// reward-model-rl (`rl:`, whose reward.reward_model defaults to reward_model.output_dir): one file, so
// the RL run and the reward model it uses are configured side by side.
struct RlRewardModelFileConfig {
  RewardModelConfig reward_model;
  RlConfig rl = [] {
    RlConfig c;
    c.output_dir = "runs/rl_reward_model";
    c.reward.judge = JudgeKind::RewardModel;
    return c;
  }();
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v.section("reward_model", reward_model);
    v.section("rl", rl);
    v.section("compute", compute);
  }
  RewardModelFileConfig reward_model_stage() const { return {reward_model, compute}; }
};

enum class RlMode { DirectPreference, RewardModel };
const char* rl_stage_name(RlMode mode);  // "direct_preference_rl" | "reward_model_rl"

// Config problems that need no files: srl::fail("config: rl.<key>", ...). Includes a pairwise judge with
// rollouts_per_prompt 1, reward-model RL without reward.reward_model, lora_rank 0 (the reference is the
// adapters-off model) and LoRA dropout (it would make the importance ratio noisy). check_reward_source
// false skips the judge / reward-model checks (a source is injected through RlOptions).
void check_rl_config(const RlConfig& c, RlMode mode, bool check_reward_source = true);

}  // namespace srl::train
