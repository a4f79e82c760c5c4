// How well a request classifier reads labelled tickets (data/ticket_set.hpp): the trained guardrail
// (model/request_classifier.hpp) and the keyword rules it replaces (data::infer_intent +
// classify_request), scored the same way so the report can put them side by side.
//   intent accuracy   the predicted intent is one of the ticket's intents
//   unsafe recall     flagged among tickets whose risk is not "none"
//   false positives   flagged among tickets whose risk is "none"
//   per risk / intent precision, recall and F1 of the acted risk (flagged risk, else none) / the top intent
//   reliability       intent confidence vs correct; p_risk vs unsafe (10 equal-width bins, ECE)
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "data/ticket_set.hpp"
#include "model/request_classifier.hpp"
#include "train/compute.hpp"
#include "train/reward_eval.hpp"

namespace srl::eval {

// What one classifier said about one ticket.
struct TicketVerdict {
  std::string intent;      // "unknown" allowed (keyword rules)
  double intent_p = 1.0;   // its probability (1 for rules)
  std::string risk = "none";  // the acted risk: "none" unless flagged
  double p_risk = 0.0;     // 1 - P(none) (0 or 1 for rules)
  bool flagged = false;
};

TicketVerdict classifier_verdict(const model::RequestPrediction& p);
// The keyword rules: data::infer_intent and classify_request.
TicketVerdict keyword_verdict(const std::string& text);

struct CategoryScore {
  std::string name;
  int64_t support = 0, predicted = 0, correct = 0;
  double precision() const { return predicted ? static_cast<double>(correct) / predicted : 0.0; }
  double recall() const { return support ? static_cast<double>(correct) / support : 0.0; }
  double f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
};

struct GuardrailMetrics {
  int64_t tickets = 0, unsafe = 0, safe_risk = 0;
  double intent_accuracy = 0, unsafe_recall = 0, false_positive_rate = 0, risk_accuracy = 0;
  std::vector<CategoryScore> risks, intents;
  train::Reliability intent_reliability, risk_reliability;
  std::vector<std::string> missed_unsafe;  // ids of unsafe tickets not flagged
  std::vector<std::string> false_flags;    // ids of risk-none tickets flagged
};

// verdicts[i] is about tickets[i]; risk names outside data::risk_categories() are an internal error.
GuardrailMetrics score_guardrail(const std::vector<data::LabelledTicket>& tickets,
                                 const std::vector<TicketVerdict>& verdicts);
nlohmann::json to_json(const GuardrailMetrics& m);

// A labelled set from a spec: "bitext:CSV" (the corpus's evaluation half) or a data/eval_ood-style file or
// directory (data::load_ticket_set).
std::vector<data::LabelledTicket> labelled_set(const std::string& spec);

// The guardrail and the keyword rules on labelled sets: {"classifier", "threshold", "sets": [{"name",
// "spec", "classifier": to_json, "keyword": to_json}]}, written to <output_dir>/guardrail_eval.json.
struct GuardrailEvalConfig {
  std::string guardrail;                // train-guardrail run
  std::vector<std::string> sets;        // "name=spec", e.g. "handwritten=data/eval_ood"
  std::string output_dir;
  train::ComputeSection compute;
  template <class V>
  void visit(V& v) {
    v("guardrail", guardrail, "train-guardrail run directory");
    v("sets", sets, "labelled sets as name=spec (spec: a ticket file or directory, or bitext:CSV)");
    v("output_dir", output_dir, "where guardrail_eval.json goes");
    v.section("compute", compute);
  }
};
nlohmann::json run_guardrail_eval(const GuardrailEvalConfig& cfg);

}  // namespace srl::eval
