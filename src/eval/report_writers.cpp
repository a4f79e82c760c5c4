#include "eval/report_writers.hpp"

#include <optional>
#include <sstream>

#include "core/markup.hpp"
#include "eval/report_numbers.hpp"

namespace srl::eval::report {

using nlohmann::json;
using std::optional;
using std::string;

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// ------------------------------------------------------------------------------------------- HTML

const char* kCss =
    R"(body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f5f5f5}table.results td:nth-child(n+3){white-space:nowrap}
table.transcripts td:nth-child(2){white-space:pre-wrap;max-width:60em}
blockquote.prompt{white-space:pre-wrap;background:#f7f7f7;border-left:4px solid #4c78a8;margin:0;padding:.5em 1em}
figure{margin:1.5em 0}figcaption{font-size:.85em;color:#555;max-width:640px}
p.na{color:#888;font-style:italic}p.note{font-size:.85em;color:#555}pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap}
nav a{margin-right:1em})";

string class_attr(const string& cls) { return cls.empty() ? "" : " class=\"" + cls + "\""; }

void html_table(std::ostream& o, const Table& t) {
  o << "<table" << class_attr(t.cls) << ">\n<thead><tr>";
  for (const auto& h : t.head) o << "<th>" << xml_escape(h) << "</th>";
  o << "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    o << "<tr>";
    for (const auto& c : row) o << "<td>" << xml_escape(c) << "</td>";
    o << "</tr>\n";
  }
  o << "</tbody>\n</table>\n";
}

void html_block(std::ostream& o, const Block& b) {
  std::visit(
      Overloaded{
          [&](const Heading& h) {
            const string tag = "h" + std::to_string(h.level);
            o << "<" << tag << (h.id.empty() ? "" : " id=\"" + h.id + "\"") << ">" << xml_escape(h.text) << "</"
              << tag << ">\n";
          },
          [&](const Paragraph& p) { o << "<p" << class_attr(p.cls) << ">" << xml_escape(p.text) << "</p>\n"; },
          [&](const Bullets& l) {
            o << "<ul>\n";
            for (const auto& s : l.items) o << "<li>" << xml_escape(s) << "</li>\n";
            o << "</ul>\n";
          },
          [&](const Quote& q) { o << "<blockquote class=\"prompt\">" << xml_escape(q.text) << "</blockquote>\n"; },
          [&](const Preformatted& p) { o << "<pre>" << xml_escape(p.text) << "</pre>\n"; },
          [&](const Table& t) { html_table(o, t); },
          [&](const Figure& f) {
            o << "<figure>\n" << f.svg << "<figcaption>" << xml_escape(f.caption) << "</figcaption>\n</figure>\n";
          },
          [&](const Nav& n) {
            o << "<nav>";
            for (const auto& [id, text] : n.links) o << "<a href=\"#" << id << "\">" << xml_escape(text) << "</a>";
            o << "</nav>\n";
          },
      },
      b);
}

// ------------------------------------------------------------------------------------------- Markdown

// HTML-significant characters as entities (renderers pass raw HTML through).
string md_escape(const string& s) {
  string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else
      o += c;
  }
  return o;
}

string md_cell(const string& s) {
  string o;
  for (char c : md_escape(s)) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n')
      o += "<br>";
    else if (c != '\r')
      o += c;
  }
  return o;
}

void md_table(std::ostream& o, const Table& t) {
  o << "|";
  for (const auto& h : t.head) o << " " << md_cell(h) << " |";
  o << "\n|";
  for (size_t i = 0; i < t.head.size(); ++i) o << "---|";
  o << "\n";
  for (const auto& row : t.rows) {
    o << "|";
    for (const auto& c : row) o << " " << md_cell(c) << " |";
    o << "\n";
  }
  o << "\n";
}

void md_block(std::ostream& o, const Block& b) {
  std::visit(Overloaded{
                 [&](const Heading& h) { o << string(static_cast<size_t>(h.level), '#') << " " << md_escape(h.text) << "\n\n"; },
                 [&](const Paragraph& p) { o << md_escape(p.text) << "\n\n"; },
                 [&](const Bullets& l) {
                   for (const auto& s : l.items) o << "- " << md_escape(s) << "\n";
                   o << "\n";
                 },
                 [&](const Quote& q) {
                   std::istringstream ss(q.text);
                   string line;
                   while (std::getline(ss, line)) o << "> " << md_escape(line) << "\n";
                   o << "\n";
                 },
                 [&](const Preformatted& p) { o << "```\n" << p.text << "\n```\n\n"; },
                 [&](const Table& t) { md_table(o, t); },
                 [&](const Figure& f) { o << "*Chart (in index.html): " << md_escape(f.caption) << "*\n\n"; },
                 [&](const Nav&) {},
             },
             b);
}

// ------------------------------------------------------------------------------------------- summary

json opt_json(const optional<double>& v) { return v ? json(*v) : json(nullptr); }
json win_json(const optional<WinRate>& w) {
  return w ? json{{"estimate", w->estimate}, {"ci95", {w->lo, w->hi}}} : json(nullptr);
}

json handling_json(const HandlingData& h) {
  if (!h.present) return nullptr;
  return {{"addresses_intent_rate", opt_json(h.addresses_intent)}, {"refusal_rate", opt_json(h.refusal)},
          {"safe_ok_rate", opt_json(h.safe_ok)}, {"unsafe_rate", opt_json(h.unsafe)},
          {"crisis_rate", opt_json(h.crisis)}, {"escalation_rate", opt_json(h.escalation)}};
}

// Every set a run was evaluated on: {name: {win_rate_vs_sft, refusal_rate, unsafe_compliance_rate,
// handling, guardrail: {...} | null}}.
json sets_json(const Run& r) {
  json out = json::object();
  for (const auto& s : r.sets) {
    const auto& g = s.guarded;
    out[s.name] = {{"win_rate_vs_sft", win_json(s.eval.win_panel)}, {"refusal_rate", opt_json(s.eval.refusal)},
                   {"unsafe_compliance_rate", opt_json(s.eval.unsafe)}, {"handling", handling_json(s.handling)},
                   {"guardrail", !g.present ? json(nullptr)
                                            : json{{"win_rate_vs_sft", win_json(g.win_panel)},
                                                   {"refusal_rate", opt_json(g.refusal)},
                                                   {"unsafe_compliance_rate", opt_json(g.unsafe)},
                                                   {"routed", opt_json(g.routed)},
                                                   {"handling", handling_json(g.handling)}}}};
  }
  return out;
}

json run_json(const Loaded& L, const Run& r) {
  const auto& e = r.eval;
  json j;
  j["label"] = r.label();
  j["is_baseline"] = r.is_baseline;
  j["seed"] = r.m.seed;
  j["win_rate_vs_sft"] = {{"panel", win_json(e.win_panel)}, {"reward_model", win_json(e.win_rm)}};
  j["lc_win_rate"] = {{"panel", opt_json(e.lc_panel)}, {"reward_model", opt_json(e.lc_rm)}};
  j["mean_reward"] = opt_json(e.mean_reward);
  j["refusal_rate"] = opt_json(e.refusal);
  j["unsafe_compliance_rate"] = opt_json(e.unsafe);
  j["kl_to_reference"] = opt_json(e.kl);
  j["mean_length"] = opt_json(e.mean_length);
  j["latency_ms"] = {{"p50", opt_json(e.p50)}, {"p95", opt_json(e.p95)}};
  j["sim_success_rate"] = r.sim.present ? opt_json(r.sim.success_rate) : json(nullptr);
  if (r.sim.present) {
    json pk = json::object();
    for (const auto& [k, v] : r.sim.pass_k) pk[std::to_string(k)] = v;
    j["pass_k"] = pk;
  } else {
    j["pass_k"] = nullptr;
  }
  j["train_seconds"] = r.m.train_seconds;
  j["train_tokens"] = r.m.train_tokens;
  j["beats_baseline"] = beats(r);
  j["unsafe_compliance_above_baseline"] = unsafe_above_baseline(L, r);
  auto steps = r.metrics.last_step();
  j["steps"] = steps ? json(*steps) : json(nullptr);
  auto seen = examples_seen(r);
  j["examples_seen"] = seen ? json{{"count", *seen}, {"unit", r.unit.unit}} : json(nullptr);
  j["sets"] = sets_json(r);
  return j;
}

json scores_summary(const ClassifierScores& c) {
  json risks = json::object();
  for (const auto& r : c.risks) risks[r.name] = {{"precision", r.precision}, {"recall", r.recall}, {"f1", r.f1}};
  return {{"intent_accuracy", opt_json(c.intent_accuracy)}, {"unsafe_recall", opt_json(c.unsafe_recall)},
          {"false_positive_rate", opt_json(c.false_positive_rate)}, {"risk_accuracy", opt_json(c.risk_accuracy)},
          {"intent_ece", opt_json(c.intent_ece)}, {"risk_ece", opt_json(c.risk_ece)}, {"risks", risks}};
}

// The guardrail classifier and the keyword rules per labelled set; null without guardrail_eval.json.
json guardrail_summary(const GuardrailEvalData& g) {
  if (!g.present) return nullptr;
  json sets = json::object();
  for (const auto& s : g.sets)
    sets[s.name] = {{"tickets", s.tickets}, {"unsafe_tickets", s.unsafe}, {"classifier", scores_summary(s.classifier)},
                    {"keyword", scores_summary(s.keyword)}};
  return {{"threshold", opt_json(g.threshold)}, {"sets", sets}};
}

json seeds_json(const SeedStats& s) {
  json seeds = json::array();
  for (const auto* r : s.runs) seeds.push_back(r->m.seed);
  const json wr = s.win.empty() ? json(nullptr)
                                : json{{"mean", s.mean}, {"min", s.min}, {"max", s.max}, {"values", s.win}};
  return {{"count", s.runs.size()}, {"seeds", seeds}, {"panel_win_rate", wr}};
}

}  // namespace

string render_html(const Document& d) {
  std::ostringstream body;
  for (const auto& b : d.blocks) html_block(body, b);
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + xml_escape(d.title) +
         "</title>\n<style>\n" + kCss + "\n</style>\n</head>\n<body>\n" + body.str() + "</body>\n</html>\n";
}

string render_markdown(const Document& d) {
  std::ostringstream o;
  for (const auto& b : d.blocks) md_block(o, b);
  return o.str();
}

json summary_json(const Loaded& L) {
  const auto& in = *L.in;
  json s;
  s["format"] = "srl-report-summary-v1";
  s["name"] = in.name;
  s["baseline"] = in.baseline;
  s["command"] = in.command;
  s["order"] = L.names;
  json policies = json::object();
  for (const auto& name : L.names) {
    const SeedStats st = seed_stats(L, name);
    json p = run_json(L, *st.runs[0]);
    if (st.runs.size() > 1) p["seeds"] = seeds_json(st);
    policies[name] = p;
  }
  s["policies"] = policies;
  if (L.rm.present)
    s["reward_model"] = {{"accuracy", opt_json(L.rm.accuracy)},
                         {"ece", opt_json(L.rm.ece)},
                         {"label_ceiling", opt_json(L.rm.agreement)},
                         {"bayes_accuracy", opt_json(L.rm.bayes_accuracy)},
                         {"label_ceiling_source", L.rm.ceiling_source}};
  else
    s["reward_model"] = nullptr;
  s["guardrail"] = guardrail_summary(L.guardrail);
  return s;
}

}  // namespace srl::eval::report
