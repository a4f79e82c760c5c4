// The config sections every trainer shares, declared and checked once: `model:` (where the starting
// weights come from), `lora:`, and the fields of `train:` that SFT, the reward model, DPO and RL all have
// (TRL's base config, as a struct each stage's `train:` section derives from). A stage's own section adds
// its fields after these and sets its defaults in its constructor.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/optim.hpp"

namespace srl::train {

// Where the starting weights come from: an existing run/checkpoint, or a fresh model.
struct ModelSection {
  std::string init;          // run or checkpoint dir; empty = random init from preset/config_json
  std::string preset = "tiny";
  std::string config_json;   // HF config.json overriding the preset
  std::string tokenizer;     // dir with tokenizer.model (required for a fresh model)
  int64_t seed = 0;          // weight init seed
  template <class V>
  void visit(V& v) {
    v("init", init, "run or checkpoint directory to start from (empty: fresh model)");
    v.choice("preset", preset, {"tiny", "small", "base"}, "shape of a fresh model");
    v("config_json", config_json, "HF LlamaConfig file for a fresh model (overrides preset)");
    v("tokenizer", tokenizer, "tokenizer directory for a fresh model");
    v("seed", seed, "weight initialisation seed");
  }
};

struct LoraSection {
  int64_t lora_rank = 0;  // 0 = full fine-tuning
  double lora_alpha = 16.0;
  double lora_dropout = 0.0;
  std::vector<std::string> lora_targets = {"q", "k", "v", "o", "gate", "up", "down"};
  template <class V>
  void visit(V& v) {
    v("lora_rank", lora_rank, "LoRA rank (0 = train all weights)");
    v("lora_alpha", lora_alpha, "LoRA scaling numerator (scale = alpha / rank)");
    v("lora_dropout", lora_dropout, "dropout on the LoRA input");
    v("lora_targets", lora_targets, "projections to adapt: q,k,v,o,gate,up,down");
  }
};
// The model: section of a stage that continues another run (its default `init`).
inline ModelSection model_from(const std::string& init) {
  ModelSection m;
  m.init = init;
  return m;
}
// The lora: section of a stage that trains adapters of this rank and alpha.
inline LoraSection lora_adapters(int64_t rank, double alpha) {
  LoraSection l;
  l.lora_rank = rank;
  l.lora_alpha = alpha;
  return l;
}
// lora_rank >= 0 and lora_dropout in [0, 1): srl::fail("config: <prefix>lora.<key>", ...).
void check_lora_section(const LoraSection& l, const std::string& prefix);

// The `train:` fields of every stage. A step is one optimizer update (SFT, reward model, DPO) or one
// batch of rollouts (RL); the cadences count steps.
struct TrainLoopSection {
  int64_t max_steps = 200;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  Schedule schedule = Schedule::Cosine;
  int64_t warmup_steps = 10;
  double min_lr_ratio = 0.1;
  double max_grad_norm = 1.0;
  int64_t eval_every = 50;
  int64_t save_every = 100;
  int64_t log_every = 10;
  int64_t keep_checkpoints = 2;
  int64_t seed = 0;

  // The first group of fields (before a stage's batch fields), then the rest.
  template <class V>
  void visit_steps(V& v) {
    v("max_steps", max_steps, "training steps");
  }
  template <class V>
  void visit_loop(V& v) {
    v("learning_rate", learning_rate, "peak learning rate (of the LoRA adapters with LoRA, else of all weights)");
    v("weight_decay", weight_decay, "AdamW decoupled weight decay (not on norms)");
    v.choice("schedule", schedule, kScheduleNames, "decay after warm-up (over optimizer updates)");
    v("warmup_steps", warmup_steps, "linear warm-up, in optimizer updates");
    v("min_lr_ratio", min_lr_ratio, "decay floor as a fraction of the peak");
    v("max_grad_norm", max_grad_norm, "gradient clipping (0 = off)");
    v("eval_every", eval_every, "held-out evaluation every N steps (0 = only at the end)");
    v("save_every", save_every, "checkpoint every N steps (0 = only at the end)");
    v("log_every", log_every, "metrics.jsonl row every N steps (and at the first, the last and each evaluation)");
    v("keep_checkpoints", keep_checkpoints, "how many recent checkpoints to keep");
    v("seed", seed, "data order, dropout and sampling seed");
  }
};
// Each field in range: srl::fail("config: <prefix>train.<key>", ...).
void check_train_loop(const TrainLoopSection& t, const std::string& prefix);

// `train:` of the stages that draw fixed-size batches of examples (SFT, reward model, DPO).
struct BatchedTrainSection : TrainLoopSection {
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  template <class V>
  void visit_batched(V& v) {
    visit_steps(v);
    v("batch_size", batch_size, "examples (conversations or pairs) per micro-batch");
    v("grad_accum", grad_accum, "micro-batches per optimizer step");
    visit_loop(v);
  }
};
// check_train_loop plus batch_size and grad_accum positive.
void check_batched_train(const BatchedTrainSection& t, const std::string& prefix);

// The learning-rate schedule of a `train:` section over `total_updates` optimizer updates.
ScheduleOptions schedule_options(const TrainLoopSection& t, int64_t total_updates);

}  // namespace srl::train
