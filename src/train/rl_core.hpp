// The arithmetic of online RL as pure functions (no model, no I/O): group-relative advantages, per-token
// KL estimators and the two ways of applying KL, the PPO clipped policy loss, entropy, the tournament
// patterns of pairwise judges and their win-minus-loss rewards, and the reward-hacking warning. The RL
// trainer (rl.hpp) feeds them rollouts; docs/rl.md explains the choices.
//
// Tensor conventions: per-token quantities of R responses are (R, T) tensors, right-padded, with a
// float mask (R, T) that is 1 on response tokens and 0 on padding; per-response quantities are (R,).
// Everything is computed in at least fp32.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/names.hpp"

namespace srl::train {

// ---- Advantages ---------------------------------------------------------------------------------------

struct AdvantageOptions {
  bool std_normalize = false;  // divide by the group's sample standard deviation (+ eps), as GRPO
  bool leave_one_out = false;  // baseline = mean of the OTHER rollouts of the group (RLOO)
  double eps = 1e-4;
};

// rewards: consecutive groups of `group_size` rollouts of one prompt (rewards.size() a multiple of it).
// A_i = r_i - mean(group) (leave_one_out: r_i - mean of the others = G/(G-1) * (r_i - mean)), then
// optionally / (std(group) + eps). A group of one, or a group whose rewards are all equal, gets exactly 0.
// Non-finite rewards or a bad group size are srl::fail_internal (the caller validates its reward source).
std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t group_size,
                                     const AdvantageOptions& opt);

// Groups whose rewards are all equal (max - min == 0): they carry no learning signal.
int64_t zero_spread_groups(const std::vector<double>& rewards, int64_t group_size);

// ---- KL to the reference -------------------------------------------------------------------------------

// Per-token estimators of KL(policy || reference) from the log-prob of the sampled token under each:
//   k1 = logp - ref                              (unbiased, can be negative)
//   k3 = (r - 1) - log r,  r = exp(ref - logp)   (unbiased, always >= 0; Schulman's "k3")
// Both are exactly 0 where logp == ref.
enum class KlEstimator { K1, K3 };
inline constexpr config::Names<KlEstimator, 2> kKlEstimatorNames{{{"k1", KlEstimator::K1}, {"k3", KlEstimator::K3}}};
torch::Tensor kl_per_token(const torch::Tensor& logp, const torch::Tensor& ref_logp, KlEstimator estimator);

// Sum of x over each row's response tokens: (R, T), (R, T) -> (R,).
torch::Tensor masked_row_sum(const torch::Tensor& x, const torch::Tensor& mask);
// Mean of x over all response tokens of the batch (the "token-mean"); 0 when the mask is empty.
torch::Tensor masked_token_mean(const torch::Tensor& x, const torch::Tensor& mask);

// KL as reward shaping: r_i - beta * sum_t kl_it (the sequence KL), per response.
std::vector<double> shape_rewards_with_kl(const std::vector<double>& rewards, const std::vector<double>& seq_kl,
                                          double beta);

// ---- Policy loss -------------------------------------------------------------------------------------------

struct PolicyLossOutput {
  torch::Tensor loss;          // scalar: token-mean of -min(ratio * A, clip(ratio, 1-eps, 1+eps) * A)
  double clip_fraction = 0;    // share of response tokens where the clipped term is the smaller (in effect)
  double ratio_mean = 1;       // token-mean of the importance ratio
  double ratio_max = 1;
  double approx_kl_old = 0;    // token-mean k3 between the old and the current policy (drift within a step)
};

// logp: current policy log-probs (carry the graph); old_logp: the policy that sampled (detached);
// advantages (R,) broadcast over each row's tokens; ratio = exp(logp - old_logp). clip_eps > 0.
PolicyLossOutput clipped_policy_loss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                                     const torch::Tensor& advantages, const torch::Tensor& mask, double clip_eps);

// Entropy of each row of a log-probability matrix (N, V) -> (N,): -sum exp(l) * l.
torch::Tensor entropy_from_logp(const torch::Tensor& logp);

// ---- Tournaments (pairwise judges) ---------------------------------------------------------------------------

// all_pairs: each unordered pair once, G(G-1)/2 comparisons; all_pairs_both_orders: each pair in both
// orders (position bias cancels), G(G-1); chunked: consecutive chunks of chunk_size, all pairs inside
// each chunk (a leftover single rollout joins the previous chunk), about G(k-1)/2: linear in G.
enum class TournamentPattern { AllPairs, AllPairsBothOrders, Chunked };
inline constexpr config::Names<TournamentPattern, 3> kTournamentNames{{{"all_pairs", TournamentPattern::AllPairs},
                                                                       {"all_pairs_both_orders", TournamentPattern::AllPairsBothOrders},
                                                                       {"chunked", TournamentPattern::Chunked}}};

struct Comparison {
  int64_t a = 0, b = 0;  // indices inside the group; the judge sees a first
};
// The comparisons of one group (group_size >= 1; chunk_size >= 2 for chunked, else fail_internal).
std::vector<Comparison> tournament_comparisons(TournamentPattern p, int64_t group_size, int64_t chunk_size);

// The credit `a` gets from one judgment P(a beats b): Soft = the probability itself (the expected
// outcome of a panel vote); Hard = 1 / 0 / 0.5 (a tie when |p - 0.5| <= tie_margin).
enum class OutcomeMode { Soft, Hard };
inline constexpr config::Names<OutcomeMode, 2> kOutcomeModeNames{{{"soft", OutcomeMode::Soft}, {"hard", OutcomeMode::Hard}}};
double judge_outcome(double prob_a, OutcomeMode mode, double tie_margin);

struct TournamentResult {
  std::vector<double> reward;    // (wins - losses) / games, in [-1, 1]; ties count half a win, half a loss
  std::vector<double> win_rate;  // (wins + ties / 2) / games; 0.5 for a rollout without games
  std::vector<int64_t> games;
};
// outcomes[k] in [0, 1] is comparison k's credit to its `a` (1 - outcome goes to `b`).
TournamentResult tournament_rewards(int64_t group_size, const std::vector<Comparison>& comparisons,
                                    const std::vector<double>& outcomes);

// ---- Reward hacking ------------------------------------------------------------------------------------------

// Per-step histories of equal length (oldest first), compared window by window (`window` steps each, the
// last windows of the history). Returns a one-line warning when the mean response length of the last
// window is more than 15% above the one before while either the reward gained less than a tenth of its
// standard deviation over those two windows (a plateau) or, with three windows of history, the KL rose by
// more than twice the previous rise and by more than 10% of its level (acceleration). nullopt otherwise
// and with fewer than two windows of history.
std::optional<std::string> reward_hacking_warning(const std::vector<double>& length, const std::vector<double>& reward,
                                                  const std::vector<double>& kl, int64_t window);

}  // namespace srl::train
