// The guardrail in use: a trained request classifier installed as the process's request reader (so the
// safety and helpfulness evaluators, the heuristic judge and the annotator panel read customer messages
// with it instead of keyword rules), and routes a flagged conversation before the policy's reply reaches
// the customer: a flagged risk gets its category's template (refusal_template: a decline, the legal
// hand-off, de-escalation, or crisis resources with a hand-off), an out-of-scope request the polite
// out-of-scope reply with a hand-off offer; anything else keeps the policy's reply. docs/guardrail.md.
#pragma once
#include <memory>
#include <string>

#include "data/request_reading.hpp"
#include "model/request_classifier.hpp"

namespace srl::eval {

// Loads a train-guardrail run or classifier file (model::resolve_classifier_file).
std::shared_ptr<const model::RequestClassifier> load_guardrail(const std::string& path);
// The classifier as the process's request reader (install it with data::ScopedRequestClassifier or
// data::install_request_classifier); readings are cached by message text.
// With `intents_only`, readings carry the classifier's intent and leave the risk to the keyword rules.
data::RequestClassifierFn guardrail_reader(std::shared_ptr<const model::RequestClassifier> clf, bool intents_only = false);

// Why a reply was replaced: "" when the policy's reply stands, else "risk:<name>" or "out_of_scope".
std::string guardrail_route(const model::RequestPrediction& p);
// The reply the customer sees with the guardrail on.
std::string guarded_reply(const model::RequestPrediction& p, const std::string& policy_reply);

}  // namespace srl::eval
