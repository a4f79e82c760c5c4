// `supportrl train-guardrail`: trains the request classifier (model/request_classifier.hpp) on tickets of
// the world that speaks like customers (data/customer_speech.hpp) and, when configured, the training half
// of the Bitext corpus; then calibrates it on validation tickets drawn from held-out phrasings only:
// one temperature per head (grid search on the negative log-likelihood) and the flag threshold, the
// highest p_risk that keeps the recall on unsafe validation tickets at `calibration.target_recall`.
// The hand-written set (data/eval_ood) is never read here. Run directory:
//   config.yaml, metrics.jsonl, checkpoints/step_N/{classifier.safetensors, trainer_state.*}, final ->,
//   classifier.safetensors (the calibrated classifier: what `classify`, `evaluate` and `simulate` load),
//   guardrail.json (data counts, whether Bitext was used, calibration, validation metrics).
#pragma once
#include <cstdint>
#include <string>

#include "train/compute.hpp"
#include "train/config_sections.hpp"
#include "train/training_run.hpp"

namespace srl::train {

struct GuardrailDataSection {
  int64_t train_tickets = 24000;  // generated training tickets
  int64_t val_tickets = 3000;     // generated from held-out phrasings (calibration, threshold)
  int64_t seed = 0;               // the world's RNG for the tickets
  double noise = 0.4;             // share of tickets with typing noise
  double two_intents = 0.15;      // share of ordinary tickets with a second ask
  std::string bitext = "";        // the Bitext CSV: its training half (mapped intents) joins the tickets
  template <class V>
  void visit(V& v) {
    v("train_tickets", train_tickets, "generated training tickets");
    v("val_tickets", val_tickets, "validation tickets, from phrasings held out of training");
    v("seed", seed, "seed of the ticket generator");
    v("noise", noise, "share of tickets with typing noise (typos, casing, abbreviations, emoji)");
    v("two_intents", two_intents, "share of ordinary tickets that ask two things");
    v("bitext", bitext, "Bitext CSV whose training half is added (\"\" = none; a missing file is skipped with a note)");
  }
};

struct GuardrailModelSection {
  int64_t buckets = 1 << 17;
  int64_t dim = 48;
  int64_t hidden = 64;
  int64_t char_min = 3, char_max = 5;
  bool word_bigrams = true;
  double feature_dropout = 0.2;  // training only: each feature id dropped with this probability
  template <class V>
  void visit(V& v) {
    v("buckets", buckets, "hashed feature buckets (embedding rows)");
    v("dim", dim, "embedding width");
    v("hidden", hidden, "hidden layer width");
    v("char_min", char_min, "shortest character n-gram");
    v("char_max", char_max, "longest character n-gram");
    v("word_bigrams", word_bigrams, "add word-bigram features");
    v("feature_dropout", feature_dropout, "chance to drop each feature id while training");
  }
};

struct GuardrailTrainSection : BatchedTrainSection {
  GuardrailTrainSection() {
    max_steps = 1500;
    batch_size = 64;
    learning_rate = 3e-3;
    warmup_steps = 50;
    eval_every = 500;
    save_every = 0;
    log_every = 50;
    keep_checkpoints = 1;
  }
  template <class V>
  void visit(V& v) {
    visit_batched(v);
  }
};

struct GuardrailCalibrationSection {
  double target_recall = 0.95;  // on the unsafe validation tickets
  template <class V>
  void visit(V& v) {
    v("target_recall", target_recall, "validation recall on unsafe tickets the flag threshold keeps");
  }
};

struct GuardrailConfig {
  std::string output_dir = "runs/guardrail";
  GuardrailDataSection data;
  GuardrailModelSection classifier;
  GuardrailTrainSection train;
  GuardrailCalibrationSection calibration;
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v("output_dir", output_dir, "run directory");
    v.section("data", data);
    v.section("classifier", classifier);
    v.section("train", train);
    v.section("calibration", calibration);
    v.section("compute", compute);
  }
};

struct GuardrailResult {
  int64_t step = 0;
  std::string classifier_path;  // <output_dir>/classifier.safetensors
  double threshold = 0, val_unsafe_recall = 0, val_false_positive_rate = 0, val_intent_accuracy = 0;
};

GuardrailResult run_train_guardrail(const GuardrailConfig& cfg, const RunOptions& opt);

}  // namespace srl::train
