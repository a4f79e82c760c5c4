// Supervised fine-tuning on JSONL conversations with the chat format's loss weights (assistant tokens only):
// AdamW, warm-up then cosine/linear decay, clipping, gradient accumulation, held-out NLL, metrics.jsonl,
// atomic checkpoints and exact --resume.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/compute.hpp"

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

struct SftData {
  std::string train_file;
  std::string eval_file;
  int64_t max_seq_len = 512;
  bool last_assistant_only = false;
  template <class V>
  void visit(V& v) {
    v.required("train_file", train_file, "JSONL conversations to train on");
    v("eval_file", eval_file, "held-out JSONL conversations (empty: no evaluation)");
    v("max_seq_len", max_seq_len, "longer conversations are truncated");
    v("last_assistant_only", last_assistant_only, "train only on each conversation's last assistant message");
  }
};

struct SftTrain {
  int64_t max_steps = 200;
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  std::string schedule = "cosine";
  int64_t warmup_steps = 10;
  double min_lr_ratio = 0.1;
  double max_grad_norm = 1.0;
  int64_t eval_every = 50;
  int64_t save_every = 100;
  int64_t log_every = 10;
  int64_t keep_checkpoints = 2;
  int64_t seed = 0;
  template <class V>
  void visit(V& v) {
    v("max_steps", max_steps, "optimizer steps");
    v("batch_size", batch_size, "conversations per micro-batch");
    v("grad_accum", grad_accum, "micro-batches per optimizer step");
    v("learning_rate", learning_rate, "peak learning rate");
    v("weight_decay", weight_decay, "AdamW decoupled weight decay (not on norms)");
    v.choice("schedule", schedule, {"cosine", "linear", "constant"}, "decay after warm-up");
    v("warmup_steps", warmup_steps, "linear warm-up steps");
    v("min_lr_ratio", min_lr_ratio, "decay floor as a fraction of the peak");
    v("max_grad_norm", max_grad_norm, "gradient clipping (0 = off)");
    v("eval_every", eval_every, "held-out NLL every N steps (0 = only at the end)");
    v("save_every", save_every, "checkpoint every N steps (0 = only at the end)");
    v("log_every", log_every, "metrics.jsonl row every N steps");
    v("keep_checkpoints", keep_checkpoints, "how many recent checkpoints to keep");
    v("seed", seed, "data order and dropout seed");
  }
};

struct SftConfig {
  std::string output_dir = "runs/sft";
  ModelSection model;
  SftData data;
  SftTrain train;
  LoraSection lora;
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v("output_dir", output_dir, "run directory");
    v.section("model", model);
    v.section("data", data);
    v.section("train", train);
    v.section("lora", lora);
    v.section("compute", compute);
  }
};

struct SftOptions {
  bool resume = false;           // continue from the newest complete checkpoint in output_dir
  int64_t stop_after_step = -1;  // end early after saving this step (simulates an interruption)
  bool progress = true;
};

struct SftResult {
  int64_t step = 0;
  double last_loss = 0;
  std::optional<double> eval_nll;
  std::string checkpoint_dir;
};

SftResult run_sft(const SftConfig& cfg, const SftOptions& opt);

}  // namespace srl::train
