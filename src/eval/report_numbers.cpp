#include "eval/report_numbers.hpp"

#include <algorithm>

#include "train/run_contract.hpp"

namespace srl::eval::report {

bool beats(const Run& r) { return r.eval.win_panel && r.eval.win_panel->lo > kEvenWinRate; }
bool loses(const Run& r) { return r.eval.win_panel && r.eval.win_panel->hi < kEvenWinRate; }

bool unsafe_above_baseline(const Loaded& L, const Run& r) {
  const auto& b = L.baseline().eval.unsafe;
  return !r.is_baseline && r.eval.unsafe && b && *r.eval.unsafe > *b;
}

std::optional<double> examples_seen(const Run& r) {
  auto s = r.metrics.last_step();
  if (!s || r.unit.unit.empty()) return std::nullopt;
  return static_cast<double>(*s) * r.unit.per_step;
}

std::optional<double> gain_per_thousand_seen(const Run& r) {
  auto seen = examples_seen(r);
  const auto& w = r.eval.win_panel;
  if (!seen || !(*seen > 0) || !w || r.is_baseline) return std::nullopt;
  return (w->estimate - kEvenWinRate) / *seen * kGainPerSeen;
}

std::optional<std::pair<double, int64_t>> peak_training_win_rate(const Run& r) {
  std::optional<std::pair<double, int64_t>> peak;
  for (const auto& row : r.metrics.rows)
    if (auto it = row.v.find(train::contract::metric::kEvalPanelWinRate);
        it != row.v.end() && (!peak || it->second > peak->first))
      peak = {it->second, row.step};
  return peak;
}

SeedStats seed_stats(const Loaded& L, const std::string& name) {
  SeedStats s;
  s.runs = L.runs_named(name);
  for (const auto* r : s.runs)
    if (r->eval.win_panel) {
      s.win.push_back(r->eval.win_panel->estimate);
      s.half_width.push_back((r->eval.win_panel->hi - r->eval.win_panel->lo) / 2);
    }
  if (s.win.empty()) return s;
  for (double x : s.win) s.mean += x;
  for (double x : s.half_width) s.mean_half_width += x;
  s.mean /= static_cast<double>(s.win.size());
  s.mean_half_width /= static_cast<double>(s.half_width.size());
  const auto [mn, mx] = std::minmax_element(s.win.begin(), s.win.end());
  s.min = *mn;
  s.max = *mx;
  s.spread = s.max - s.min;
  return s;
}

}  // namespace srl::eval::report
