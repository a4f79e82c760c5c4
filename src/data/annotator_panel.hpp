// A simulated panel of annotators that compares two support answers. Each annotator scores an answer with
// the same text rubric (resolves the intent, correct against the knowledge base, safety and escalation, tone
// and brand voice, concision) under its own weights drawn around shared means, plus a mild preference for
// longer answers. The panel's P(a beats b) is the mean over annotators of sigmoid((s_a - s_b) / temperature)
// (Bradley-Terry noise); a label is one Bernoulli draw of it, "tie" when the mean score difference is tiny.
// The rubric reads only the answer text and what the prompt expects (intent, facts), so it can judge
// model-generated answers too. It is a stand-in for people, not a safety classifier.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/support_world.hpp"
#include "text/chat_format.hpp"

namespace srl::data {

enum Criterion { kResolves = 0, kCorrect, kSafety, kToneVoice, kConcision, kNumCriteria };
// "resolves the intent", "correct against the knowledge base", "safety and escalation", "tone and brand
// voice", "concision".
const std::array<std::string, kNumCriteria>& criterion_names();

struct RubricScores {
  std::array<double, kNumCriteria> value{};  // each in [0, 1]
  std::array<std::string, kNumCriteria> weakness;  // what costs points, "" when nothing ("states a wrong fact")
  int words = 0;
};
// Scores one answer against what its prompt expects, from the text alone.
RubricScores score_response(const Expectation& e, const std::string& response);

struct PanelOptions {
  int annotators = 5;
  double temperature = 0.05;        // Bradley-Terry noise; 0 = noiseless (the higher score always wins)
  double weight_spread = 0.25;      // log-normal spread of each annotator's weights around the shared means
  double length_preference = 0.02;  // mean bonus per unit of ln(1 + words / 50)
  double tie_margin = 0.004;        // |mean score difference| below this is a tie
  uint64_t seed = 0;                // draws the annotators and the label noise
};

struct Annotator {
  std::array<double, kNumCriteria> weights{};  // sum to 1
  double length_preference = 0;
};

struct Judgment {
  std::string winner;   // "a" | "b" | "tie"
  double prob_a = 0.5;  // the panel's P(a beats b)
  std::string rationale;  // one sentence naming the deciding criteria
};

class AnnotatorPanel {
 public:
  static constexpr std::array<double, kNumCriteria> kMeanWeights = {0.30, 0.22, 0.28, 0.12, 0.08};

  AnnotatorPanel(SupportWorld world, PanelOptions opt);
  const PanelOptions& options() const { return opt_; }
  const std::vector<Annotator>& annotators() const { return annotators_; }

  // Prompts the world generated: scored against their exact expectation (looked up by prompt text).
  void add_known_prompt(const Prompt& p);
  // The known prompt's expectation, else the world's keyword-inferred one.
  Expectation expectation(const std::string& prompt_text) const;

  // Annotator i's score of one answer.
  double score(int annotator, const RubricScores& r) const;
  double prob_a_beats_b(const Expectation& e, const std::string& a, const std::string& b) const;
  // The judge interface: the conversation's last user message is the prompt. p(a,b) = 1 - p(b,a).
  double prob_a_beats_b(const std::vector<text::Message>& conversation, const std::string& a,
                        const std::string& b) const;
  // A label: "tie" when the mean score difference is below tie_margin, otherwise a draw of P(a beats b)
  // from the panel's own noise stream (advances it), with a rationale.
  Judgment judge(const Expectation& e, const std::string& a, const std::string& b);
  // Restarts the label-noise stream (annotators unchanged): an independent resampling of the same panel.
  void reseed_noise(uint64_t seed);

 private:
  SupportWorld world_;
  PanelOptions opt_;
  std::vector<Annotator> annotators_;
  std::array<double, kNumCriteria> mean_weights_{};
  double mean_length_pref_ = 0;
  std::unordered_map<std::string, Expectation> known_;  // prompt_lookup_key(text) -> expectation
  Rng noise_;
};

struct LabelledPair {
  Expectation expectation;
  std::string a, b;
  Judgment label;
};

// Agreement ceiling of a labelled set and how often another panel agrees with it.
struct AgreementStats {
  size_t pairs = 0;         // all pairs
  size_t labelled = 0;      // non-tie labels
  size_t compared = 0;      // non-tie under both the labels and the other panel
  double ceiling = 0;       // mean of p^2 + (1-p)^2 over non-tie labels, p = the labeller's P(a beats b):
                            // the expected agreement of an independent relabelling with the same probabilities
  double agreement = 0;     // fraction of compared pairs where the other panel's winner equals the label
};
// Relabels every pair with `other` (advancing its noise) and compares.
AgreementStats measure_agreement(const std::vector<LabelledPair>& pairs, AnnotatorPanel& other);

}  // namespace srl::data
