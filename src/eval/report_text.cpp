#include "eval/report_text.hpp"

#include <cstdio>

namespace srl::eval::report {

using std::string;

string num(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  string s = b;
  if (s[0] == '-' && s.find_first_not_of("-0.") == string::npos) s.erase(0, 1);
  return s;
}

string num(const std::optional<double>& v, int decimals) { return v ? num(*v, decimals) : "—"; }

string count_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}

string win_text(const std::optional<WinRate>& w) {
  return w ? num(w->estimate) + " [" + num(w->lo) + ", " + num(w->hi) + "]" : "—";
}

string pass_k_text(const SimData& s) {
  if (!s.present) return "not run";
  if (s.pass_k.empty()) return "—";
  string out;
  for (const auto& [k, v] : s.pass_k) out += (out.empty() ? "" : " · ") + ("k=" + std::to_string(k) + " " + num(v));
  return out;
}


}  // namespace srl::eval::report
