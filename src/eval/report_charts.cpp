// Section 2, the charts: training curves from metrics.jsonl, win rate against KL, the reward model's
// calibration and reply lengths. A run whose trainer logs a drawn metric but whose metrics.jsonl lacks
// it (a renamed or missing key) is named under the chart as "not available", never dropped silently.
#include <optional>

#include "eval/report_numbers.hpp"
#include "eval/report_sections.hpp"
#include "eval/report_text.hpp"
#include "eval/svg.hpp"
#include "train/run_contract.hpp"

namespace srl::eval::report {

using std::string;
namespace metric = train::contract::metric;

namespace {

// A training curve from metrics.jsonl: one series per run that logged `key`, or the not-run line; then
// one "not available" line per run whose trainer logs `key` but whose metrics.jsonl has none.
struct Curve {
  const char* key;
  string what;     // the curve's name in a "not available" line
  string not_run;  // what the "not run" line says when no run logged `key`
  svg::Axes axes;
  string caption;
};

void curve_chart(Document& d, const Loaded& L, const Curve& c) {
  std::vector<svg::Series> series;
  std::vector<string> unavailable;
  for (const auto& r : L.runs) {
    auto s = r.metrics.series(r.display, c.key);
    if (!s.x.empty())
      series.push_back(std::move(s));
    else if (trainer_writes(r.metrics, c.key))
      unavailable.push_back(c.what + " of " + r.display + " (" + r.metrics.path + " has no \"" + c.key + "\")");
  }
  if (series.empty())
    d.not_run(c.not_run);
  else
    d.figure(svg::line_chart(c.axes, series), c.caption);
  for (const auto& s : unavailable) d.not_available(s);
}

// Axes for a rate on [0, 1], with the dashed line at the even win rate.
svg::Axes rate_axes(const string& title, const string& x_label, const string& y_label) {
  svg::Axes a;
  a.title = title;
  a.x_label = x_label;
  a.y_label = y_label;
  a.y_min = 0;
  a.y_max = 1;
  a.reference_y = kEvenWinRate;
  return a;
}

void loss_chart(Document& d, const Loaded& L) {
  Curve c{metric::kLoss, "Training loss", "Training loss curves (no metrics.jsonl with \"loss\")", {},
          "Training loss per method against optimizer step (metrics.jsonl \"loss\")."};
  c.axes.title = "Training loss";
  c.axes.subtitle = "each method's own objective, so levels are not comparable across methods";
  c.axes.x_label = "step";
  c.axes.y_label = "loss";
  curve_chart(d, L, c);
}

void rl_win_rate_chart(Document& d, const Loaded& L) {
  Curve c{metric::kEvalPanelWinRate, "Panel win rate during RL",
          "Panel win rate during RL (no \"eval/panel_win_rate\" logged)",
          rate_axes("RL: panel win rate against the reference during training", "RL step", "panel win rate"),
          "RL evaluation hook: held-out panel win rate of the policy against its reference (\"eval/panel_win_rate\")."};
  curve_chart(d, L, c);
}

void dpo_accuracy_chart(Document& d, const Loaded& L) {
  Curve c{metric::kEvalRewardsAccuracies, "DPO held-out preference accuracy",
          "DPO held-out preference accuracy (no \"eval/rewards/accuracies\" logged)",
          rate_axes("DPO: held-out implicit-reward accuracy (not a win rate)", "step", "eval/rewards/accuracies"),
          "DPO \"eval/rewards/accuracies\": how often the policy ranks the labelled winner above the loser on "
          "held-out pairs. A different quantity from the panel win rate above."};
  c.axes.subtitle = "fraction of held-out pairs where the chosen reply gets the higher implicit reward";
  curve_chart(d, L, c);
}

void win_rate_vs_kl_chart(Document& d, const Loaded& L) {
  std::vector<svg::Point> pts;
  for (const auto& r : L.runs) {
    if (r.is_baseline) {
      pts.push_back({r.display + " (baseline)", 0.0, kEvenWinRate, std::nullopt, std::nullopt});
      continue;
    }
    if (!r.eval.win_panel || !r.eval.kl) continue;
    pts.push_back({r.display, *r.eval.kl, r.eval.win_panel->estimate, r.eval.win_panel->lo, r.eval.win_panel->hi});
  }
  if (pts.size() < 2) {
    d.not_run("Win rate against KL (no method with both a panel win rate and a KL to the reference)");
    return;
  }
  svg::Axes a;
  a.title = "Panel win rate vs KL to the reference";
  a.subtitle = "whiskers: 95% bootstrap interval; the baseline sits at KL 0, win rate 0.5 by definition";
  a.x_label = "KL(policy || reference), nats per reply";
  a.y_label = "panel win rate vs " + L.base_label();
  a.x_min = 0;
  a.reference_y = kEvenWinRate;
  d.figure(svg::scatter_chart(a, pts), "How far each method moved from the reference for what it gained.");
}

void calibration_chart(Document& d, const Loaded& L) {
  if (!L.rm.present || L.rm.bins.empty()) {
    d.not_run("Reward-model calibration (no reward-model eval.json with reliability bins)");
    return;
  }
  svg::Axes a;
  a.title = "Reward-model calibration";
  a.subtitle = "ECE " + num(L.rm.ece) + ", accuracy " + num(L.rm.accuracy);
  a.x_label = "predicted P(A wins) = sigmoid(r_a - r_b)";
  a.y_label = "observed frequency A won";
  d.figure(svg::reliability_diagram(a, L.rm.bins),
           "Reliability diagram of the reward model on held-out pairs; the dashed diagonal is perfect calibration.");
}

void length_chart(Document& d, const Loaded& L) {
  std::vector<svg::Sample> lens;
  for (const auto& r : L.runs) {
    if (!r.tr.present) continue;
    svg::Sample s{r.display, {}};
    for (const auto& t : r.tr.rows)
      if (t.length) s.values.push_back(*t.length);
    if (!s.values.empty()) lens.push_back(std::move(s));
  }
  if (lens.empty()) {
    d.not_run("Response-length distributions (no transcripts.jsonl with lengths)");
    return;
  }
  svg::Axes a;
  a.title = "Response lengths";
  a.x_label = "reply length (tokens)";
  a.y_label = "fraction of replies";
  d.figure(svg::histogram(a, lens), "Distribution of reply lengths on the evaluation prompts (transcripts.jsonl).");
}

}  // namespace

void charts_section(Document& d, const Loaded& L) {
  d.h2("charts", "2. Charts");
  loss_chart(d, L);
  rl_win_rate_chart(d, L);
  dpo_accuracy_chart(d, L);
  win_rate_vs_kl_chart(d, L);
  calibration_chart(d, L);
  length_chart(d, L);
}

}  // namespace srl::eval::report
