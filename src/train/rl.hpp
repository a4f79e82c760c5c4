// Online RL for the support policy: one trainer, two reward sources.
//  - direct preference RL: the G rollouts of a prompt are compared pairwise by a judge (the simulated
//    annotator panel, a reward model's pairwise probability, later the helpfulness heuristic) in a
//    tournament; reward = win-minus-loss fraction;
//  - reward-model RL: reward = a trained reward model's score of each rollout.
// Shared machinery (rl_core.hpp): group-relative advantages, KL to the reference (the same weights with
// the LoRA adapters off) as reward shaping or a loss term, the PPO clipped policy loss over num_substeps
// minibatch updates per batch of rollouts. Each step: sample prompts_per_step x rollouts_per_prompt
// rollouts in one batched generate call -> rewards (judge calls batched per step) -> reference log-probs
// -> updates. metrics.jsonl, rollouts.jsonl, an evaluation hook (panel win rate against the starting
// policy on held-out prompts), atomic checkpoints and exact --resume. See docs/rl.md.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "text/chat_format.hpp"
#include "train/compute.hpp"
#include "train/reward_model_train.hpp"
#include "train/sft.hpp"

namespace srl::train {

// ---- Reward sources -----------------------------------------------------------------------------------------

// One rollout as reward sources see it.
struct RolloutText {
  std::vector<text::Message> conversation;  // the prompt (ends with the user turn being answered)
  std::string response;                     // the decoded reply, without its stop token
  int64_t tokens = 0;                       // sampled tokens, the stop token included
  bool finished = true;                     // ended with a stop token (false: hit max_new_tokens)
};

// A scalar reward per rollout (reward-model RL). One call per step with every rollout of the step.
class RewardSource {
 public:
  virtual ~RewardSource() = default;
  virtual std::string name() const = 0;
  virtual std::vector<double> score(const std::vector<const RolloutText*>& rollouts) = 0;
};

// A pairwise judge (direct preference RL): P(a beats b) for each pair, both answers to the same
// conversation, a shown first. One call per step with every comparison of the step's tournaments.
class PairwiseJudge {
 public:
  virtual ~PairwiseJudge() = default;
  virtual std::string name() const = 0;
  virtual std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) = 0;
};

// The default annotator panel of `data generate --seed panel_seed` (data::dataset_panel) as a judge:
// the oracle the synthetic data was labelled with.
std::shared_ptr<PairwiseJudge> make_panel_judge(uint64_t panel_seed);

// ---- Configuration -------------------------------------------------------------------------------------------

struct RlData {
  std::string prompt_file = "data/support_prompts.jsonl";
  std::string on_invalid = "error";
  int64_t max_prompt_len = 192;
  std::string eval_prompt_file = "data/support_eval_prompts.jsonl";
  int64_t eval_prompts = 32;
  template <class V>
  void visit(V& v) {
    v("prompt_file", prompt_file, "JSONL prompts {\"prompt\"} or {\"messages\"} (+ tags); --prompt-file overrides");
    v.choice("on_invalid", on_invalid, {"error", "skip"}, "a malformed prompt line: stop (error) or log and skip it");
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

struct RlReward {
  std::string judge = "panel";
  std::string reward_model;
  bool standardize = false;
  std::string tournament = "all_pairs";
  int64_t chunk_size = 4;
  std::string outcome = "soft";
  double tie_margin = 0.0;
  int64_t panel_seed = 0;
  int64_t batch_size = 16;
  template <class V>
  void visit(V& v) {
    v.choice("judge", judge, {"panel", "reward_model", "heuristic"},
             "direct preference RL: who compares two rollouts (panel = the simulated annotators, an oracle)");
    v("reward_model", reward_model, "reward model run/checkpoint (reward-model RL, and judge: reward_model)");
    v("standardize", standardize, "reward-model RL: (score - mean) / std with the reward model's training statistics");
    v.choice("tournament", tournament, {"all_pairs", "all_pairs_both_orders", "chunked"},
             "which rollouts of a group the judge compares");
    v("chunk_size", chunk_size, "chunked tournament: group size of each all-pairs chunk (cost linear in G)");
    v.choice("outcome", outcome, {"soft", "hard"}, "a comparison's credit: P(a beats b) itself, or 1/0/0.5");
    v("tie_margin", tie_margin, "hard outcome: |P - 0.5| <= this is a tie");
    v("panel_seed", panel_seed, "the panel of `data generate --seed N` (judge: panel, and the evaluation hook)");
    v("batch_size", batch_size, "reward model: responses per scoring forward");
  }
};

struct RlObjective {
  double kl_beta = 0.1;
  std::string kl_estimator = "k1";
  std::string kl_mode = "reward";
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
    v.choice("kl_estimator", kl_estimator, {"k1", "k3"}, "per-token KL estimate: k1 = logp - ref, k3 = (r-1) - log r");
    v.choice("kl_mode", kl_mode, {"reward", "loss"},
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

struct RlTrain {
  int64_t max_steps = 200;
  double learning_rate = 5e-6;
  double weight_decay = 0.0;
  std::string schedule = "constant";
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.1;
  double max_grad_norm = 1.0;
  int64_t save_every = 50;
  int64_t log_every = 1;
  int64_t keep_checkpoints = 2;
  int64_t win_rate_every = 1;
  int64_t rollout_log_every = 10;
  int64_t rollout_log_prompts = 2;
  int64_t eval_every = 50;
  int64_t hacking_window = 10;
  int64_t seed = 0;
  // Evaluators run on the evaluation hook's replies (docs/evaluators.md): names or name=command.
  std::vector<std::string> evaluators = {"support_helpfulness", "safety_guardrails"};
  template <class V>
  void visit(V& v) {
    v("max_steps", max_steps, "RL steps (each: one batch of rollouts, num_substeps optimizer updates)");
    v("learning_rate", learning_rate, "peak learning rate (of the LoRA adapters)");
    v("weight_decay", weight_decay, "AdamW decoupled weight decay");
    v.choice("schedule", schedule, {"cosine", "linear", "constant"}, "decay after warm-up (over optimizer updates)");
    v("warmup_steps", warmup_steps, "linear warm-up, in optimizer updates");
    v("min_lr_ratio", min_lr_ratio, "decay floor as a fraction of the peak");
    v("max_grad_norm", max_grad_norm, "gradient clipping (0 = off)");
    v("save_every", save_every, "checkpoint every N steps (0 = only at the end)");
    v("log_every", log_every, "metrics.jsonl row every N steps");
    v("keep_checkpoints", keep_checkpoints, "how many recent checkpoints to keep");
    v("win_rate_every", win_rate_every,
      "every N steps the reference also answers each prompt; win_rate = the rollouts' rate against it (0 = never)");
    v("rollout_log_every", rollout_log_every,
      "every N steps write some prompts with all their rollouts to rollouts.jsonl (0 = never)");
    v("rollout_log_prompts", rollout_log_prompts, "how many prompts of the step go to rollouts.jsonl");
    v("eval_every", eval_every,
      "panel win rate against the starting policy on held-out prompts every N steps (0 = only at the end)");
    v("hacking_window", hacking_window, "steps per window of the reward-hacking warning (0 = off)");
    v("seed", seed, "prompt order and sampling seed");
    v("evaluators", evaluators,
      "evaluators run on the evaluation replies, logged as eval/<name>/<score> (names or name=command)");
  }
};

struct RlConfig {
  std::string output_dir = "runs/rl";
  ModelSection model = [] {
    ModelSection m;
    m.init = "runs/sft";
    return m;
  }();
  RlData data;
  RlRollout rollout;
  RlReward reward;
  RlObjective objective;
  RlTrain train;
  LoraSection lora = [] {
    LoraSection l;
    l.lora_rank = 16;
    l.lora_alpha = 32.0;
    return l;
  }();
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
    c.reward.judge = "reward_model";
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

// Config problems that need no files: srl::fail("config: rl.<key>", ...). Includes a pairwise judge with
// rollouts_per_prompt 1, reward-model RL without reward.reward_model, lora_rank 0 (the reference is the
// adapters-off model) and LoRA dropout (it would make the importance ratio noisy). check_reward_source
// false skips the judge / reward-model checks (a source is injected through RlOptions).
void check_rl_config(const RlConfig& c, RlMode mode, bool check_reward_source = true);

// One prompt of a prompt file: {"prompt": "..."} or {"messages": [...ending with a user turn]}, optional
// "tags" and "id". Malformed lines are srl::fail("FILE:LINE", ...) (on_invalid error) or logged and
// counted (skip); a file without prompts is srl::fail(FILE).
struct RlPrompt {
  std::vector<text::Message> conversation;
  std::string id;
  nlohmann::json tags = nlohmann::json::object();
};
std::vector<RlPrompt> load_rl_prompts(const std::string& path, bool skip_invalid, int64_t* skipped = nullptr);

RlResult run_rl(const RlConfig& cfg, const ComputeSection& compute, const RlOptions& opt);

}  // namespace srl::train
