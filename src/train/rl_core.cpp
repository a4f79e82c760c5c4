// RL arithmetic; formulas and conventions in rl_core.hpp and docs/rl.md.
#include "train/rl_core.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/error.hpp"

namespace srl::train {

namespace {

void check_groups(size_t n, int64_t group_size, const char* where) {
  if (group_size < 1 || n % static_cast<size_t>(group_size) != 0)
    fail_internal(where, std::to_string(n) + " rewards do not form groups of " + std::to_string(group_size));
}

void check_finite(const std::vector<double>& v, const char* where, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail_internal(where, std::string("non-finite ") + what + " at index " + std::to_string(i));
}

torch::Tensor at_least_fp32(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
}

double mean_of(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / static_cast<double>(to - from);
}

}  // namespace

std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t group_size,
                                     const AdvantageOptions& opt) {
  check_groups(rewards.size(), group_size, "group_advantages");
  check_finite(rewards, "group_advantages", "reward");
  const size_t G = static_cast<size_t>(group_size);
  std::vector<double> adv(rewards.size(), 0.0);
  if (G == 1) return adv;  // nothing to compare against
  for (size_t g0 = 0; g0 < rewards.size(); g0 += G) {
    const auto first = rewards.begin() + static_cast<std::ptrdiff_t>(g0);
    const auto [lo, hi] = std::minmax_element(first, first + static_cast<std::ptrdiff_t>(G));
    if (*lo == *hi) continue;  // constant rewards: exactly zero, no 0/0
    const double mean = mean_of(rewards, g0, g0 + G);
    double var = 0;
    for (size_t i = g0; i < g0 + G; ++i) var += (rewards[i] - mean) * (rewards[i] - mean);
    const double sd = std::sqrt(var / static_cast<double>(G - 1));
    const double loo = opt.leave_one_out ? static_cast<double>(G) / static_cast<double>(G - 1) : 1.0;
    for (size_t i = g0; i < g0 + G; ++i) {
      double a = loo * (rewards[i] - mean);
      if (opt.std_normalize) a /= sd + opt.eps;
      adv[i] = a;
    }
  }
  return adv;
}

int64_t zero_spread_groups(const std::vector<double>& rewards, int64_t group_size) {
  check_groups(rewards.size(), group_size, "zero_spread_groups");
  int64_t n = 0;
  const auto G = static_cast<std::ptrdiff_t>(group_size);
  for (auto it = rewards.begin(); it != rewards.end(); it += G) {
    const auto [lo, hi] = std::minmax_element(it, it + G);
    n += *lo == *hi;
  }
  return n;
}

torch::Tensor kl_per_token(const torch::Tensor& logp, const torch::Tensor& ref_logp, KlEstimator estimator) {
  auto lp = at_least_fp32(logp), ref = at_least_fp32(ref_logp);
  if (estimator == KlEstimator::K1) return lp - ref;
  auto d = ref - lp;           // log r
  return torch::expm1(d) - d;  // k3 = (r - 1) - log r, accurate near r = 1
}

torch::Tensor masked_row_sum(const torch::Tensor& x, const torch::Tensor& mask) {
  return (at_least_fp32(x) * mask.to(at_least_fp32(x).scalar_type())).sum(1);
}

torch::Tensor masked_token_mean(const torch::Tensor& x, const torch::Tensor& mask) {
  auto xf = at_least_fp32(x);
  auto m = mask.to(xf.scalar_type());
  return (xf * m).sum() / m.sum().clamp_min(1.0);
}

std::vector<double> shape_rewards_with_kl(const std::vector<double>& rewards, const std::vector<double>& seq_kl,
                                          double beta) {
  if (rewards.size() != seq_kl.size())
    fail_internal("shape_rewards_with_kl", std::to_string(rewards.size()) + " rewards but " +
                                               std::to_string(seq_kl.size()) + " KL values");
  check_finite(seq_kl, "shape_rewards_with_kl", "KL");
  std::vector<double> out(rewards.size());
  for (size_t i = 0; i < rewards.size(); ++i) out[i] = rewards[i] - beta * seq_kl[i];
  return out;
}

PolicyLossOutput clipped_policy_loss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                                     const torch::Tensor& advantages, const torch::Tensor& mask, double clip_eps) {
  if (!(clip_eps > 0)) fail_internal("clipped_policy_loss", "clip_eps must be positive");
  if (logp.sizes() != old_logp.sizes() || logp.sizes() != mask.sizes() || logp.dim() != 2 ||
      advantages.dim() != 1 || advantages.size(0) != logp.size(0))
    fail_internal("clipped_policy_loss", "shapes disagree: logp, old_logp and mask must be (R, T), advantages (R,)");
  auto lp = at_least_fp32(logp);
  const auto dt = lp.scalar_type();
  auto old = old_logp.to(dt).detach();
  auto m = mask.to(dt);
  auto adv = advantages.to(dt).detach().unsqueeze(1);
  // Padding holds arbitrary numbers; the log-ratio is zeroed there so exp() never overflows into NaN*0.
  auto log_ratio = (lp - old) * m;
  auto ratio = torch::exp(log_ratio);
  auto unclipped = -adv * ratio;
  auto clipped = -adv * torch::clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps);
  auto per_token = torch::max(unclipped, clipped);
  PolicyLossOutput out;
  out.loss = masked_token_mean(per_token, m);
  torch::NoGradGuard ng;
  const double tokens = m.sum().item<double>(), n = std::max(1.0, tokens);
  out.clip_fraction = ((clipped > unclipped).to(dt) * m).sum().item<double>() / n;
  out.ratio_mean = tokens > 0 ? (ratio * m).sum().item<double>() / n : 1.0;
  out.ratio_max = tokens > 0 ? ratio.masked_select(m > 0).max().item<double>() : 1.0;
  out.approx_kl_old = masked_token_mean(torch::expm1(-log_ratio) + log_ratio, m).item<double>();
  return out;
}

torch::Tensor entropy_from_logp(const torch::Tensor& logp) {
  auto l = at_least_fp32(logp);
  return -(torch::exp(l) * l).sum(-1);
}

std::vector<Comparison> tournament_comparisons(TournamentPattern p, int64_t group_size, int64_t chunk_size) {
  if (group_size < 1) fail_internal("tournament_comparisons", "group size must be positive");
  std::vector<Comparison> out;
  auto all_pairs = [&](int64_t from, int64_t to, bool both) {
    for (int64_t i = from; i < to; ++i)
      for (int64_t j = i + 1; j < to; ++j) {
        out.push_back({i, j});
        if (both) out.push_back({j, i});
      }
  };
  switch (p) {
    case TournamentPattern::AllPairs: all_pairs(0, group_size, false); break;
    case TournamentPattern::AllPairsBothOrders: all_pairs(0, group_size, true); break;
    case TournamentPattern::Chunked: {
      if (chunk_size < 2) fail_internal("tournament_comparisons", "chunk_size must be at least 2");
      for (int64_t from = 0; from < group_size;) {
        int64_t to = std::min(group_size, from + chunk_size);
        if (group_size - to == 1) to = group_size;  // a lone leftover joins this chunk
        all_pairs(from, to, false);
        from = to;
      }
      break;
    }
  }
  return out;
}

double judge_outcome(double prob_a, OutcomeMode mode, double tie_margin) {
  if (!std::isfinite(prob_a) || prob_a < 0 || prob_a > 1)
    fail_internal("judge_outcome", "P(a beats b) = " + std::to_string(prob_a) + " is not a probability");
  if (mode == OutcomeMode::Soft) return prob_a;
  if (std::abs(prob_a - 0.5) <= tie_margin) return 0.5;
  return prob_a > 0.5 ? 1.0 : 0.0;
}

TournamentResult tournament_rewards(int64_t group_size, const std::vector<Comparison>& comparisons,
                                    const std::vector<double>& outcomes) {
  if (comparisons.size() != outcomes.size())
    fail_internal("tournament_rewards", std::to_string(comparisons.size()) + " comparisons but " +
                                            std::to_string(outcomes.size()) + " outcomes");
  const size_t G = static_cast<size_t>(std::max<int64_t>(group_size, 0));
  std::vector<double> credit(G, 0.0);
  TournamentResult r;
  r.games.assign(G, 0);
  for (size_t k = 0; k < comparisons.size(); ++k) {
    const auto [a, b] = comparisons[k];
    const double o = outcomes[k];
    if (a < 0 || b < 0 || a >= group_size || b >= group_size || a == b)
      fail_internal("tournament_rewards", "comparison " + std::to_string(k) + " has bad indices");
    if (!std::isfinite(o) || o < 0 || o > 1)
      fail_internal("tournament_rewards", "outcome " + std::to_string(k) + " is not in [0, 1]");
    credit[a] += o;
    credit[b] += 1.0 - o;
    ++r.games[a];
    ++r.games[b];
  }
  r.reward.assign(G, 0.0);
  r.win_rate.assign(G, 0.5);
  for (size_t i = 0; i < G; ++i) {
    if (r.games[i] == 0) continue;
    const double n = static_cast<double>(r.games[i]);
    r.win_rate[i] = credit[i] / n;
    r.reward[i] = (2.0 * credit[i] - n) / n;  // wins - losses, ties half each
  }
  return r;
}

std::optional<std::string> reward_hacking_warning(const std::vector<double>& length, const std::vector<double>& reward,
                                                  const std::vector<double>& kl, int64_t window) {
  const size_t n = length.size();
  if (window < 1 || reward.size() != n || kl.size() != n || n < 2 * static_cast<size_t>(window)) return std::nullopt;
  const size_t w = static_cast<size_t>(window);
  const size_t last = n - w, prev = n - 2 * w;
  const double len_last = mean_of(length, last, n), len_prev = mean_of(length, prev, last);
  if (!(len_last > 1.15 * len_prev)) return std::nullopt;
  const double r_last = mean_of(reward, last, n), r_prev = mean_of(reward, prev, last);
  const double r_mean = mean_of(reward, prev, n);
  double var = 0;
  for (size_t i = prev; i < n; ++i) var += (reward[i] - r_mean) * (reward[i] - r_mean);
  const double r_sd = std::sqrt(var / static_cast<double>(2 * w));
  char buf[256];
  if (r_last - r_prev < 0.1 * r_sd || r_sd == 0) {
    std::snprintf(buf, sizeof buf,
                  "possible reward hacking: mean response length rose %.0f%% (%.1f -> %.1f tokens) over the last %zu "
                  "steps while the reward stayed flat (%.4f -> %.4f)",
                  100.0 * (len_last / std::max(len_prev, 1e-9) - 1.0), len_prev, len_last, w, r_prev, r_last);
    return std::string(buf);
  }
  if (n >= 3 * w) {
    const double kl_last = mean_of(kl, last, n), kl_prev = mean_of(kl, prev, last), kl_first = mean_of(kl, n - 3 * w, prev);
    const double rise = kl_last - kl_prev, rise_before = kl_prev - kl_first;
    if (rise > 2.0 * std::max(rise_before, 0.0) && rise > 0.1 * std::abs(kl_prev) && rise > 0) {
      std::snprintf(buf, sizeof buf,
                    "possible reward hacking: mean response length rose %.0f%% (%.1f -> %.1f tokens) over the last "
                    "%zu steps while the KL to the reference accelerated (%.4f -> %.4f -> %.4f)",
                    100.0 * (len_last / std::max(len_prev, 1e-9) - 1.0), len_prev, len_last, w, kl_first, kl_prev,
                    kl_last);
      return std::string(buf);
    }
  }
  return std::nullopt;
}

}  // namespace srl::train
