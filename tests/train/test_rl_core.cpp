// RL arithmetic on hand cases: group-relative advantages (ties, a group of one, constant rewards, the RLOO
// closed form, std normalisation), KL estimators (0 where policy == reference, k3 >= 0), the clipped
// objective (ratio 1 on-policy, its gradient against the closed form and finite differences, clip
// fraction), entropy, tournament patterns and their win-minus-loss rewards, the reward-hacking warning.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <set>

#include "core/error.hpp"
#include "train/rl_core.hpp"

using namespace srl;
using namespace srl::train;

namespace {
void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "index " << i;
}
}  // namespace

TEST(RlCoreAdvantages, MeanCenteredPerGroupWithTies) {
  // Two groups of 4; the first has tied rewards, the second one outlier.
  std::vector<double> r = {1, 0, 0, 1, 2, 2, 2, 6};
  expect_near(group_advantages(r, 4, {}), {0.5, -0.5, -0.5, 0.5, -1, -1, -1, 3});
}

TEST(RlCoreAdvantages, GroupOfOneAndConstantRewardsAreExactlyZero) {
  for (bool sn : {false, true})
    for (bool loo : {false, true}) {
      AdvantageOptions o;
      o.std_normalize = sn;
      o.leave_one_out = loo;
      for (double a : group_advantages({3.0, -1.0, 7.5}, 1, o)) EXPECT_EQ(a, 0.0);
      // 0.1 * 3 is not exactly representable: still exactly 0, never NaN, with or without std division.
      for (double a : group_advantages({0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3}, 4, o)) EXPECT_EQ(a, 0.0);
    }
}

TEST(RlCoreAdvantages, LeaveOneOutMatchesClosedForm) {
  std::vector<double> r = {0.3, -1.2, 2.0, 0.7, 5.0};
  AdvantageOptions o;
  o.leave_one_out = true;
  auto a = group_advantages(r, 5, o);
  for (size_t i = 0; i < r.size(); ++i) {
    double others = 0;
    for (size_t j = 0; j < r.size(); ++j)
      if (j != i) others += r[j];
    EXPECT_NEAR(a[i], r[i] - others / 4.0, 1e-12);
  }
  // Group of two: the difference itself.
  expect_near(group_advantages({1.0, 4.0}, 2, o), {-3.0, 3.0});
}

TEST(RlCoreAdvantages, StdNormalizationUsesSampleStd) {
  AdvantageOptions o;
  o.std_normalize = true;
  o.eps = 0;
  std::vector<double> r = {1, 2, 3, 4};
  const double sd = std::sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3.0);
  expect_near(group_advantages(r, 4, o), {-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd});
  EXPECT_EQ(zero_spread_groups({1, 1, 2, 2, 5, 5}, 2), 3);
  EXPECT_EQ(zero_spread_groups({1, 1, 2, 3}, 2), 1);
}

TEST(RlCoreAdvantages, BadInputIsAnErrorNotNaN) {
  EXPECT_THROW(group_advantages({1, 2, 3}, 2, {}), Error);
  EXPECT_THROW(group_advantages({1, NAN}, 2, {}), Error);
}

TEST(RlCoreKl, ZeroAndRatioOneWhenPolicyEqualsOldEqualsReference) {
  torch::manual_seed(0);
  auto logp = -torch::rand({3, 5}, torch::kDouble) * 4;
  auto mask = torch::ones({3, 5}, torch::kDouble);
  mask[2][4] = 0;
  for (auto est : {KlEstimator::K1, KlEstimator::K3}) {
    auto kl = kl_per_token(logp, logp.clone(), est);
    EXPECT_EQ(kl.abs().max().item<double>(), 0.0) << config::name_of(kKlEstimatorNames, est);
  }
  auto out = clipped_policy_loss(logp, logp.clone(), torch::tensor({1.0, -2.0, 0.5}, torch::kDouble), mask, 0.2);
  EXPECT_EQ(out.ratio_mean, 1.0);
  EXPECT_EQ(out.ratio_max, 1.0);
  EXPECT_EQ(out.clip_fraction, 0.0);
  EXPECT_EQ(out.approx_kl_old, 0.0);
}

TEST(RlCoreKl, EstimatorValues) {
  auto logp = torch::tensor({-1.0, -2.0, -0.5}, torch::kDouble), ref = torch::tensor({-1.5, -1.0, -0.5}, torch::kDouble);
  auto k1 = kl_per_token(logp, ref, KlEstimator::K1), k3 = kl_per_token(logp, ref, KlEstimator::K3);
  for (int i = 0; i < 3; ++i) {
    const double d = ref[i].item<double>() - logp[i].item<double>();
    EXPECT_NEAR(k1[i].item<double>(), -d, 1e-15);
    EXPECT_NEAR(k3[i].item<double>(), std::exp(d) - 1 - d, 1e-15);
    EXPECT_GE(k3[i].item<double>(), 0.0);
  }
  auto mask = torch::tensor({{1.0, 1.0, 0.0}}, torch::kDouble);
  EXPECT_NEAR(masked_row_sum(k1.unsqueeze(0), mask)[0].item<double>(), 0.5 - 1.0, 1e-15);
  EXPECT_NEAR(masked_token_mean(k1.unsqueeze(0), mask).item<double>(), (0.5 - 1.0) / 2, 1e-15);
  expect_near(shape_rewards_with_kl({1.0, 2.0}, {0.5, -1.0}, 0.1), {0.95, 2.1});
}

TEST(RlCorePolicyLoss, GradientMatchesClosedFormAndFiniteDifferences) {
  // Tokens chosen on both sides of the clip range for positive and negative advantages.
  const double eps = 0.2;
  auto old = torch::tensor({{-1.0, -2.0, -0.7, -1.1}, {-0.3, -1.5, -2.2, -0.9}}, torch::kDouble);
  auto shift = torch::tensor({{0.0, 0.5, -0.5, 0.1}, {0.3, -0.4, 0.05, 0.0}}, torch::kDouble);
  auto mask = torch::tensor({{1.0, 1.0, 1.0, 1.0}, {1.0, 1.0, 1.0, 0.0}}, torch::kDouble);
  auto adv = torch::tensor({1.5, -0.8}, torch::kDouble);
  auto logp = (old + shift).clone().requires_grad_(true);
  auto out = clipped_policy_loss(logp, old, adv, mask, eps);
  out.loss.backward();
  auto g = logp.grad();
  const double N = 7;
  int clipped = 0;
  double loss = 0;
  for (int i = 0; i < 2; ++i)
    for (int t = 0; t < 4; ++t) {
      if (mask[i][t].item<double>() == 0) {
        EXPECT_EQ(g[i][t].item<double>(), 0.0);
        continue;
      }
      const double r = std::exp(shift[i][t].item<double>()), A = adv[i].item<double>();
      const double rc = std::clamp(r, 1 - eps, 1 + eps);
      loss += std::max(-A * r, -A * rc) / N;
      // In effect: the unclipped term unless the clipped one is larger (then the gradient is 0).
      const bool is_clipped = -A * rc > -A * r;
      clipped += is_clipped;
      const double want = is_clipped ? 0.0 : -A * r / N;
      EXPECT_NEAR(g[i][t].item<double>(), want, 1e-12) << i << "," << t;
    }
  EXPECT_NEAR(out.loss.item<double>(), loss, 1e-12);
  EXPECT_NEAR(out.clip_fraction, clipped / N, 1e-12);
  EXPECT_GT(clipped, 0);
  EXPECT_LT(clipped, 7);
  // Central finite differences on every real token (none sits on a clip boundary).
  for (int i = 0; i < 2; ++i)
    for (int t = 0; t < 4; ++t) {
      if (mask[i][t].item<double>() == 0) continue;
      const double h = 1e-6;
      auto lp = (old + shift).detach().clone();
      lp[i][t] += h;
      const double up = clipped_policy_loss(lp, old, adv, mask, eps).loss.item<double>();
      lp[i][t] -= 2 * h;
      const double down = clipped_policy_loss(lp, old, adv, mask, eps).loss.item<double>();
      EXPECT_NEAR((up - down) / (2 * h), g[i][t].item<double>(), 1e-7) << i << "," << t;
    }
}

TEST(RlCorePolicyLoss, PaddingWithHugeValuesStaysFinite) {
  auto logp = torch::tensor({{-1.0, 500.0}}, torch::kDouble).requires_grad_(true);
  auto old = torch::tensor({{-1.0, -500.0}}, torch::kDouble);
  auto mask = torch::tensor({{1.0, 0.0}}, torch::kDouble);
  auto out = clipped_policy_loss(logp, old, torch::tensor({1.0}, torch::kDouble), mask, 0.2);
  out.loss.backward();
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  EXPECT_TRUE(torch::isfinite(logp.grad()).all().item<bool>());
  EXPECT_EQ(out.ratio_max, 1.0);
}

TEST(RlCoreEntropy, UniformAndPointMass) {
  auto lp = torch::log_softmax(torch::zeros({2, 8}), -1);
  EXPECT_NEAR(entropy_from_logp(lp)[0].item<float>(), std::log(8.0f), 1e-6);
  auto point = torch::log_softmax(torch::tensor({{100.0f, 0.0f, 0.0f}}), -1);
  EXPECT_NEAR(entropy_from_logp(point)[0].item<float>(), 0.0f, 1e-6);
}

TEST(RlCoreTournament, ComparisonCounts) {
  using P = TournamentPattern;
  EXPECT_EQ(tournament_comparisons(P::AllPairs, 4, 0).size(), 6u);
  EXPECT_EQ(tournament_comparisons(P::AllPairsBothOrders, 4, 0).size(), 12u);
  EXPECT_EQ(tournament_comparisons(P::AllPairs, 1, 0).size(), 0u);
  EXPECT_EQ(tournament_comparisons(P::AllPairs, 8, 0).size(), 28u);
  EXPECT_EQ(tournament_comparisons(P::Chunked, 8, 4).size(), 12u);   // 2 chunks x 6
  EXPECT_EQ(tournament_comparisons(P::Chunked, 5, 2).size(), 4u);    // {0,1} + {2,3,4}
  EXPECT_EQ(tournament_comparisons(P::Chunked, 4, 8).size(), 6u);    // one chunk = all pairs
  EXPECT_EQ(tournament_comparisons(P::Chunked, 64, 4).size(), 96u);  // linear: 16 chunks x 6
  // Each unordered pair exactly once in all_pairs; both orders present in all_pairs_both_orders.
  std::set<std::pair<int64_t, int64_t>> seen;
  for (auto c : tournament_comparisons(P::AllPairs, 5, 0)) {
    EXPECT_LT(c.a, c.b);
    EXPECT_TRUE(seen.insert({c.a, c.b}).second);
  }
  std::set<std::pair<int64_t, int64_t>> both;
  for (auto c : tournament_comparisons(P::AllPairsBothOrders, 3, 0)) both.insert({c.a, c.b});
  EXPECT_EQ(both.size(), 6u);
  EXPECT_TRUE(both.count({2, 0}));
  // Every rollout plays in a chunked tournament (no chunk of one).
  for (int64_t G = 2; G <= 9; ++G) {
    auto r = tournament_rewards(G, tournament_comparisons(P::Chunked, G, 3),
                                std::vector<double>(tournament_comparisons(P::Chunked, G, 3).size(), 1.0));
    for (auto n : r.games) EXPECT_GT(n, 0) << "G=" << G;
  }
  EXPECT_STREQ(config::name_of(kTournamentNames, P::Chunked), "chunked");
}

TEST(RlCoreTournament, WinMinusLossWithTiesCountingHalf) {
  // 0 beats 1, 0 ties 2, 2 beats 1.
  std::vector<Comparison> c = {{0, 1}, {0, 2}, {1, 2}};
  auto r = tournament_rewards(3, c, {1.0, 0.5, 0.0});
  expect_near(r.reward, {0.5, -1.0, 0.5});
  expect_near(r.win_rate, {0.75, 0.0, 0.75});
  EXPECT_EQ(r.games, (std::vector<int64_t>{2, 2, 2}));
  // All ties: every reward 0 (and so every advantage).
  auto t = tournament_rewards(3, c, {0.5, 0.5, 0.5});
  expect_near(t.reward, {0, 0, 0});
  // Zero-sum in all_pairs: rewards sum to 0.
  auto s = tournament_rewards(4, tournament_comparisons(TournamentPattern::AllPairs, 4, 0), {0.9, 0.2, 0.6, 0.4, 0.3, 0.8});
  EXPECT_NEAR(std::accumulate(s.reward.begin(), s.reward.end(), 0.0), 0.0, 1e-12);
  // A rollout without games: reward 0, win rate 0.5.
  auto lone = tournament_rewards(1, {}, {});
  expect_near(lone.reward, {0.0});
  expect_near(lone.win_rate, {0.5});
  EXPECT_THROW(tournament_rewards(2, {{0, 1}}, {1.5}), Error);
}

TEST(RlCoreTournament, JudgeOutcomes) {
  EXPECT_EQ(judge_outcome(0.73, OutcomeMode::Soft, 0.0), 0.73);
  EXPECT_EQ(judge_outcome(0.73, OutcomeMode::Hard, 0.05), 1.0);
  EXPECT_EQ(judge_outcome(0.27, OutcomeMode::Hard, 0.05), 0.0);
  EXPECT_EQ(judge_outcome(0.52, OutcomeMode::Hard, 0.05), 0.5);
  EXPECT_EQ(judge_outcome(0.5, OutcomeMode::Hard, 0.0), 0.5);
  EXPECT_THROW(judge_outcome(NAN, OutcomeMode::Soft, 0.0), Error);
  EXPECT_THROW(judge_outcome(1.2, OutcomeMode::Soft, 0.0), Error);
}

TEST(RlCoreRewardHacking, WarnsOnLongerResponsesWithFlatRewardOrAcceleratingKl) {
  std::vector<double> len = {20, 20, 20, 20, 30, 30}, flat = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
  std::vector<double> kl = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
  auto w = reward_hacking_warning(len, flat, kl, 2);
  ASSERT_TRUE(w.has_value());
  EXPECT_NE(w->find("flat"), std::string::npos);
  // Reward rising with the length: no warning, unless the KL accelerates.
  std::vector<double> rising = {0.1, 0.2, 0.3, 0.4, 0.8, 0.9};
  EXPECT_FALSE(reward_hacking_warning(len, rising, kl, 2).has_value());
  std::vector<double> kl_acc = {0.1, 0.1, 0.12, 0.12, 0.5, 0.6};
  auto a = reward_hacking_warning(len, rising, kl_acc, 2);
  ASSERT_TRUE(a.has_value());
  EXPECT_NE(a->find("accelerated"), std::string::npos);
  // Stable length: never.
  std::vector<double> same = {20, 20, 20, 20, 20, 21};
  EXPECT_FALSE(reward_hacking_warning(same, flat, kl_acc, 2).has_value());
  EXPECT_FALSE(reward_hacking_warning({1, 2}, {0, 0}, {0, 0}, 2).has_value());  // too little history
}
