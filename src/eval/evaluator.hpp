// The evaluator layer: one interface for everything that scores an assistant reply (built-in heuristic
// rubrics, the annotator panel, the reward model, user scripts run as subprocesses), a registry by name so
// configs can list them, and EvaluatorSet, which runs several on a batch and keeps going when one fails.
// An evaluator scores a reply to a conversation; it does not generate, rank or train. docs/evaluators.md.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "text/chat_format.hpp"

namespace srl::eval {

struct EvalInput {
  std::vector<text::Message> conversation;  // ends with the user turn being answered
  std::string response;                     // the assistant reply being scored
};

struct EvalResult {
  std::map<std::string, double> scores;  // named scores, e.g. {"helpfulness":0.72,"empathy":1}
  std::string explanation;               // one short sentence saying what cost or earned points
  bool ok = true;                        // false: this evaluator failed on this item (external ones)
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual std::string name() const = 0;
  // One call per batch (external evaluators stream the batch through one process); one result per input.
  virtual std::vector<EvalResult> evaluate(const std::vector<EvalInput>& batch) = 0;
  // False once the evaluator has failed for the run (external: crash, timeout, garbage); it then returns
  // ok=false results without doing work.
  virtual bool healthy() const { return true; }
  virtual std::string failure() const { return ""; }  // why it failed, one line
};

// One entry of a config's `evaluators:` list.
struct EvaluatorSpec {
  std::string name;                  // registry name, or the user's name for an external one
  std::string type = "builtin";      // builtin | external
  std::vector<std::string> command;  // external: argv, run without a shell
  double timeout_s = 30;             // external: per batch
};

using EvaluatorFactory = std::function<std::unique_ptr<Evaluator>(const EvaluatorSpec&)>;

// Later registration of the same name replaces the earlier one (built-ins included). Thread-safe.
void register_evaluator(const std::string& name, EvaluatorFactory f);
// Sorted names.
std::vector<std::string> registered_evaluators();
// type "builtin": the registered factory for spec.name, srl::fail("evaluators", "unknown evaluator 'x'
// (known: ...)") when there is none; type "external": make_external_evaluator (external.hpp); any other
// type is srl::fail.
std::unique_ptr<Evaluator> make_evaluator(const EvaluatorSpec& spec);
// Evaluators from config entries: a registered name, or "name=command args..." for an external evaluator
// (argv split on whitespace, run without a shell, `external_timeout_s` per batch). `where` names the config
// key in errors.
std::vector<std::unique_ptr<Evaluator>> make_evaluators(const std::vector<std::string>& entries,
                                                        double external_timeout_s, const std::string& where);
// Registers support_helpfulness and safety_guardrails once. Every registry function calls it first, so
// static-initialisation order never matters and a later register_evaluator can replace a built-in.
void register_builtin_evaluators();

// The last user message of a conversation ("" when there is none): what the built-in rubrics judge against.
std::string last_user_message(const std::vector<text::Message>& conversation);

// Text matching shared by the built-in rubrics.
// ASCII lowercase, with typographic apostrophes and quotes made plain so "I’m" matches "i'm".
std::string normalize_text(const std::string& s);
// `phrase` occurs in `normalized` as whole words (no letter or digit just before or after it); a phrase
// ending in '*' matches as a prefix ("apologi*" matches "apologise" and "apologies").
bool has_phrase(const std::string& normalized, const std::string& phrase);
// Words of a text: runs of letters, digits, apostrophes and hyphens ("can't", "two-factor").
std::vector<std::string> words_of(const std::string& text);
// The entries of `phrases` that occur (has_phrase), in list order.
std::vector<std::string> matched_phrases(const std::string& normalized, const std::vector<std::string>& phrases);

// Runs several evaluators on one batch. A failing evaluator (unhealthy after a batch, an exception, or the
// wrong number of results) is logged once (spdlog warn, naming it and why) and skipped for the rest of the
// run while the others go on.
class EvaluatorSet {
 public:
  // Null evaluators are an internal error; two with the same name are srl::fail("evaluators", ...).
  explicit EvaluatorSet(std::vector<std::unique_ptr<Evaluator>> evaluators);
  // Mean of every score over the items where the evaluator was ok, keyed "<prefix><evaluator>/<score>", e.g.
  // "eval/support_helpfulness/helpfulness" (a score absent from some items is averaged over those that have
  // it); per-item results in *per_item (may be null) as [item][evaluator name] -> EvalResult, where a
  // skipped evaluator's entry is ok=false with its failure as the explanation.
  std::map<std::string, double> run(const std::vector<EvalInput>& batch, const std::string& prefix,
                                    std::vector<std::map<std::string, EvalResult>>* per_item = nullptr);
  std::vector<std::string> failed() const;  // "name: why" for each failed evaluator, in set order
  size_t size() const;

 private:
  std::vector<std::unique_ptr<Evaluator>> evaluators_;
  std::vector<std::string> failure_;  // per evaluator; "" while it is healthy
};

}  // namespace srl::eval
