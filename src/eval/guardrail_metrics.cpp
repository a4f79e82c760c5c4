#include "eval/guardrail_metrics.hpp"

#include <algorithm>
#include <map>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "data/customer_speech.hpp"
#include "data/support_world.hpp"
#include "eval/safety.hpp"

namespace srl::eval {

TicketVerdict classifier_verdict(const model::RequestPrediction& p) {
  return {p.intent, p.intent_p, p.acted_risk(), p.p_risk, p.flagged};
}

TicketVerdict keyword_verdict(const std::string& text) {
  TicketVerdict v;
  v.intent = data::infer_intent(text);
  v.risk = risk_name(keyword_request_risk(text));
  v.flagged = v.risk != "none";
  v.p_risk = v.flagged ? 1.0 : 0.0;
  return v;
}

namespace {

std::vector<CategoryScore> category_scores(const std::vector<std::string>& names) {
  std::vector<CategoryScore> out;
  for (const auto& n : names) out.push_back({n});
  return out;
}

CategoryScore& score_of(std::vector<CategoryScore>& v, const std::string& name) {
  for (auto& c : v)
    if (c.name == name) return c;
  fail_internal("score_guardrail", "unknown category " + name);
}

nlohmann::json scores_json(const std::vector<CategoryScore>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : v)
    out.push_back({{"name", c.name}, {"support", c.support}, {"predicted", c.predicted}, {"correct", c.correct},
                   {"precision", c.precision()}, {"recall", c.recall()}, {"f1", c.f1()}});
  return out;
}

nlohmann::json reliability_json(const train::Reliability& r) {
  nlohmann::json bins = nlohmann::json::array();
  for (const auto& b : r.bins)
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}, {"mean_confidence", b.mean_confidence},
                    {"observed", b.observed}});
  return {{"ece", r.ece}, {"count", r.count}, {"bins", bins}};
}

}  // namespace

GuardrailMetrics score_guardrail(const std::vector<data::LabelledTicket>& tickets,
                                 const std::vector<TicketVerdict>& verdicts) {
  if (tickets.size() != verdicts.size()) fail_internal("score_guardrail", "one verdict per ticket");
  GuardrailMetrics m;
  m.risks = category_scores(data::risk_categories());
  std::vector<std::string> intent_names;
  for (const auto& i : data::intents()) intent_names.push_back(i.name);
  m.intents = category_scores(intent_names);
  std::vector<double> ip, rp;
  std::vector<int> icorrect, runsafe;
  int64_t ihit = 0, rhit = 0, caught = 0, flagged_safe = 0;
  for (size_t k = 0; k < tickets.size(); ++k) {
    const auto& t = tickets[k];
    const auto& v = verdicts[k];
    const bool intent_ok = std::find(t.intents.begin(), t.intents.end(), v.intent) != t.intents.end();
    ihit += intent_ok;
    score_of(m.intents, t.intents[0]).support++;
    if (v.intent != "unknown") {
      score_of(m.intents, v.intent).predicted++;
      if (v.intent == t.intents[0]) score_of(m.intents, v.intent).correct++;
    }
    score_of(m.risks, t.risk).support++;
    score_of(m.risks, v.risk).predicted++;
    if (v.risk == t.risk) score_of(m.risks, v.risk).correct++, ++rhit;
    const bool unsafe = t.risk != "none";
    if (unsafe) {
      ++m.unsafe;
      if (v.flagged) ++caught;
      else m.missed_unsafe.push_back(t.id);
    } else {
      ++m.safe_risk;
      if (v.flagged) ++flagged_safe, m.false_flags.push_back(t.id);
    }
    ip.push_back(std::clamp(v.intent_p, 0.0, 1.0));
    icorrect.push_back(intent_ok ? 1 : 0);
    rp.push_back(std::clamp(v.p_risk, 0.0, 1.0));
    runsafe.push_back(unsafe ? 1 : 0);
  }
  const double n = static_cast<double>(tickets.size());
  m.tickets = static_cast<int64_t>(tickets.size());
  m.intent_accuracy = n ? ihit / n : 0.0;
  m.risk_accuracy = n ? rhit / n : 0.0;
  m.unsafe_recall = m.unsafe ? static_cast<double>(caught) / m.unsafe : 0.0;
  m.false_positive_rate = m.safe_risk ? static_cast<double>(flagged_safe) / m.safe_risk : 0.0;
  m.intent_reliability = train::reliability(ip, icorrect);
  m.risk_reliability = train::reliability(rp, runsafe);
  return m;
}

nlohmann::json to_json(const GuardrailMetrics& m) {
  return {{"tickets", m.tickets},
          {"unsafe_tickets", m.unsafe},
          {"risk_none_tickets", m.safe_risk},
          {"intent_accuracy", m.intent_accuracy},
          {"risk_accuracy", m.risk_accuracy},
          {"unsafe_recall", m.unsafe_recall},
          {"false_positive_rate", m.false_positive_rate},
          {"risks", scores_json(m.risks)},
          {"intents", scores_json(m.intents)},
          {"intent_reliability", reliability_json(m.intent_reliability)},
          {"risk_reliability", reliability_json(m.risk_reliability)},
          {"missed_unsafe", m.missed_unsafe},
          {"false_flags", m.false_flags}};
}

std::vector<data::LabelledTicket> labelled_set(const std::string& spec) {
  if (spec.rfind("bitext:", 0) == 0) return data::bitext_tickets(spec.substr(7), data::BitextHalf::Eval);
  return data::load_ticket_set(spec);
}

nlohmann::json run_guardrail_eval(const GuardrailEvalConfig& cfg) {
  if (cfg.output_dir.empty()) fail("guardrail_eval.output_dir", "must not be empty");
  const auto clf = model::RequestClassifier::load(model::resolve_classifier_file(cfg.guardrail));
  nlohmann::json sets = nlohmann::json::array();
  for (const auto& entry : cfg.sets) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) fail("guardrail_eval.sets", "'" + entry + "' is not name=spec");
    const auto tickets = labelled_set(entry.substr(eq + 1));
    std::vector<std::string> texts;
    for (const auto& t : tickets) texts.push_back(t.text);
    std::vector<TicketVerdict> cv, kv;
    for (const auto& p : clf.predict(texts)) cv.push_back(classifier_verdict(p));
    for (const auto& t : texts) kv.push_back(keyword_verdict(t));
    sets.push_back({{"name", entry.substr(0, eq)}, {"spec", entry.substr(eq + 1)},
                    {"classifier", to_json(score_guardrail(tickets, cv))}, {"keyword", to_json(score_guardrail(tickets, kv))}});
  }
  nlohmann::json j = {{"classifier", cfg.guardrail}, {"threshold", clf.calibration().threshold}, {"sets", sets}};
  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(cfg.output_dir + "/guardrail_eval.json", j.dump(2) + "\n");
  return j;
}

}  // namespace srl::eval
