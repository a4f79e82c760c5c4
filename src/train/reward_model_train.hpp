// `supportrl train-reward-model`: a Bradley-Terry reward model on preference pairs, starting from an SFT run
// (LoRA adapters or all weights, plus the value head), with A/B swap augmentation, held-out accuracy,
// calibration (ECE, reliability diagram) and the label-agreement ceiling, metrics.jsonl, atomic checkpoints
// and exact --resume. docs/reward_model.md describes the loss, the keys and eval.json.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "train/compute.hpp"
#include "train/sft.hpp"

namespace srl::train {

struct RewardModelData {
  std::string train_file;
  std::string eval_file;
  int64_t max_prompt_len = 192;
  int64_t max_seq_len = 384;
  std::string on_invalid = "error";
  std::optional<double> label_ceiling;
  template <class V>
  void visit(V& v) {
    v("train_file", train_file, "preference pairs JSONL (docs/data_format.md); --train-file overrides");
    v("eval_file", eval_file, "held-out pairs for accuracy and calibration (empty: none); --eval-file overrides");
    v("max_prompt_len", max_prompt_len, "longer prompts keep <s> and their newest tokens");
    v("max_seq_len", max_seq_len, "prompt + response; longer responses are cut at the end");
    v.choice("on_invalid", on_invalid, {"error", "skip"}, "a malformed pair stops the run, or is logged and skipped");
    v("label_ceiling", label_ceiling,
      "agreement ceiling of eval_file's labels, reported beside accuracy (null: measured for synthetic data)");
  }
};

struct RewardModelTrain {
  int64_t max_steps = 200;
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  double learning_rate = 5e-4;
  std::optional<double> head_learning_rate;
  double weight_decay = 0.0;
  std::string schedule = "cosine";
  int64_t warmup_steps = 10;
  double min_lr_ratio = 0.1;
  double max_grad_norm = 1.0;
  double center_rewards_coefficient = 0.01;
  double margin = 0.0;
  bool swap_augment = true;
  int64_t eval_every = 50;
  int64_t save_every = 100;
  int64_t log_every = 10;
  int64_t keep_checkpoints = 2;
  int64_t stats_pairs = 256;
  int64_t seed = 0;
  template <class V>
  void visit(V& v) {
    v("max_steps", max_steps, "optimizer steps");
    v("batch_size", batch_size, "preference pairs per micro-batch");
    v("grad_accum", grad_accum, "micro-batches per optimizer step");
    v("learning_rate", learning_rate, "peak learning rate of the body (LoRA adapters or all weights)");
    v("head_learning_rate", head_learning_rate, "peak learning rate of the value head (null: learning_rate)");
    v("weight_decay", weight_decay, "AdamW decoupled weight decay (not on norms)");
    v.choice("schedule", schedule, {"cosine", "linear", "constant"}, "decay after warm-up");
    v("warmup_steps", warmup_steps, "linear warm-up steps");
    v("min_lr_ratio", min_lr_ratio, "decay floor as a fraction of the peak");
    v("max_grad_norm", max_grad_norm, "gradient clipping over body and head together (0 = off)");
    v("center_rewards_coefficient", center_rewards_coefficient, "adds coef * mean((r_a + r_b)^2): rewards near 0");
    v("margin", margin, "the winner must lead by this much inside the sigmoid (ties: none)");
    v("swap_augment", swap_augment, "randomly swap A and B (seeded) so no position bias is learnable");
    v("eval_every", eval_every, "held-out evaluation every N steps (0 = only at the end)");
    v("save_every", save_every, "checkpoint every N steps (0 = only at the end)");
    v("log_every", log_every, "metrics.jsonl row every N steps");
    v("keep_checkpoints", keep_checkpoints, "how many recent checkpoints to keep");
    v("stats_pairs", stats_pairs, "training pairs scored for reward_mean/std in reward_model.json (0 = all)");
    v("seed", seed, "data order, swaps, head init and dropout seed");
  }
};

// The reward-model stage of configs/rl_reward_model.yaml.
struct RewardModelConfig {
  std::string output_dir = "runs/reward_model";
  ModelSection model = [] {
    ModelSection m;
    m.init = "runs/sft";
    return m;
  }();
  RewardModelData data;
  RewardModelTrain train;
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
    v.section("train", train);
    v.section("lora", lora);
  }
};

// The whole file: reward model + compute; reward-model RL adds its `rl:` section here later.
struct RewardModelFileConfig {
  RewardModelConfig reward_model;
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v.section("reward_model", reward_model);
    v.section("compute", compute);
  }
};

struct RewardModelOptions {
  bool resume = false;           // continue from the newest complete checkpoint in output_dir
  int64_t stop_after_step = -1;  // end early after saving this step (simulates an interruption)
};

struct RewardModelResult {
  int64_t step = 0;
  double last_loss = 0, last_accuracy = 0;
  std::optional<nlohmann::json> eval;  // the last eval.json
  std::string checkpoint_dir;
};

RewardModelResult run_train_reward_model(const RewardModelFileConfig& cfg, const RewardModelOptions& opt);

}  // namespace srl::train
