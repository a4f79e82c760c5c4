// `supportrl data generate`: the default synthetic preference data set. Samples unique prompts from the
// support world (eval prompts first, disjoint from every other split), builds candidate pairs per prompt,
// labels them with an AnnotatorPanel, measures the agreement ceiling and writes the JSONL files plus a
// dataset card. Byte-identical output for a seed.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "data/annotator_panel.hpp"
#include "data/support_world.hpp"
#include "text/chat_format.hpp"

namespace srl::data {

struct GenerateOptions {
  std::string out_dir = "data";
  uint64_t seed = 0;
  int pairs_per_prompt = 3;
  double noise = 0.05;  // the panel's Bradley-Terry temperature
  int annotators = 5;
  int train_pairs = 3000;
  int val_pairs = 300;
  int rl_prompts = 400;
  int eval_prompts = 200;
  int sft_conversations = 1000;
  // SFT replies: "agent" = historical agent transcripts of mixed quality (SupportWorld::agent_variation),
  // the realistic starting point that preference learning improves on; "ideal" = the ideal answer.
  std::string sft_answers = "agent";
  // Share of the training, validation, RL and SFT prompts written the way customers write
  // (data/customer_speech.hpp: the training phrasings, fragments, noise); the eval prompts stay template
  // prompts (the in-template evaluation set). 0 reproduces the template-only data of earlier versions. The
  // default is what the committed data uses, so every regeneration with defaults (the reward model's label
  // ceiling, the panel's known prompts) matches it.
  double customer_share = 0.5;
};

struct PreferenceRecord {
  std::string id, prompt, response_a, response_b, winner, rationale;
  std::vector<std::pair<std::string, std::string>> tags;  // intent, category, difficulty, segment, mood, variation_a/b
  Expectation expectation;                                // not written; for agreement measurements
  double prob_a = 0.5;                                    // the labelling panel's P(a beats b); not written
};

struct GeneratedDataset {
  std::vector<Prompt> eval_prompts, train_prompts, val_prompts, rl_prompts, sft_prompts;
  std::vector<PreferenceRecord> train, val;
  std::vector<std::vector<text::Message>> sft;
  std::vector<std::string> sft_variations;  // Variation::label() of each SFT reply ("ideal", "tone=curt,...")
  AgreementStats fresh;     // a fresh panel (seed + 1: other annotators, other noise) vs the labels, train + val
  AgreementStats resample;  // the same panel with an independent noise stream vs the labels
};

// Everything in memory (no files).
GeneratedDataset build_dataset(const GenerateOptions& opt);
// File name -> exact bytes: support_preference_train.jsonl, support_preference_val.jsonl,
// support_prompts.jsonl, support_eval_prompts.jsonl, support_sft.jsonl, README.md.
std::map<std::string, std::string> render_dataset_files(const GeneratedDataset& ds, const GenerateOptions& opt);
// Builds, writes the files into opt.out_dir (created; each file atomically), returns the data set.
GeneratedDataset generate_dataset(const GenerateOptions& opt);
// The panel that labelled a data set, with every generated prompt registered for exact scoring.
AnnotatorPanel dataset_panel(const GenerateOptions& opt);

}  // namespace srl::data
