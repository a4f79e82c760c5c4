// Section 1's "Beyond the templates" and "The guardrail" subsections: every method on the in-template
// prompts beside the hand-written tickets and the Bitext set, without and with the guardrail, and the
// guardrail classifier against the keyword rules on each labelled set (docs/report_format.md).
#include "eval/report_sections.hpp"
#include "eval/report_text.hpp"
#include "eval/svg.hpp"

namespace srl::eval::report {

namespace {

using std::string;

void beyond_table(Document& d, const Loaded& L) {
  Table t;
  t.cls = "results";
  t.head = {"Method", "Set", "Win rate vs " + L.base_label() + " (panel)", "Refusal (safe)", "Unsafe compliance",
            "Addresses intent (safe)", "Crisis resources (self-harm)", "Legal hand-off",
            "With guardrail: win rate", "refusal", "unsafe", "crisis resources", "routed"};
  for (const auto& r : L.runs) {
    if (!r.first_of_name) continue;
    for (const auto& s : r.sets) {
      const auto& e = s.eval;
      const auto& g = s.guarded;
      const string base = r.is_baseline ? "— (baseline)" : "";
      t.rows.push_back({r.display, s.name, r.is_baseline ? base : win_text(e.win_panel), num(e.refusal), num(e.unsafe),
                        num(s.handling.addresses_intent), num(s.handling.crisis), num(s.handling.escalation),
                        !g.present ? "not run" : r.is_baseline ? base : win_text(g.win_panel), num(g.refusal),
                        num(g.unsafe), num(g.handling.crisis), g.routed ? count_text(*g.routed) : "—"});
    }
  }
  d.table(std::move(t));
  d.p("Refusal (safe): declined safe requests. Unsafe compliance: replies to risky requests that break a guardrail "
      "or go along with them. On the labelled sets (hand-written, Bitext) these use the tickets' own labels, and "
      "\"addresses intent\" means the reply uses two or more words of one of the ticket's intents "
      "(eval/handling.hpp). With guardrail: the classifier routes flagged tickets to their category's template "
      "(a decline, the legal hand-off, de-escalation, or crisis resources with a hand-off) before the reply is "
      "scored; the baseline is routed the same way. — : not measured on that set (the in-template prompts carry "
      "no ticket labels).",
      "note");
}

void guardrail_tables(Document& d, const Loaded& L) {
  const auto& G = L.guardrail;
  if (!G.present) {
    d.not_run("The guardrail classifier on the labelled sets (no guardrail_eval.json)");
    return;
  }
  Table t;
  t.cls = "results";
  t.head = {"Set", "Reader", "Intent accuracy", "Unsafe recall", "False-positive rate (risk none)", "Risk accuracy",
            "Intent ECE"};
  for (const auto& s : G.sets)
    for (const auto& [who, c] : {std::pair<string, const ClassifierScores*>{"classifier", &s.classifier},
                                 {"keyword rules", &s.keyword}})
      t.rows.push_back({s.name + " (" + count_text(s.tickets) + ")", who, num(c->intent_accuracy), num(c->unsafe_recall),
                        num(c->false_positive_rate), num(c->risk_accuracy), num(c->intent_ece)});
  d.table(std::move(t));
  for (const auto& s : G.sets) {
    if (s.unsafe == 0) continue;
    Table r;
    r.cls = "results";
    r.head = {"Risk (" + s.name + ")", "Tickets", "Classifier P / R / F1", "Keyword rules P / R / F1"};
    for (size_t i = 0; i < s.classifier.risks.size() && i < s.keyword.risks.size(); ++i) {
      const auto &a = s.classifier.risks[i], &b = s.keyword.risks[i];
      r.rows.push_back({a.name, count_text(a.support), num(a.precision, 2) + " / " + num(a.recall, 2) + " / " + num(a.f1, 2),
                        num(b.precision, 2) + " / " + num(b.recall, 2) + " / " + num(b.f1, 2)});
    }
    d.table(std::move(r));
    svg::Axes a;
    a.title = "Guardrail calibration on the " + s.name + " set";
    a.subtitle = "p_risk = 1 - P(none); ECE " + num(s.classifier.risk_ece) + ", flag threshold " + num(G.threshold);
    a.x_label = "predicted p_risk";
    a.y_label = "observed share of tickets with a risk";
    d.figure(svg::reliability_diagram(a, s.classifier.risk_bins),
             "Reliability diagram of the guardrail's p_risk on the " + s.name +
                 " tickets; the dashed diagonal is perfect calibration.");
  }
}

}  // namespace

void beyond_templates_section(Document& d, const Loaded& L) {
  bool any = false;
  for (const auto& r : L.runs) any = any || r.sets.size() > 1;
  d.h3("Beyond the templates");
  if (!any) {
    d.not_run("Evaluation on the hand-written and Bitext sets");
  } else {
    beyond_table(d, L);
  }
  d.h3("The guardrail");
  guardrail_tables(d, L);
}

}  // namespace srl::eval::report
