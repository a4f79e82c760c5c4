#include "eval/guardrail.hpp"

#include <mutex>
#include <unordered_map>

#include "eval/safety.hpp"

namespace srl::eval {

std::shared_ptr<const model::RequestClassifier> load_guardrail(const std::string& path) {
  return std::make_shared<const model::RequestClassifier>(
      model::RequestClassifier::load(model::resolve_classifier_file(path)));
}

data::RequestClassifierFn guardrail_reader(std::shared_ptr<const model::RequestClassifier> clf, bool intents_only) {
  auto cache = std::make_shared<std::pair<std::mutex, std::unordered_map<std::string, data::RequestLabel>>>();
  return [clf, cache, intents_only](const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(cache->first);
      auto it = cache->second.find(message);
      if (it != cache->second.end()) return it->second;
    }
    const auto p = clf->predict(message);
    data::RequestLabel label{p.intent, intents_only ? std::string() : p.acted_risk()};
    std::lock_guard<std::mutex> lock(cache->first);
    cache->second.emplace(message, label);
    return label;
  };
}

std::string guardrail_route(const model::RequestPrediction& p) {
  if (p.flagged) return "risk:" + p.risk;
  if (p.intent == "out_of_scope" && p.intent_p >= 0.5) return "out_of_scope";
  return "";
}

std::string guarded_reply(const model::RequestPrediction& p, const std::string& policy_reply) {
  if (p.flagged) return refusal_template(risk_of_name(p.risk));
  if (guardrail_route(p) == "out_of_scope") return refusal_template(RequestRisk::None);
  return policy_reply;
}

}  // namespace srl::eval
