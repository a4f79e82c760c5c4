// Small numeric helpers every stage uses: one definition each.
#pragma once
#include <cmath>
#include <vector>

namespace srl {

// The logistic function 1 / (1 + e^-x): P(a beats b) from a score difference (Bradley-Terry).
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The mean of `v`; 0 for an empty vector.
inline double mean_of(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// The population standard deviation of `v` (divides by n); 0 for fewer than two values.
inline double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

}  // namespace srl
