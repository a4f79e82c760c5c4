// The DPO trainer: LoRA on top of an SFT run, trained on preference pairs with one of the losses in
// dpo_loss.hpp. The reference model is the same weights with the adapters off, and its log-probs are
// computed once per data file and cached on disk (reference_cache.hpp). Each step: pairs -> policy
// sequence log-probs (prefix-shared) + reference log-probs -> dpo_loss -> backward over grad_accum
// micro-batches -> clip -> AdamW. Held-out TRL metrics, a Monte-Carlo KL(policy || reference) on sampled
// replies, metrics.jsonl, atomic checkpoints, exact --resume and eval.json. See docs/dpo.md.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/preference.hpp"
#include "model/llama.hpp"
#include "text/tokenizer.hpp"
#include "train/compute.hpp"
#include "train/dpo_loss.hpp"
#include "train/sft.hpp"

namespace srl::train {

// What DPO does with a pair whose winner is "tie" (it needs a winner).
enum class TiePolicy { Skip, Error };
inline constexpr config::Names<TiePolicy, 2> kTiePolicyNames{{{"skip", TiePolicy::Skip}, {"error", TiePolicy::Error}}};

struct DpoData {
  std::string train_file = "data/support_preference_train.jsonl";
  std::string eval_file = "data/support_preference_val.jsonl";
  int64_t max_prompt_len = 192;
  int64_t max_seq_len = 384;
  data::OnInvalid on_invalid = data::OnInvalid::Error;
  TiePolicy ties = TiePolicy::Skip;
  template <class V>
  void visit(V& v) {
    v("train_file", train_file, "preference JSONL to train on (docs/data_format.md)");
    v("eval_file", eval_file, "held-out preference JSONL (empty: no evaluation, no KL estimate)");
    v("max_prompt_len", max_prompt_len, "longer prompts keep <s> and their last tokens");
    v("max_seq_len", max_seq_len, "prompt + each response; longer responses are cut at the end");
    v.choice("on_invalid", on_invalid, data::kOnInvalidNames, "a malformed line: stop (error) or log and skip it");
    v.choice("ties", ties, kTiePolicyNames, "pairs with winner \"tie\": skip and count them, or stop");
  }
};

struct DpoSection {
  DpoLossType loss_type = DpoLossType::Sigmoid;
  double beta = 0.1;
  double label_smoothing = 0.0;
  double simpo_gamma = 0.5;
  double sft_weight = 0.0;
  bool reference_cache = true;
  std::string reference_cache_dir;
  template <class V>
  void visit(V& v) {
    v.choice("loss_type", loss_type, kDpoLossNames,
             "loss (train/dpo_loss.hpp)");
    v("beta", beta, "strength of the pull towards the reference (ipo: tau)");
    v("label_smoothing", label_smoothing, "assumed label noise in [0, 0.5): cDPO/rDPO (sigmoid, robust, ...)");
    v("simpo_gamma", simpo_gamma, "simpo: target reward margin");
    v("sft_weight", sft_weight, "weight of the chosen responses' per-token NLL added to the loss (RPO)");
    v("reference_cache", reference_cache,
      "compute reference log-probs once and keep them on disk (false: every step; must be false for simpo)");
    v("reference_cache_dir", reference_cache_dir, "where the cache lives (empty: <output_dir>/reference_logps)");
  }
};

// `train:` of DPO: the shared fields (config_sections.hpp) plus the KL estimate's.
struct DpoTrain : BatchedTrainSection {
  int64_t kl_samples = 16;
  int64_t max_new_tokens = 96;
  DpoTrain() { learning_rate = 5e-4; }
  template <class V>
  void visit(V& v) {
    visit_batched(v);
    v("kl_samples", kl_samples, "held-out prompts sampled for the KL(policy || reference) estimate (0 = off)");
    v("max_new_tokens", max_new_tokens, "longest sampled reply for the KL estimate");
  }
};

struct DpoConfig {
  std::string output_dir = "runs/dpo";
  ModelSection model = model_from("runs/sft");
  DpoData data;
  DpoSection dpo;
  DpoTrain train;
  LoraSection lora = lora_adapters(16, 32.0);
  ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v("output_dir", output_dir, "run directory");
    v.section("model", model);
    v.section("data", data);
    v.section("dpo", dpo);
    v.section("train", train);
    v.section("lora", lora);
    v.section("compute", compute);
  }
};

using DpoOptions = RunOptions;

struct DpoResult {
  int64_t step = 0;
  double last_loss = 0;
  std::map<std::string, double> eval;  // last held-out metrics ("eval/loss", "eval/rewards/accuracies", ...)
  std::optional<double> kl_to_reference, kl_response_length;
  int64_t train_pairs = 0, eval_pairs = 0;
  int64_t train_ties_skipped = 0, eval_ties_skipped = 0;
  bool train_reference_cache_hit = false, eval_reference_cache_hit = false;
  std::string checkpoint_dir;
};

// Config problems that need no files: srl::fail("config: <key>", ...) for bad numbers, lora_rank 0 with
// a reference-based loss (the reference is the adapters-off model), simpo with reference_cache, an empty
// model.init, and every check_dpo_options error.
void check_dpo_config(const DpoConfig& c);

DpoResult run_dpo(const DpoConfig& cfg, const DpoOptions& opt);

// k1 Monte-Carlo estimate of KL(policy || reference) per sequence: one reply per prompt sampled from the
// policy (adapters on, temperature 1, chat stops, seeded), then mean over replies of
// sum_t [log p_policy(y_t) - log p_ref(y_t)], both in fp32 (the policy's from generate, the reference's
// from sequence_logps with the adapters off). Also the mean reply length in tokens.
struct KlEstimate {
  double kl = 0, response_length = 0;
  int64_t samples = 0;
};
KlEstimate estimate_kl_to_reference(model::Llama& m, const text::Tokenizer& tok,
                                    const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
                                    uint64_t seed);

}  // namespace srl::train
