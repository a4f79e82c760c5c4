// Bootstrap intervals, the length-controlled win rate and percentiles (see stats.hpp).
#include "eval/stats.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/numeric.hpp"
#include "data/support_world.hpp"

namespace srl::eval {
namespace {

// log(1 + e^x) without overflow.
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

void check_finite(const std::vector<double>& x, const char* where) {
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) fail_internal(where, "value " + std::to_string(i) + " is not finite");
}

// Percentile of already sorted values.
double sorted_percentile(const std::vector<double>& s, double q) {
  const double pos = q / 100.0 * static_cast<double>(s.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return s[lo] + (s[hi] - s[lo]) * frac;
}

}  // namespace

double percentile(std::vector<double> x, double q) {
  if (x.empty()) fail_internal("percentile", "no values");
  if (!(q >= 0 && q <= 100)) fail_internal("percentile", "q must be in [0, 100], got " + std::to_string(q));
  for (double v : x)
    if (std::isnan(v)) fail_internal("percentile", "NaN value");
  std::sort(x.begin(), x.end());
  return sorted_percentile(x, q);
}

Interval bootstrap_mean(const std::vector<double>& x, double level, int resamples, uint64_t seed) {
  if (x.empty()) fail_internal("bootstrap_mean", "no items");
  if (!(level > 0 && level < 1)) fail_internal("bootstrap_mean", "level must be in (0, 1)");
  if (resamples < 1) fail_internal("bootstrap_mean", "resamples must be >= 1");
  check_finite(x, "bootstrap_mean");
  const size_t n = x.size();
  double sum = 0;
  for (double v : x) sum += v;
  Interval out;
  out.estimate = sum / static_cast<double>(n);
  // A single item resamples to itself; the interval is the point, not an artefact of the loop.
  if (n == 1) {
    out.lo = out.hi = out.estimate;
    return out;
  }
  data::Rng rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += x[rng.below(n)];
    m = s / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  out.lo = sorted_percentile(means, 100.0 * (1.0 - level) / 2.0);
  out.hi = sorted_percentile(means, 100.0 * (1.0 + level) / 2.0);
  return out;
}

LengthControlled length_controlled_win_rate(const std::vector<double>& outcome, const std::vector<double>& policy_len,
                                            const std::vector<double>& baseline_len) {
  const char* where = "length_controlled_win_rate";
  const size_t n = outcome.size();
  if (n == 0) fail_internal(where, "no items");
  if (policy_len.size() != n || baseline_len.size() != n)
    fail_internal(where, "outcome, policy_len and baseline_len must have equal sizes");
  check_finite(outcome, where);
  check_finite(policy_len, where);
  check_finite(baseline_len, where);
  double ysum = 0;
  for (double y : outcome) {
    if (y < 0 || y > 1) fail_internal(where, "outcomes must be in [0, 1]");
    ysum += y;
  }
  LengthControlled r;
  r.raw_win_rate = ysum / static_cast<double>(n);
  if (ysum == 0 || ysum == static_cast<double>(n)) {
    r.lc_win_rate = r.raw_win_rate;
    return r;
  }

  // Feature t = tanh(d / sd(d)).
  std::vector<double> d(n), t(n, 0.0);
  double dmean = 0;
  for (size_t i = 0; i < n; ++i) dmean += (d[i] = policy_len[i] - baseline_len[i]);
  dmean /= static_cast<double>(n);
  double ss = 0;
  for (double v : d) ss += (v - dmean) * (v - dmean);
  const double sd = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
  if (sd > 0)
    for (size_t i = 0; i < n; ++i) t[i] = std::tanh(d[i] / sd);

  const double lambda = 0.1;
  // Negative penalised log-likelihood: sum softplus(eta) - y eta + 0.5 lambda b^2.
  auto objective = [&](double a, double b) {
    double f = 0.5 * lambda * b * b;
    for (size_t i = 0; i < n; ++i) {
      const double eta = a + b * t[i];
      f += softplus(eta) - outcome[i] * eta;
    }
    return f;
  };
  double a = std::log(r.raw_win_rate / (1.0 - r.raw_win_rate)), b = 0;
  double f = objective(a, b);
  for (int it = 0; it < 200; ++it) {
    double ga = 0, gb = -lambda * b, haa = 0, hab = 0, hbb = lambda;  // gradient of the log-lik, -Hessian
    for (size_t i = 0; i < n; ++i) {
      const double p = sigmoid(a + b * t[i]);
      const double w = p * (1 - p);
      ga += outcome[i] - p;
      gb += (outcome[i] - p) * t[i];
      haa += w;
      hab += w * t[i];
      hbb += w * t[i] * t[i];
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;  // saturated probabilities: no curvature left to use
    const double da = (hbb * ga - hab * gb) / det;
    const double db = (haa * gb - hab * ga) / det;
    double step = 1.0, fa = 0;
    // Step halving: Newton may overshoot far from the optimum; the objective must not go up.
    for (; step > 1e-10; step *= 0.5) {
      fa = objective(a + step * da, b + step * db);
      if (fa <= f) break;
    }
    if (step <= 1e-10) break;
    a += step * da;
    b += step * db;
    f = fa;
    if (std::max(std::abs(step * da), std::abs(step * db)) < 1e-12) break;
  }
  r.lc_win_rate = sigmoid(a);
  r.length_coef = b;
  return r;
}

}  // namespace srl::eval
