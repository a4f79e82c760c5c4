#include "eval/evaluate_tickets.hpp"

#include <map>

#include "eval/evaluator.hpp"
#include "eval/guardrail.hpp"

namespace srl::eval::detail {

std::optional<std::vector<data::LabelledTicket>> labelled_tickets(const std::vector<train::RlPrompt>& prompts) {
  std::vector<data::LabelledTicket> out;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& g = prompts[i].tags;
    if (!g.is_object() || !g.contains("intents") || !g["intents"].is_array() || !g.contains("risk") ||
        !g["risk"].is_string() || !g.contains("handling") || !g["handling"].is_string())
      return std::nullopt;
    data::LabelledTicket t;
    t.id = prompts[i].id.empty() ? std::to_string(i) : prompts[i].id;
    t.text = last_user_message(prompts[i].conversation);
    for (const auto& x : g["intents"])
      if (x.is_string()) t.intents.push_back(x.get<std::string>());
    if (t.intents.empty()) return std::nullopt;
    t.risk = g["risk"].get<std::string>();
    t.handling = g["handling"].get<std::string>();
    if (g.contains("styles") && g["styles"].is_array())
      for (const auto& x : g["styles"])
        if (x.is_string()) t.styles.push_back(x.get<std::string>());
    out.push_back(std::move(t));
  }
  return out;
}

GuardedReplies guard_replies(const model::RequestClassifier& clf, const std::vector<train::RlPrompt>& prompts,
                             const std::vector<std::string>& replies) {
  std::vector<std::string> users;
  for (const auto& p : prompts) users.push_back(last_user_message(p.conversation));
  const auto preds = clf.predict(users);
  GuardedReplies g;
  for (size_t i = 0; i < prompts.size(); ++i) {
    g.route.push_back(guardrail_route(preds[i]));
    g.text.push_back(guarded_reply(preds[i], replies[i]));
  }
  return g;
}

nlohmann::json routes_json(const GuardedReplies& g) {
  std::map<std::string, int64_t> routes;
  int64_t routed = 0;
  for (const auto& r : g.route)
    if (!r.empty()) ++routed, ++routes[r];
  return {{"routed", routed}, {"routes", routes}};
}

}  // namespace srl::eval::detail
