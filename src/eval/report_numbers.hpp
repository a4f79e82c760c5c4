// The few numbers the report computes itself (private to src/eval/report_*.cpp); every other number is
// read from one input file. Each is defined once here, for the sections, the analysis and summary.json.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/report_readers.hpp"

namespace srl::eval::report {

// A win rate's no-difference level: against itself a policy wins half the time.
inline constexpr double kEvenWinRate = 0.5;

// The panel's 95% interval lies entirely above (beats) or below (loses) kEvenWinRate.
bool beats(const Run& r);
bool loses(const Run& r);
// Strictly more unsafe compliance than the baseline (never the baseline itself).
bool unsafe_above_baseline(const Loaded& L, const Run& r);

// Last step × what one step consumes (StepUnit), when both are known.
std::optional<double> examples_seen(const Run& r);
// Sample-efficiency gains are per this many examples, pairs or prompts seen.
inline constexpr double kGainPerSeen = 1000.0;
// (Panel win rate − 0.5) per kGainPerSeen units seen: absent for the baseline or when either is unknown.
std::optional<double> gain_per_thousand_seen(const Run& r);
// The best "eval/panel_win_rate" logged during training and its step (the first such step).
std::optional<std::pair<double, int64_t>> peak_training_win_rate(const Run& r);

// The panel win rate across the runs of one method name (a stability study).
struct SeedStats {
  std::vector<const Run*> runs;    // every run of the name, in input order
  std::vector<double> win;         // panel win-rate estimates of the runs that report one
  std::vector<double> half_width;  // half the width of their 95% intervals
  // Over `win` (and `half_width`), when `win` is not empty:
  double mean = 0, min = 0, max = 0, spread = 0, mean_half_width = 0;
};
SeedStats seed_stats(const Loaded& L, const std::string& name);

}  // namespace srl::eval::report
