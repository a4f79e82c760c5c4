// Sections 1 (results), 4 (before and after), 5 (ethics) and 6 (provenance), and the document around
// them; the charts and the analysis have their own files.
#include "eval/report_sections.hpp"

#include <algorithm>
#include <set>

#include "core/hash.hpp"
#include "core/strings.hpp"
#include "data/support_world.hpp"
#include "eval/report_numbers.hpp"
#include "eval/report_text.hpp"

namespace srl::eval::report {

using std::string;

namespace {

// Prompts shown side by side in section 4.
constexpr size_t kTranscriptPrompts = 6;

const std::set<string>& adversarial_intents() {
  static const std::set<string> s = [] {
    std::set<string> out;
    for (const auto& i : data::intents())
      if (i.adversarial) out.insert(i.name);
    return out;
  }();
  return s;
}

// "⚠ 0.080" when above the baseline's unsafe compliance.
string unsafe_cell(const Loaded& L, const Run& r) {
  const string unsafe = num(r.eval.unsafe);
  return unsafe_above_baseline(L, r) ? "⚠ " + unsafe : unsafe;
}

// ------------------------------------------------------------------------------------------- 1. results

void results_table(Document& d, const Loaded& L) {
  const string B = L.base_label();
  Table t;
  t.cls = "results";
  t.head = {"Method",
            "Seed",
            "Win rate vs " + B + " (panel) [95% CI]",
            "Win rate vs " + B + " (reward model) [95% CI]",
            "LC win rate (panel / RM)",
            "Mean reward",
            "Refusal rate",
            "Unsafe compliance",
            "KL to reference",
            "Mean length",
            "Latency p50 / p95 (ms)",
            "Sim. success",
            "pass^k"};
  for (const auto& r : L.runs) {
    const auto& e = r.eval;
    string panel = r.is_baseline ? "— (baseline)" : win_text(e.win_panel);
    if (beats(r)) panel = "▲ " + panel;
    if (loses(r)) panel = "▼ " + panel;
    t.rows.push_back({r.display, std::to_string(r.m.seed), panel, r.is_baseline ? "— (baseline)" : win_text(e.win_rm),
                      num(e.lc_panel) + " / " + num(e.lc_rm), num(e.mean_reward), num(e.refusal), unsafe_cell(L, r),
                      num(e.kl, 2), num(e.mean_length, 1), num(e.p50, 0) + " / " + num(e.p95, 0),
                      r.sim.present ? num(r.sim.success_rate) : "not run", pass_k_text(r.sim)});
  }
  d.table(std::move(t));
  d.p("▲: the panel's 95% interval lies above 0.5 (better than " + B + "); ▼: it lies below 0.5. ⚠: unsafe " +
          "compliance above the baseline's (" + num(L.baseline().eval.unsafe) + "). " + B +
          " is the baseline, so its win rate against itself is 0.5 by definition (—). LC = length-controlled " +
          "win rate (AlpacaEval 2 style, docs/report_format.md).",
      "note");
}

void simulation_table(Document& d, const Loaded& L) {
  d.h3("Simulated customers");
  if (std::none_of(L.runs.begin(), L.runs.end(), [](const Run& r) { return r.sim.present; })) {
    d.not_run("Simulated customers (no simulate.json given)");
    return;
  }
  Table s;
  s.head = {"Method",  "Scenarios × trials", "Success rate", "Mean cumulative reward", "Mean turns to resolution",
            "pass^k", "Outcomes"};
  for (const auto& r : L.runs) {
    if (!r.sim.present) {
      s.rows.push_back({r.display, "not run", "not run", "—", "—", "—", "—"});
      continue;
    }
    string oc;
    for (const auto& [k, v] : r.sim.outcomes) oc += (oc.empty() ? "" : " · ") + k + " " + count_text(v);
    s.rows.push_back({r.display,
                      (r.sim.scenarios ? count_text(*r.sim.scenarios) : "—") + " × " +
                          (r.sim.trials ? count_text(*r.sim.trials) : "—"),
                      num(r.sim.success_rate), num(r.sim.mean_cumulative_reward, 2), num(r.sim.mean_turns, 2),
                      pass_k_text(r.sim), oc.empty() ? "—" : oc});
  }
  d.table(std::move(s));
  d.p("pass^k: the chance that all k trials of a scenario succeed (consistency, not best-of-k).", "note");
}

// Per intent, one column per method name (its first seed): where the gains and losses are.
void intent_table(Document& d, const Loaded& L) {
  std::vector<const Run*> cols;
  std::set<string> intents;
  for (const auto& r : L.runs)
    if (!r.is_baseline && r.first_of_name && !r.eval.per_intent.empty()) {
      cols.push_back(&r);
      for (const auto& row : r.eval.per_intent) intents.insert(row.intent);
    }
  d.h3("Win rate by intent (panel)");
  if (cols.empty()) {
    d.not_run("Per-intent win rates (no per_intent in eval.json)");
    return;
  }
  Table pi;
  pi.head = {"Intent"};
  for (const auto* r : cols) pi.head.push_back(r->display);
  for (const auto& intent : intents) {
    std::vector<string> row = {intent + (adversarial_intents().count(intent) ? " (adversarial)" : "")};
    for (const auto* r : cols) {
      string cell = "—";
      for (const auto& x : r->eval.per_intent)
        if (x.intent == intent) cell = num(x.win_rate_panel) + (x.prompts ? " (n=" + count_text(*x.prompts) + ")" : "");
      row.push_back(cell);
    }
    pi.rows.push_back(row);
  }
  d.table(std::move(pi));
}

void reward_model_paragraph(Document& d, const Loaded& L) {
  d.h3("Reward model");
  if (!L.rm.present) {
    d.not_run("Reward model evaluation (no reward-model eval.json given)");
    return;
  }
  const auto& rm = L.rm;
  string s = "Held-out accuracy " + num(rm.accuracy) +
             (rm.non_tie ? " over " + count_text(*rm.non_tie) + " non-tie pairs" : string()) + ", ECE " + num(rm.ece) +
             ". ";
  if (rm.agreement)
    s += "Label agreement ceiling " + num(rm.agreement) +
         (rm.bayes_accuracy ? " (best achievable accuracy " + num(rm.bayes_accuracy) + ")" : string()) +
         (rm.ceiling_source.empty() ? string() : ", source: " + rm.ceiling_source) + ".";
  else
    s += "The labels' agreement ceiling is unknown" +
         (rm.ceiling_source.empty() ? string() : " (source: " + rm.ceiling_source + ")") + ".";
  d.p(s);
}

void results_section(Document& d, const Loaded& L) {
  d.h2("results", "1. Results");
  results_table(d, L);
  simulation_table(d, L);
  beyond_templates_section(d, L);
  intent_table(d, L);
  reward_model_paragraph(d, L);
}

// ------------------------------------------------------------------------------------------- 4. before/after

// A deterministic spread of prompts: hash order of the ids, the first adversarial prompt first, then new
// intents, then anything, up to `want`; shown in id order.
std::vector<string> pick_prompts(const Loaded& L, size_t want) {
  const auto& base = L.baseline().tr;
  std::vector<std::pair<string, string>> order;  // (hash, id)
  for (const auto& t : base.rows) {
    bool everywhere = true;
    for (const auto& r : L.runs)
      if (!r.is_baseline && r.first_of_name && r.tr.present && !r.tr.find(t.id)) everywhere = false;
    if (everywhere) order.emplace_back(fnv1a64_hex(t.id), t.id);
  }
  std::sort(order.begin(), order.end());
  std::vector<string> chosen;
  std::set<string> intents;
  auto take = [&](const string& id) {
    if (chosen.size() >= want || std::find(chosen.begin(), chosen.end(), id) != chosen.end()) return;
    chosen.push_back(id);
    intents.insert(base.find(id)->intent);
  };
  for (const auto& [h, id] : order)
    if (adversarial_intents().count(base.find(id)->intent)) {
      take(id);
      break;
    }
  for (const auto& [h, id] : order)
    if (!intents.count(base.find(id)->intent)) take(id);
  for (const auto& [h, id] : order) take(id);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

void transcript_table(Document& d, const Loaded& L, const Transcript& bt) {
  const string B = L.base_label();
  const bool adv = adversarial_intents().count(bt.intent) > 0;
  d.h3(bt.id + (bt.intent.empty() ? "" : " · " + bt.intent) + (adv ? " · adversarial" : ""));
  d.quote(bt.prompt);
  Table t;
  t.cls = "transcripts";
  t.head = {"Model", "Reply", "P(beats " + B + ")", "Reward"};
  t.rows.push_back({B + " (baseline)", bt.response, "—", num(bt.reward)});
  for (const auto& r : L.runs) {
    if (r.is_baseline || !r.first_of_name) continue;
    const Transcript* mt = r.tr.present ? r.tr.find(bt.id) : nullptr;
    if (!mt) {
      t.rows.push_back({r.label(), "not run", "—", "—"});
      continue;
    }
    t.rows.push_back({r.label(), mt->response, num(mt->panel_prob), num(mt->reward)});
  }
  d.table(std::move(t));
}

void transcripts_section(Document& d, const Loaded& L) {
  const string B = L.base_label();
  d.h2("transcripts", "4. Before and after");
  if (!L.baseline().tr.present) {
    d.not_run("Side-by-side transcripts (no transcripts.jsonl for " + B + ")");
    return;
  }
  const auto ids = pick_prompts(L, kTranscriptPrompts);
  if (ids.empty()) {
    d.not_run("Side-by-side transcripts (no prompt answered by every method)");
    return;
  }
  d.p("The same prompt answered by " + B + " and by each method (first seed of each). P(beats " + B +
      ") is the panel's probability that the method's reply is preferred to " + B + "'s.");
  for (const auto& id : ids) transcript_table(d, L, *L.baseline().tr.find(id));
}

// ------------------------------------------------------------------------------------------- 5. ethics

void escalation(Document& d, const Loaded& L) {
  d.h3("Escalation policy");
  d.p("Legal threats and messages about self-harm are not for the assistant to resolve: the policy is to stop, "
      "say so plainly and hand the conversation to a human (the legal team; a trained agent with crisis resources). "
      "Requests for other customers' data, phishing and abuse are refused. These are the adversarial intents of "
      "the evaluation set; unsafe compliance is the fraction of them the assistant went along with.");
  Table t;
  t.head = {"Method", "Unsafe compliance", "Refusal rate", "legal_threat win rate (panel)",
            "self_harm win rate (panel)"};
  for (const auto& r : L.runs) {
    auto intent = [&](const string& name) {
      for (const auto& x : r.eval.per_intent)
        if (x.intent == name) return num(x.win_rate_panel);
      return string("—");
    };
    t.rows.push_back({r.display, unsafe_cell(L, r), num(r.eval.refusal), r.is_baseline ? "—" : intent("legal_threat"),
                      r.is_baseline ? "—" : intent("self_harm")});
  }
  d.table(std::move(t));
  const auto& base = L.baseline().eval;
  if (base.adversarial_prompts && base.safe_prompts)
    d.p("Measured on " + count_text(*base.adversarial_prompts) + " adversarial and " + count_text(*base.safe_prompts) +
            " safe prompts.",
        "note");
}

void ethics_section(Document& d, const Loaded& L) {
  d.h2("ethics", "5. Ethical considerations");
  escalation(d, L);

  d.h3("Refusal behaviour");
  const auto rb = refusal_behaviour(L);
  d.p("Over-refusal (refusing a safe request) and unsafe compliance (helping with a request that must be refused) "
      "are both failures; preference optimization can trade one for the other, so both are reported for every method.");
  if (rb.empty())
    d.p("Refusal and unsafe-compliance rates were not reported by the evaluation.");
  else
    d.bullets(rb);

  d.h3("Data and anonymization");
  d.p("The synthetic support data (customers, orders, e-mail addresses, card numbers) is generated and made up; it "
      "describes no real person. Real transcripts imported into the pipeline must go through `supportrl data "
      "anonymize` (e-mail, phone, card, order and account numbers, IP and street addresses replaced by placeholders) "
      "before training or evaluation, and should be handled under the consent and retention terms they were "
      "collected with.");

  d.h3("The panel is a simulation");
  string panel =
      "Win rates here come from a simulated annotator panel (rubric scores with per-annotator weights, a "
      "length bias and noise) and from a reward model trained on that panel's labels, not from people or "
      "real customers. A method can learn the panel's quirks; the length-controlled win rate removes one "
      "known bias, not all. Confirm gains with human review before deployment.";
  if (L.rm.agreement) panel += " Measured label agreement ceiling of the preference data: " + num(L.rm.agreement) + ".";
  d.p(panel);
}

// ------------------------------------------------------------------------------------------- 6. provenance

void provenance_section(Document& d, const Loaded& L) {
  const auto& in = *L.in;
  d.h2("provenance", "6. How it was produced");
  d.p("Command:");
  d.pre(in.command.empty() ? "(not given)" : in.command);
  d.p("Report '" + in.name + "', baseline '" + in.baseline + "', written to " + in.out_dir + ".");
  Table t;
  t.head = {"Method", "Name", "Seed", "Training run", "Evaluation", "Simulation"};
  for (const auto& r : L.runs)
    t.rows.push_back({r.display, r.m.name, std::to_string(r.m.seed), r.m.run_dir.empty() ? "—" : r.m.run_dir,
                      r.m.eval_dir, r.m.sim_dir.empty() ? "—" : r.m.sim_dir});
  d.table(std::move(t));
  Table f;
  f.head = {"Input file", "FNV-1a 64"};
  auto add = [&](const string& path) {
    if (!path.empty()) f.rows.push_back({path, fnv1a64_file_hex(path)});
  };
  for (const auto& r : L.runs) {
    if (r.metrics.present) add(r.metrics.path);
    add(r.unit.path);
    add(r.eval.path);
    if (r.tr.present) add(r.tr.path);
    if (r.sim.present) add(r.sim.path);
  }
  if (L.rm.present) add(L.rm.path);
  d.table(std::move(f));
  d.p("Reward model: " + (in.reward_model_dir.empty() ? string("not given") : in.reward_model_dir) +
      ". Every number above is read from these files; the formats are in docs/report_format.md.");
}

}  // namespace

Document build_document(const Loaded& L) {
  const auto& in = *L.in;
  Document d;
  d.title = "supportrl comparison report: " + in.name;
  std::vector<string> labels;
  for (const auto& r : L.runs)
    if (!r.is_baseline && r.first_of_name) labels.push_back(r.label());
  d.h1(d.title);
  d.p("Baseline: " + L.base_label() + ". Compared: " + (labels.empty() ? "nothing" : join_list(labels)) +
      ". Win rates are P(method's reply preferred to the baseline's) on held-out prompts, with 95% bootstrap "
      "intervals over prompts.");
  d.nav({{"results", "Results"},
         {"charts", "Charts"},
         {"analysis", "Analysis"},
         {"transcripts", "Before/after"},
         {"ethics", "Ethics"},
         {"provenance", "Provenance"}});
  results_section(d, L);
  charts_section(d, L);
  analysis_section(d, L);
  transcripts_section(d, L);
  ethics_section(d, L);
  provenance_section(d, L);
  return d;
}

}  // namespace srl::eval::report
