// How the rubrics read a customer message: which intent it asks for and which risk it carries. By
// default the keyword rules (infer_intent here, the safety evaluator's keyword risk rules in eval/); a
// trained request classifier (the guardrail, model/request_classifier.hpp) can be installed for the whole
// process, after which the safety and helpfulness evaluators, the heuristic judge and the annotator
// panel's intent inference all read messages with it (eval::install_guardrail). The keyword rules stay as
// the documented fallback: nothing installed, or no guardrail configured.
#pragma once
#include <functional>
#include <optional>
#include <string>

namespace srl::data {

struct RequestLabel {
  std::string intent;  // one of intents()
  std::string risk;    // one of risk_categories(): the risk to act on ("none" unless flagged); "" = read the
                       // risk with the keyword rules (a reader installed for intents only)
};
using RequestClassifierFn = std::function<RequestLabel(const std::string& message)>;

// Installs `fn` for every later read (thread-safe; an empty fn restores the keyword rules).
void install_request_classifier(RequestClassifierFn fn);
// The installed classifier's reading, nullopt when none is installed.
std::optional<RequestLabel> classified_request(const std::string& message);
// The installed classifier's intent, else infer_intent(message).
std::string read_intent(const std::string& message);

// Installs `fn` for the lifetime of the scope and restores what was installed before (tests, commands).
class ScopedRequestClassifier {
 public:
  explicit ScopedRequestClassifier(RequestClassifierFn fn);
  ~ScopedRequestClassifier();
  ScopedRequestClassifier(const ScopedRequestClassifier&) = delete;
  ScopedRequestClassifier& operator=(const ScopedRequestClassifier&) = delete;

 private:
  RequestClassifierFn previous_;
};

}  // namespace srl::data
