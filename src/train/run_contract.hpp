// The run-directory contract between the trainers and their readers (the comparison report, the
// pipeline): the file names a training run leaves, the "stage" each trainer stamps on its metrics rows,
// the metric keys, the config.yaml keys and the reward model's eval.json keys that are read back.
// Writers and readers spell each name through these constants, so renaming one is one edit and a
// reader cannot drift from its writer. Constants only: no libtorch, no code. docs/report_format.md
// lists who writes and who reads each one.
#pragma once

namespace srl::train::contract {

// ---- files in a run directory
inline constexpr const char* kMetricsFile = "metrics.jsonl";    // one JSON object per logged step
inline constexpr const char* kConfigFile = "config.yaml";       // the resolved config the run used
inline constexpr const char* kEvalFile = "eval.json";           // reward model, DPO: the last held-out evaluation
inline constexpr const char* kRolloutsFile = "rollouts.jsonl";  // RL: sampled rollouts of some steps

// ---- the trainers, as each writes itself into every metrics.jsonl row's "stage"
namespace stage {
inline constexpr const char* kSft = "sft";
inline constexpr const char* kDpo = "dpo";
inline constexpr const char* kRewardModel = "reward_model";
inline constexpr const char* kDirectPreferenceRl = "direct_preference_rl";
inline constexpr const char* kRewardModelRl = "reward_model_rl";
inline constexpr const char* kAll[] = {kSft, kDpo, kRewardModel, kDirectPreferenceRl, kRewardModelRl};
}  // namespace stage

// ---- metrics.jsonl keys. Every row with a "step" also has a "stage".
namespace metric {
inline constexpr const char* kStep = "step";
inline constexpr const char* kStage = "stage";
inline constexpr const char* kEvalPrefix = "eval/";  // held-out evaluation metrics
// every stage
inline constexpr const char* kLoss = "loss";
// sft
inline constexpr const char* kEvalNll = "eval_nll";  // not read by the report
// dpo (and its held-out evaluation, the same names prefixed "eval/")
inline constexpr const char* kEvalLoss = "eval/loss";  // also the reward model's
inline constexpr const char* kRewardsAccuracies = "rewards/accuracies";
inline constexpr const char* kRewardsMargins = "rewards/margins";
inline constexpr const char* kEvalRewardsAccuracies = "eval/rewards/accuracies";
// reward_model
inline constexpr const char* kAccuracy = "accuracy";
inline constexpr const char* kEvalAccuracy = "eval/accuracy";
// direct_preference_rl, reward_model_rl
inline constexpr const char* kRewardMean = "reward_mean";
inline constexpr const char* kKl = "kl";
inline constexpr const char* kEntropy = "entropy";
inline constexpr const char* kResponseLength = "response_length";
inline constexpr const char* kWinRate = "win_rate";  // not read by the report
inline constexpr const char* kEvalPanelWinRate = "eval/panel_win_rate";
inline constexpr const char* kEvalRewardMean = "eval/reward_mean";  // also the reward model's
}  // namespace metric

// ---- config.yaml keys that say what one optimizer step consumes
namespace config {
inline constexpr const char* kTrain = "train";                // sft, dpo; reward_model under kRewardModel
inline constexpr const char* kRewardModel = "reward_model";   // the reward model's top-level section
inline constexpr const char* kBatchSize = "batch_size";       // examples (sft) or pairs per micro-batch
inline constexpr const char* kGradAccum = "grad_accum";       // micro-batches per optimizer step
inline constexpr const char* kRl = "rl";                      // both RL trainers' top-level section
inline constexpr const char* kRollout = "rollout";            // rl.rollout
inline constexpr const char* kPromptsPerStep = "prompts_per_step";  // rl.rollout.prompts_per_step
}  // namespace config

// ---- the reward model's eval.json (train::reward_eval_json), as the report reads it
namespace reward_eval {
inline constexpr const char* kAccuracy = "accuracy";
inline constexpr const char* kEce = "ece";
inline constexpr const char* kNonTie = "non_tie";
inline constexpr const char* kLabelCeiling = "label_ceiling";  // {agreement, bayes_accuracy, source}
inline constexpr const char* kAgreement = "agreement";
inline constexpr const char* kBayesAccuracy = "bayes_accuracy";
inline constexpr const char* kSource = "source";
inline constexpr const char* kReliability = "reliability";  // [{lo, hi, count, mean_confidence, observed}]
inline constexpr const char* kLo = "lo";
inline constexpr const char* kHi = "hi";
inline constexpr const char* kCount = "count";
inline constexpr const char* kMeanConfidence = "mean_confidence";
inline constexpr const char* kObserved = "observed";
}  // namespace reward_eval

}  // namespace srl::train::contract
