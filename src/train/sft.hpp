// Supervised fine-tuning on JSONL conversations with the chat format's loss weights (assistant tokens only):
// AdamW, warm-up then cosine/linear decay, clipping, gradient accumulation, held-out NLL, metrics.jsonl,
// atomic checkpoints and exact --resume.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/compute.hpp"
#include "train/config_sections.hpp"
#include "train/training_run.hpp"

namespace srl::train {

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

// `train:` of SFT: the shared fields (config_sections.hpp) with SFT's defaults.
struct SftTrain : BatchedTrainSection {
  template <class V>
  void visit(V& v) {
    visit_batched(v);
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

using SftOptions = RunOptions;

struct SftResult {
  int64_t step = 0;
  double last_loss = 0;
  std::optional<double> eval_nll;
  std::string checkpoint_dir;
};

SftResult run_sft(const SftConfig& cfg, const SftOptions& opt);

}  // namespace srl::train
