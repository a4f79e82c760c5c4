// The report's fixed text formats for numbers (private to src/eval/report_*.cpp): the same number is
// written the same way in every section, the HTML, the Markdown and the captions.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "eval/report_readers.hpp"

namespace srl::eval::report {

// `decimals` fixed decimals; "-0.000" is written "0.000"; an absent number is "—".
std::string num(double v, int decimals = 3);
std::string num(const std::optional<double>& v, int decimals = 3);
// A count: no decimals.
std::string count_text(double v);
// "0.630 [0.570, 0.690]", or "—".
std::string win_text(const std::optional<WinRate>& w);
// "k=1 0.550 · k=2 0.400", "—" without pass^k, "not run" without a simulation.
std::string pass_k_text(const SimData& s);

}  // namespace srl::eval::report
