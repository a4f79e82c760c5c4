// Statistics for comparing policies by pairwise outcomes: the mean with a percentile-bootstrap interval,
// the length-controlled win rate (AlpacaEval 2's regression, without its per-instruction term) and
// numpy-style percentiles. Plain arithmetic, no libtorch; randomness only through srl::data::Rng so an
// interval is the same on every machine for the same seed.
#pragma once
#include <cstdint>
#include <vector>

namespace srl::eval {

struct Interval {
  double estimate = 0, lo = 0, hi = 0;
};

// Mean of x with a percentile bootstrap interval over items: `resamples` times, draw x.size() items with
// replacement (srl::data::Rng seeded with `seed`), take the mean; lo/hi are the (1-level)/2 and
// (1+level)/2 percentiles of those means (linear interpolation, as percentile()). x are per-item
// outcomes: 1 win, 0 loss, 0.5 tie, or a probability of winning. Empty x, a non-finite value,
// level outside (0, 1) or resamples < 1: srl::fail_internal. One item: lo = hi = estimate.
Interval bootstrap_mean(const std::vector<double>& x, double level = 0.95, int resamples = 2000, uint64_t seed = 0);

// Length-controlled win rate, as AlpacaEval 2 computes it:
//   d_i = policy_len_i - baseline_len_i,  t_i = tanh(d_i / sd(d))   (sd with n-1; t = 0 when sd = 0)
//   P(policy wins item i) = sigmoid(a + b * t_i)
// fitted by maximum likelihood on soft labels y_i in [0, 1] (Newton/IRLS, step halving) with an L2
// penalty 0.5 * 0.1 * b^2 on the length coefficient only, which keeps b finite when length alone
// separates wins from losses and is negligible against hundreds of items. The LC win rate is the
// prediction at zero length difference, sigmoid(a); raw_win_rate = mean(y); length_coef = b.
// When every y is 0 (or every y is 1) a is unbounded: lc = raw, coef = 0.
// Equal non-zero sizes and finite values, y in [0, 1], else srl::fail_internal.
struct LengthControlled {
  double lc_win_rate = 0.5, raw_win_rate = 0.5, length_coef = 0;
};
LengthControlled length_controlled_win_rate(const std::vector<double>& outcome, const std::vector<double>& policy_len,
                                            const std::vector<double>& baseline_len);

// The q-th percentile (q in [0, 100]) with linear interpolation between order statistics, numpy's
// default: position q/100 * (n-1) in the sorted values. Empty x, NaN or q out of range: srl::fail_internal.
double percentile(std::vector<double> x, double q);

}  // namespace srl::eval
