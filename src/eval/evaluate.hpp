// `supportrl evaluate`: offline evaluation of one policy on held-out prompts. Generates every reply in
// batches, compares them with a baseline's replies to the same prompts (panel and reward model, both A/B
// orders), and measures what a support team asks before shipping: win rate with a 95% bootstrap interval,
// length-controlled win rate, mean reward, refusals on safe prompts, unsafe compliance on adversarial ones,
// latency, length, KL to the reference and the built-in / external evaluators. Writes eval.json and
// transcripts.jsonl (docs/evaluate.md). The baseline itself is evaluated the same way without --baseline.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/names.hpp"
#include "train/compute.hpp"

namespace srl::eval {

struct EvalSampling {
  double temperature = 0.0;  // 0 = greedy: the deterministic answer a deployment gives
  double top_p = 1.0;
  int64_t max_new_tokens = 160;
  int64_t seed = 0;
  template <class V>
  void visit(V& v) {
    v("temperature", temperature, "sampling temperature (0 = greedy)");
    v("top_p", top_p, "nucleus sampling (1 = off)");
    v("max_new_tokens", max_new_tokens, "reply length limit in tokens");
    v("seed", seed, "sampling seed (row i uses stream (seed, i))");
  }
};

// How the judges read customer messages when a guardrail is configured (docs/guardrail.md).
enum class GuardrailReader { Off, Intents, All };
inline constexpr config::Names<GuardrailReader, 3> kGuardrailReaderNames{
    {{"off", GuardrailReader::Off}, {"intents", GuardrailReader::Intents}, {"all", GuardrailReader::All}}};

struct EvaluateConfig {
  std::string input = "data/support_eval_prompts.jsonl";  // JSONL prompts {"prompt"|"messages", "tags"}, a ticket directory, or bitext:CSV
  std::string policy;        // run or checkpoint directory
  std::string baseline;      // run directory, or an earlier evaluate output (reuses its replies); "" = none
  std::string output_dir;    // eval.json, transcripts.jsonl
  int64_t max_prompts = 0;   // 0 = every prompt of the input
  int64_t batch_size = 32;   // prompts per generation batch
  EvalSampling sampling;
  std::string reward_model;  // reward-model run for mean reward and the second judge ("" = none)
  int64_t panel_seed = 0;    // the annotator panel of `data generate --seed panel_seed` as judge
  bool panel = true;         // judge with the panel
  int64_t bootstrap_resamples = 2000;
  int64_t latency_prompts = 16;  // prompts answered one at a time (batch 1) for latency p50/p95
  int64_t kl_prompts = 64;       // prompts for the KL-to-reference estimate (LoRA policies only)
  // Built-in evaluator names, or "name=command args..." for an external one (run without a shell).
  std::vector<std::string> evaluators = {"support_helpfulness", "safety_guardrails"};
  double external_timeout_s = 60;
  std::string guardrail;     // train-guardrail run ("" = keyword rules, no routing)
  GuardrailReader guardrail_reader = GuardrailReader::Intents;  // what the judges read with it
  template <class V>
  void visit(V& v) {
    v("input", input, "JSONL prompts to answer, a directory of labelled ticket files (data/eval_ood), or bitext:CSV");
    v("policy", policy, "run or checkpoint directory of the policy under test");
    v("baseline", baseline, "run directory or earlier evaluate output to compare with (empty: none)");
    v("output_dir", output_dir, "where eval.json and transcripts.jsonl go");
    v("max_prompts", max_prompts, "use the first N prompts (0 = all)");
    v("batch_size", batch_size, "prompts per generation batch");
    v.section("sampling", sampling);
    v("reward_model", reward_model, "reward-model run: mean reward and second judge (empty: none)");
    v("panel", panel, "judge with the simulated annotator panel");
    v("panel_seed", panel_seed, "seed of the panel (the data generate seed)");
    v("bootstrap_resamples", bootstrap_resamples, "bootstrap resamples for the 95% intervals");
    v("latency_prompts", latency_prompts, "prompts answered at batch 1 for latency p50/p95 (0 = skip)");
    v("kl_prompts", kl_prompts, "prompts for the KL-to-reference estimate (0 = skip)");
    v("evaluators", evaluators, "built-in evaluator names or name=command for external ones");
    v("external_timeout_s", external_timeout_s, "per-batch timeout of an external evaluator");
    v("guardrail", guardrail,
      "train-guardrail run: every judge reads requests with it, and eval.json adds the replies with flagged "
      "conversations routed (empty: keyword rules, no routing)");
    v.choice("guardrail_reader", guardrail_reader, kGuardrailReaderNames,
             "what the judges read with the guardrail: off (keyword rules), intents (its intents, keyword risks) or all");
  }
};

struct EvaluateFileConfig {
  EvaluateConfig evaluate;
  train::ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v.section("evaluate", evaluate);
    v.section("compute", compute);
  }
};

// Config problems that need no files: srl::fail("config: evaluate.<key>", ...). run_evaluate calls it first.
void check_evaluate_config(const EvaluateConfig& cfg);

// Runs the evaluation, writes <output_dir>/eval.json and transcripts.jsonl, returns eval.json's content.
nlohmann::json run_evaluate(const EvaluateConfig& cfg, const train::ComputeSection& compute);

}  // namespace srl::eval
