// The synthetic support world: intents of Northwind Gear customers, prompts sampled from templates with
// random entities, what a good answer must contain (an Expectation read from the knowledge base), and
// candidate answers: the ideal one plus controlled variations in tone, completeness, accuracy, safety,
// brand voice and verbosity. Everything is deterministic for a seed (own RNG, no std distributions).
// It is a toy world for preference data, not a dialogue system: one user turn, one answer.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/knowledge_base.hpp"

namespace srl::data {

// splitmix64: identical streams on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();                 // [0, 1)
  size_t below(size_t n);           // [0, n), n > 0
  double normal();                  // N(0, 1), Box-Muller
  bool chance(double p) { return uniform() < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  uint64_t state_;
};

struct IntentInfo {
  std::string name;      // "refund_request"
  std::string category;  // billing | orders | account | technical | safety | out_of_scope
  bool adversarial = false;
};
// All intents in a fixed order (24).
const std::vector<IntentInfo>& intents();
// srl::fail("intent", ...) for an unknown name.
const IntentInfo& intent_info(const std::string& name);

struct Prompt {
  std::string text;
  std::string intent, category;
  std::string difficulty;  // easy | medium | hard
  std::string segment;     // smb | enterprise
  std::string mood;        // calm | confused | anxious | frustrated | angry | distressed
  std::map<std::string, std::string> entities;  // name, order, product, amount, days, email, ... (those used)
};

// What a good answer to one prompt contains. Strings are matched case-insensitively as substrings of the
// answer; a "group" is satisfied when any one of its alternatives appears.
struct Expectation {
  std::string intent = "unknown";
  std::vector<std::vector<std::string>> actions;  // the steps that resolve the request
  std::vector<std::vector<std::string>> facts;    // knowledge-base facts (numbers, prices, terms)
  std::vector<std::string> wrong_facts;           // the same facts under the false policies
  std::vector<std::string> forbidden;             // what complying with an unsafe request would say
  bool must_refuse = false;                       // the request itself must be declined
  bool must_escalate = false;                     // hand over to a human / the legal team
  bool must_give_crisis = false;                  // crisis resources (self-harm)
  bool upset = false;                             // the customer's mood calls for empathy
};

// One candidate answer's position on each axis; the default is the ideal answer.
struct Variation {
  std::string tone = "empathetic";    // empathetic | neutral | curt | rude
  std::string completeness = "full";  // full | partial | none
  std::string accuracy = "correct";   // correct | wrong
  std::string safety = "appropriate"; // appropriate | unsafe | over_refusal
  std::string voice = "on_brand";     // on_brand | off_brand
  std::string verbosity = "normal";   // normal | concise | verbose
  bool is_ideal() const { return *this == Variation{}; }
  // "ideal", or the axes that differ from the ideal: "tone=rude,accuracy=wrong".
  std::string label() const;
  bool operator==(const Variation&) const = default;
};

struct Candidate {
  std::string text;
  Variation variation;
};

class SupportWorld {
 public:
  explicit SupportWorld(KnowledgeBase kb = northwind_policy());
  const KnowledgeBase& kb() const { return kb_; }

  // A prompt for `intent` with random wording, entities, difficulty, segment and mood.
  Prompt sample_prompt(const std::string& intent, Rng& rng) const;
  // What a good answer to `p` contains, from the knowledge base (entities decide e.g. in/out of window).
  Expectation expectation(const Prompt& p) const;
  // For a prompt the world did not generate: the intent read_intent gives (the installed guardrail
  // classifier, else keyword matching), entities left empty.
  Expectation expectation_for_text(const std::string& prompt_text) const;

  std::string ideal_response(const Prompt& p) const { return candidate(p, Variation{}).text; }
  // Deterministic in (prompt text, variation): phrasing choices are seeded from both.
  Candidate candidate(const Prompt& p, const Variation& v) const;
  // A variation differing from the ideal on one or two axes that make sense for this prompt (no wrong
  // facts where the answer states none, no over-refusal of a request that must be refused).
  Variation sample_variation(const Prompt& p, Rng& rng) const;
  // What a historical human agent wrote: every axis drawn independently around a mediocre mode (often
  // neutral in tone, often partial, sometimes wrong or off-brand, rarely unsafe), so a policy trained on
  // such transcripts leaves room for preference learning. Probabilities in docs/data_format.md.
  Variation agent_variation(const Prompt& p, Rng& rng) const;

 private:
  KnowledgeBase kb_;
};

// The entity values one prompt draws, in a fixed order of draws: order, product, amount, days, name, email,
// who, problem, speed (the slots of the templates and of data/customer_speech.hpp's phrasings).
std::map<std::string, std::string> sample_entity_values(Rng& rng);
// `tmpl` with every {slot} replaced from `vals`; the slots used are added to `used`. A slot without a value
// is an internal error (the templates are compiled in).
std::string fill_slots(const std::string& tmpl, const std::map<std::string, std::string>& vals,
                       std::map<std::string, std::string>& used);

// The intent whose keywords match `text` best ("unknown" when none does); safety intents win ties.
std::string infer_intent(const std::string& text);
// Lowercase, every run of non-alphanumeric characters collapsed to one space, trimmed: the key for
// "same prompt" checks (eval prompts are disjoint from training prompts under it).
std::string prompt_lookup_key(const std::string& text);
// Lowercase copy (ASCII).
std::string lower(const std::string& s);

}  // namespace srl::data
