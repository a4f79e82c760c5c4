// `supportrl train-reward-model`: a Bradley-Terry reward model on preference pairs, starting from an SFT run
// (LoRA adapters or all weights, plus the value head), with A/B swap augmentation, held-out accuracy,
// calibration (ECE, reliability diagram) and the label-agreement ceiling, metrics.jsonl, atomic checkpoints
// and exact --resume. docs/reward_model.md describes the loss, the keys and eval.json.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "data/preference.hpp"
#include "train/compute.hpp"
#include "train/sft.hpp"
#include "train/training_run.hpp"

namespace srl::train {

struct RewardModelData {
  std::string train_file;
  std::string eval_file;
  int64_t max_prompt_len = 192;
  int64_t max_seq_len = 384;
  data::OnInvalid on_invalid = data::OnInvalid::Error;
  std::optional<double> label_ceiling;
  template <class V>
  void visit(V& v) {
    v("train_file", train_file, "preference pairs JSONL (docs/data_format.md); --train-file overrides");
    v("eval_file", eval_file, "held-out pairs for accuracy and calibration (empty: none); --eval-file overrides");
    v("max_prompt_len", max_prompt_len, "longer prompts keep <s> and their newest tokens");
    v("max_seq_len", max_seq_len, "prompt + response; longer responses are cut at the end");
    v.choice("on_invalid", on_invalid, data::kOnInvalidNames, "a malformed pair stops the run, or is logged and skipped");
    v("label_ceiling", label_ceiling,
      "agreement ceiling of eval_file's labels, reported beside accuracy (null: measured for synthetic data)");
  }
};

// `train:` of the reward model: the shared fields (config_sections.hpp) plus the head's and the loss's.
struct RewardModelTrain : BatchedTrainSection {
  std::optional<double> head_learning_rate;
  double center_rewards_coefficient = 0.01;
  double margin = 0.0;
  bool swap_augment = true;
  int64_t stats_pairs = 256;
  RewardModelTrain() { learning_rate = 5e-4; }
  template <class V>
  void visit(V& v) {
    visit_batched(v);
    v("head_learning_rate", head_learning_rate, "peak learning rate of the value head (null: learning_rate)");
    v("center_rewards_coefficient", center_rewards_coefficient, "adds coef * mean((r_a + r_b)^2): rewards near 0");
    v("margin", margin, "the winner must lead by this much inside the sigmoid (ties: none)");
    v("swap_augment", swap_augment, "randomly swap A and B (seeded) so no position bias is learnable");
    v("stats_pairs", stats_pairs, "training pairs scored for reward_mean/std in reward_model.json (0 = all)");
  }
};

// The reward-model stage of configs/rl_reward_model.yaml.
struct RewardModelConfig {
  std::string output_dir = "runs/reward_model";
  ModelSection model = model_from("runs/sft");
  RewardModelData data;
  RewardModelTrain train;
  LoraSection lora = lora_adapters(16, 32.0);
  template <class V>
  void visit(V& v) {
    v("output_dir", output_dir, "run directory");
    v.section("model", model);
    v.section("data", data);
    v.section("train", train);
    v.section("lora", lora);
  }
};

// The reward model's part of its file (configs/rl_reward_model.yaml, whose `rl:` section is
// RlRewardModelFileConfig's in rl_config.hpp) plus compute.
struct RewardModelFileConfig {
  RewardModelConfig reward_model;
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v.section("reward_model", reward_model);
    v.section("compute", compute);
  }
};

using RewardModelOptions = RunOptions;

struct RewardModelResult {
  int64_t step = 0;
  double last_loss = 0, last_accuracy = 0;
  std::optional<nlohmann::json> eval;  // the last eval.json
  std::string checkpoint_dir;
};

RewardModelResult run_train_reward_model(const RewardModelFileConfig& cfg, const RewardModelOptions& opt);

}  // namespace srl::train
