// `supportrl simulate`: the simulated customers of simulate.hpp played against a trained policy. The model
// side is a batched Responder: every live conversation of a turn is rendered in the chat format and sampled
// in one model::generate call (chunked by batch_size), and the reply is parsed back to text. Writes
// simulate.json and transcripts.jsonl (docs/simulate.md). The customers themselves need no model; this
// file is the only part of the simulation that does.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/simulate.hpp"
#include "model/checkpoint.hpp"
#include "train/compute.hpp"

namespace srl::eval {

struct SimulateConfig {
  std::string policy;      // run or checkpoint directory
  std::string output_dir;  // simulate.json, transcripts.jsonl
  int64_t scenarios = 48;  // 2 per intent
  int64_t trials = 4;
  int64_t max_turns = 4;
  int64_t seed = 0;
  double temperature = 0.7;  // > 0 so the trials of a scenario differ (pass^k measures consistency)
  double top_p = 0.95;
  int64_t max_new_tokens = 128;
  int64_t batch_size = 64;  // conversations per generate call
  std::string system_prompt;
  std::string guardrail;  // train-guardrail run: flagged customer turns get the guardrail's reply ("" = off)
  template <class V>
  void visit(V& v) {
    v("policy", policy, "run or checkpoint directory of the policy under test");
    v("output_dir", output_dir, "where simulate.json and transcripts.jsonl go");
    v("scenarios", scenarios, "scenarios (intents round-robin, 24 intents)");
    v("trials", trials, "conversations per scenario (pass^k up to k = trials)");
    v("max_turns", max_turns, "agent turns before a conversation counts as unresolved");
    v("seed", seed, "scenario, customer and sampling seed");
    v("temperature", temperature, "sampling temperature of the policy (0 = greedy: every trial the same)");
    v("top_p", top_p, "nucleus sampling (1 = off)");
    v("max_new_tokens", max_new_tokens, "reply length limit in tokens");
    v("batch_size", batch_size, "conversations per generation batch");
    v("system_prompt", system_prompt, "system message before every conversation (empty: none)");
    v("guardrail", guardrail, "train-guardrail run routing flagged customer turns to its templates (empty: off)");
  }
};

struct SimulateFileConfig {
  SimulateConfig simulate;
  train::ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v.section("simulate", simulate);
    v.section("compute", compute);
  }
};

// Bad numbers in the config (srl::fail("simulate.<key>", ...)); needs no files.
void check_simulate_config(const SimulateConfig& c);

struct ResponderStats {
  int64_t calls = 0, generations = 0, prompts_truncated = 0, replies_cut = 0;  // cut = hit max_new_tokens
};

// The model as a Responder. Prompts longer than the context minus max_new_tokens keep <s> and their newest
// tokens (like the preference stages). Sampling seeds: model::generate seeds row i of a call with a stream
// of (SamplingParams.seed, i), so a call gets SamplingParams.seed = FNV-1a of the seeds of its rows: every
// conversation and turn samples from its own stream and a run is reproducible, but a conversation's sample
// also depends on which conversations share its call (generate takes one seed per call, not one per row).
// `lm` and `stats` must outlive the Responder.
// Generation runs under `cmp`'s bf16 autocast like evaluate and the RL rollouts (default: fp32 on the CPU).
Responder make_model_responder(model::LoadedModel& lm, const SimulateConfig& cfg, ResponderStats* stats = nullptr,
                                 const train::Compute& cmp = {});

// Loads the policy, plays the simulation, writes <output_dir>/simulate.json (simulation_json, pretty-printed)
// and <output_dir>/transcripts.jsonl, each atomically; returns simulate.json's content.
nlohmann::json run_simulate(const SimulateConfig& cfg, const train::ComputeSection& compute);

}  // namespace srl::eval
