// support_helpfulness: a heuristic rubric over the reply text for customer-support answers: length, empathy
// (weighted more for an upset customer), actionability (steps and what happens next), whether the reply
// speaks to the request's intent, and unresolved template slots. Every criterion is in [0, 1]; the rules
// and weights are in docs/evaluators.md. It reads words, not meaning: cheap, deterministic and gameable, a
// judge for comparing replies to the same message, not a measure of correctness (facts are not checked).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eval/evaluator.hpp"

namespace srl::eval {

struct HelpfulnessScores {
  double length = 0;            // 1 for 25-120 words; words/25 below, linear to 0 at 240 above
  double empathy = 0;           // empathy phrases, required more when the customer is upset
  double actionability = 0;     // 0.6 x steps + 0.4 x what happens next
  double addresses_intent = 0;  // the intent's vocabulary in the reply; 0.5 when the intent is unknown
  double no_placeholders = 0;   // 1 without unresolved template slots, else 0
  double helpfulness = 0;       // weighted mean of the five
  std::string intent;           // data::read_intent of the user message ("unknown" when none matches)
  bool upset = false;           // the user message reads upset
  int words = 0;                // whitespace-separated words of the reply
  std::string explanation;      // one sentence: what cost or earned points
  // The six scores under their names ("length", ..., "helpfulness").
  std::map<std::string, double> as_map() const;
};

// Weights of the helpfulness mean. Empathy counts double for an upset customer; weights are normalised.
struct HelpfulnessWeights {
  static constexpr double kLength = 0.15, kEmpathy = 0.10, kEmpathyUpset = 0.20, kActionability = 0.30,
                          kAddressesIntent = 0.30, kNoPlaceholders = 0.15;
};

HelpfulnessScores score_helpfulness(const std::string& user_message, const std::string& reply);

// The pieces, exposed for tests and for other judges.
// Anger, frustration, distress or worry words, "!!"/"???", or shouting in capitals.
bool is_upset(const std::string& user_message);
// The words an on-topic reply to `intent` uses (lowercase; matched as whole words/phrases). Every intent of
// data::intents() has an entry; "unknown" and anything else give an empty list.
const std::vector<std::string>& intent_vocabulary(const std::string& intent);
// The addresses_intent criterion for a known intent: 0 without any of its vocabulary in the reply, 0.5 with
// one phrase, 1 with two or more.
double addresses_intent_score(const std::string& intent, const std::string& reply);
// Unresolved template slots in the reply ({name}, {{x}}, [ORDER_ID], [insert ...], <customer>, XXXX),
// each as it appears; empty when there is none.
std::vector<std::string> find_placeholders(const std::string& reply);

// The registered `support_helpfulness` evaluator: scores the reply against the conversation's last user
// message; scores are the six of HelpfulnessScores::as_map.
std::unique_ptr<Evaluator> make_helpfulness_evaluator();

}  // namespace srl::eval
