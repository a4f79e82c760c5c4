// What `evaluate` adds for labelled tickets and the guardrail (evaluate.hpp): the labels of an input whose
// prompts carry tags.handling (the hand-written set, the Bitext set), and the replies the customer sees
// with the guardrail on, with what they cost and gain. Private to eval/evaluate*.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "data/ticket_set.hpp"
#include "model/request_classifier.hpp"
#include "train/rl_prompts.hpp"

namespace srl::eval::detail {

// The tickets' labels when every prompt carries tags.intents, tags.risk and tags.handling; else nullopt.
std::optional<std::vector<data::LabelledTicket>> labelled_tickets(const std::vector<train::RlPrompt>& prompts);

struct GuardedReplies {
  std::vector<std::string> text;   // per prompt: the reply the customer sees
  std::vector<std::string> route;  // per prompt: guardrail_route ("" = the policy's reply)
};
GuardedReplies guard_replies(const model::RequestClassifier& clf, const std::vector<train::RlPrompt>& prompts,
                             const std::vector<std::string>& replies);

// {"routed", "routes": {route: count}} of a guarded set.
nlohmann::json routes_json(const GuardedReplies& g);

}  // namespace srl::eval::detail
