// The evaluator registry and EvaluatorSet (evaluator.hpp).
#include "eval/evaluator.hpp"

#include <spdlog/spdlog.h>

#include <cctype>
#include <exception>
#include <mutex>
#include <sstream>
#include <set>

#include "core/error.hpp"
#include "core/strings.hpp"
#include "eval/external.hpp"
#include "eval/helpfulness.hpp"
#include "eval/safety.hpp"

namespace srl::eval {

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, EvaluatorFactory> factories;
};
// A function-local static, so registering from another translation unit's static initialiser still works.
Registry& registry() {
  static Registry r;
  return r;
}


}  // namespace

void register_builtin_evaluators() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    // emplace: a name someone registered before the first registry call keeps their factory.
    r.factories.emplace("support_helpfulness", [](const EvaluatorSpec&) { return make_helpfulness_evaluator(); });
    r.factories.emplace("safety_guardrails", [](const EvaluatorSpec&) { return make_safety_evaluator(); });
  });
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> w;
  std::string cur;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || c == '-') {
      cur += c;
    } else if (!cur.empty()) {
      w.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) w.push_back(cur);
  return w;
}

std::vector<std::unique_ptr<Evaluator>> make_evaluators(const std::vector<std::string>& entries,
                                                        double external_timeout_s, const std::string& where) {
  std::vector<std::unique_ptr<Evaluator>> out;
  for (const auto& entry : entries) {
    EvaluatorSpec spec;
    const auto eq = entry.find('=');
    if (eq == std::string::npos) {
      spec.name = entry;
    } else {
      spec.name = entry.substr(0, eq);
      spec.type = "external";
      std::istringstream words(entry.substr(eq + 1));
      for (std::string w; words >> w;) spec.command.push_back(w);
      spec.timeout_s = external_timeout_s;
      if (spec.name.empty() || spec.command.empty()) fail(where, "'" + entry + "' must be a name or name=command");
    }
    out.push_back(make_evaluator(spec));
  }
  return out;
}

void register_evaluator(const std::string& name, EvaluatorFactory f) {
  if (name.empty()) fail_internal("register_evaluator", "empty evaluator name");
  if (!f) fail_internal("register_evaluator", "no factory for evaluator '" + name + "'");
  register_builtin_evaluators();
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[name] = std::move(f);
}

std::vector<std::string> registered_evaluators() {
  register_builtin_evaluators();
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [name, f] : r.factories) names.push_back(name);  // std::map: already sorted
  return names;
}

std::unique_ptr<Evaluator> make_evaluator(const EvaluatorSpec& spec) {
  if (spec.type == "external") return make_external_evaluator(spec);
  if (spec.type != "builtin")
    fail("evaluators", "evaluator '" + spec.name + "' has unknown type '" + spec.type + "' (builtin | external)");
  register_builtin_evaluators();
  EvaluatorFactory factory;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.factories.find(spec.name);
    if (it != r.factories.end()) factory = it->second;
  }
  // Outside the lock: a factory may itself consult the registry.
  if (!factory) fail("evaluators", "unknown evaluator '" + spec.name + "' (known: " + join(registered_evaluators(), ", ") + ")");
  auto ev = factory(spec);
  if (!ev) fail_internal("make_evaluator", "factory for '" + spec.name + "' returned no evaluator");
  return ev;
}

std::string last_user_message(const std::vector<text::Message>& conversation) {
  for (auto it = conversation.rbegin(); it != conversation.rend(); ++it)
    if (it->role == "user") return it->content;
  return "";
}

std::string normalize_text(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    // U+2018/U+2019 (‘ ’) -> ', U+201C/U+201D (“ ”) -> "
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
      unsigned char d = static_cast<unsigned char>(s[i + 2]);
      if (d == 0x98 || d == 0x99) { o += '\''; i += 2; continue; }
      if (d == 0x9C || d == 0x9D) { o += '"'; i += 2; continue; }
    }
    o += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
  }
  return o;
}

namespace {
bool alnum_at(const std::string& t, size_t i) {
  unsigned char c = static_cast<unsigned char>(t[i]);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
}  // namespace

bool has_phrase(const std::string& normalized, const std::string& phrase) {
  if (phrase.empty()) return false;
  bool prefix = phrase.back() == '*';
  const std::string p = prefix ? phrase.substr(0, phrase.size() - 1) : phrase;
  if (p.empty()) return false;
  // A boundary is only required where the phrase itself starts or ends with a letter or digit ("!!" needs none).
  bool left_word = alnum_at(p, 0), right_word = !prefix && alnum_at(p, p.size() - 1);
  for (size_t pos = normalized.find(p); pos != std::string::npos; pos = normalized.find(p, pos + 1)) {
    size_t end = pos + p.size();
    if (left_word && pos > 0 && alnum_at(normalized, pos - 1)) continue;
    if (right_word && end < normalized.size() && alnum_at(normalized, end)) continue;
    return true;
  }
  return false;
}

std::vector<std::string> matched_phrases(const std::string& normalized, const std::vector<std::string>& phrases) {
  std::vector<std::string> out;
  for (const auto& p : phrases)
    if (has_phrase(normalized, p)) out.push_back(p);
  return out;
}

// ------------------------------------------------------------------------------------------ EvaluatorSet
EvaluatorSet::EvaluatorSet(std::vector<std::unique_ptr<Evaluator>> evaluators)
    : evaluators_(std::move(evaluators)), failure_(evaluators_.size()) {
  std::set<std::string> seen;
  for (const auto& e : evaluators_) {
    if (!e) fail_internal("EvaluatorSet", "null evaluator");
    // Names key the metrics and the per-item results, so two of one name would overwrite each other.
    if (!seen.insert(e->name()).second)
      fail("evaluators", "two evaluators are named '" + e->name() + "'; give each a distinct name");
  }
}

std::map<std::string, double> EvaluatorSet::run(const std::vector<EvalInput>& batch, const std::string& prefix,
                                                std::vector<std::map<std::string, EvalResult>>* per_item) {
  if (per_item) {
    per_item->clear();
    per_item->resize(batch.size());
  }
  std::map<std::string, double> means;
  if (batch.empty()) return means;
  for (size_t k = 0; k < evaluators_.size(); ++k) {
    Evaluator& ev = *evaluators_[k];
    const std::string name = ev.name();
    std::vector<EvalResult> results;
    if (failure_[k].empty()) {
      std::string why;
      try {
        results = ev.evaluate(batch);
        if (results.size() != batch.size())
          why = "returned " + std::to_string(results.size()) + " results for " + std::to_string(batch.size()) +
                " items";
        else if (!ev.healthy())
          why = ev.failure().empty() ? std::string("reported itself unhealthy") : ev.failure();
      } catch (const std::exception& e) {
        why = std::string("threw: ") + e.what();
      }
      if (!why.empty()) {
        failure_[k] = why;
        spdlog::warn("evaluator '{}' failed and is skipped for the rest of the run: {}", name, why);
        // Items it scored before failing (an external one that died mid-batch) still count.
        if (results.size() != batch.size()) results.clear();
      }
    }
    if (results.empty()) results.assign(batch.size(), EvalResult{{}, failure_[k], false});

    std::map<std::string, std::pair<double, int>> sums;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& r = results[i];
      if (r.ok)
        for (const auto& [score, v] : r.scores) {
          auto& s = sums[score];
          s.first += v;
          s.second += 1;
        }
      if (per_item) (*per_item)[i][name] = r;
    }
    for (const auto& [score, s] : sums) means[prefix + name + "/" + score] = s.first / s.second;
  }
  return means;
}

std::vector<std::string> EvaluatorSet::failed() const {
  std::vector<std::string> out;
  for (size_t k = 0; k < evaluators_.size(); ++k)
    if (!failure_[k].empty()) out.push_back(evaluators_[k]->name() + ": " + failure_[k]);
  return out;
}

size_t EvaluatorSet::size() const { return evaluators_.size(); }

}  // namespace srl::eval
