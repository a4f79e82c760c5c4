// DPO-family losses against closed forms written out here in plain double arithmetic (not the tensor
// code): loss values, analytic gradients w.r.t. the policy log-probs, central finite differences,
// implicit rewards, TRL metric names, option validation and extreme log-probs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <set>
#include <vector>

#include "core/error.hpp"
#include "train/dpo_loss.hpp"

using namespace srl::train;

namespace {

// Scalar closed forms, stable for large |x|.
double logsig(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
double sig(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

// One toy batch (B = 3) in plain numbers.
struct Toy {
  std::vector<double> pc{-10, -20, -5}, pr{-12, -18, -6};  // policy, summed
  std::vector<double> rc{-11, -19, -6}, rr{-11, -19, -6};  // reference, summed
  std::vector<double> lc{4, 5, 2}, lr{3, 8, 2};            // tokens
  size_t B() const { return pc.size(); }
};

torch::Tensor vec(const std::vector<double>& v, bool grad = false) {
  return torch::tensor(v, torch::kDouble).set_requires_grad(grad);
}

DpoBatchLogps batch_of(const Toy& t, bool with_ref) {
  DpoBatchLogps b;
  b.policy_chosen = vec(t.pc, true);
  b.policy_rejected = vec(t.pr, true);
  if (with_ref) b.ref_chosen = vec(t.rc), b.ref_rejected = vec(t.rr);
  b.chosen_tokens = vec(t.lc);
  b.rejected_tokens = vec(t.lr);
  return b;
}

// Expected per-batch value and gradients, by hand. For pair i: z = beta*logits_i, dL_i/dz, and the
// derivatives of logits_i w.r.t. pi_c and pi_r.
struct Expected {
  double loss = 0;
  std::vector<double> g_pc, g_pr;
  std::vector<double> rew_c, rew_r;
};

Expected closed_form(const Toy& t, const DpoLossOptions& o) {
  const double beta = o.beta, ls = o.label_smoothing;
  const size_t B = t.B();
  const std::string ty = srl::config::name_of(kDpoLossNames, o.loss_type);
  const bool norm = ty == "ipo" || ty == "sigmoid_norm" || ty == "simpo";
  Expected e;
  for (size_t i = 0; i < B; ++i) {
    // Log-probs as the loss sees them and d(seen)/d(summed) for the policy.
    const double sc = norm ? 1 / t.lc[i] : 1, sr = norm ? 1 / t.lr[i] : 1;
    const double pc = t.pc[i] * sc, pr = t.pr[i] * sr;
    double logits;
    if (ty == "simpo") {
      logits = pc - pr - o.simpo_gamma / beta;
      e.rew_c.push_back(beta * pc);
      e.rew_r.push_back(beta * pr);
    } else {
      const double rc = t.rc[i] * sc, rr = t.rr[i] * sr;
      logits = (pc - rc) - (pr - rr);
      e.rew_c.push_back(beta * (pc - rc));
      e.rew_r.push_back(beta * (pr - rr));
    }
    const double z = beta * logits;
    double L, dL_dlogits;
    if (ty == "sigmoid" || ty == "sigmoid_norm" || ty == "simpo") {
      L = -logsig(z) * (1 - ls) - logsig(-z) * ls;
      dL_dlogits = beta * (-(1 - ls) * sig(-z) + ls * sig(z));
    } else if (ty == "robust") {
      L = (-logsig(z) * (1 - ls) + logsig(-z) * ls) / (1 - 2 * ls);
      dL_dlogits = beta * (-(1 - ls) * sig(-z) - ls * sig(z)) / (1 - 2 * ls);
    } else if (ty == "hinge") {
      L = std::max(0.0, 1 - z);
      dL_dlogits = z < 1 ? -beta : 0.0;
    } else {  // ipo
      const double d = logits - 1 / (2 * beta);
      L = d * d;
      dL_dlogits = 2 * d;
    }
    e.loss += L / B;
    double gpc = dL_dlogits * sc / B;
    if (o.sft_weight > 0) {
      e.loss += o.sft_weight * (-t.pc[i] / t.lc[i]) / B;
      gpc += o.sft_weight * (-1 / t.lc[i]) / B;
    }
    e.g_pc.push_back(gpc);
    e.g_pr.push_back(-dL_dlogits * sr / B);
  }
  return e;
}

double loss_value(const Toy& t, const DpoLossOptions& o) {
  torch::NoGradGuard g;
  return dpo_loss(batch_of(t, o.loss_type != DpoLossType::Simpo), o).loss.item<double>();
}

// Central finite differences of the loss w.r.t. pc[i] / pr[i].
std::vector<double> finite_diff(const Toy& t, const DpoLossOptions& o, bool chosen) {
  const double h = 1e-5;
  std::vector<double> g;
  for (size_t i = 0; i < t.B(); ++i) {
    Toy up = t, dn = t;
    (chosen ? up.pc : up.pr)[i] += h;
    (chosen ? dn.pc : dn.pr)[i] -= h;
    g.push_back((loss_value(up, o) - loss_value(dn, o)) / (2 * h));
  }
  return g;
}

std::vector<double> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

DpoLossOptions opts(const std::string& type, double beta, double ls = 0, double gamma = 0.5, double sft = 0) {
  DpoLossOptions o;
  const auto t = srl::config::value_of(kDpoLossNames, type);
  if (!t) ADD_FAILURE() << "no DPO loss named " << type;
  o.loss_type = t.value_or(DpoLossType::Sigmoid);
  o.beta = beta;
  o.label_smoothing = ls;
  o.simpo_gamma = gamma;
  o.sft_weight = sft;
  return o;
}

void check_against_closed_form(const DpoLossOptions& o, const Toy& t = Toy{}) {
  SCOPED_TRACE(std::string(srl::config::name_of(kDpoLossNames, o.loss_type)) + " beta=" + std::to_string(o.beta) + " ls=" + std::to_string(o.label_smoothing) +
               " sft=" + std::to_string(o.sft_weight));
  const auto e = closed_form(t, o);
  auto b = batch_of(t, o.loss_type != DpoLossType::Simpo);
  auto out = dpo_loss(b, o);
  ASSERT_EQ(out.loss.dim(), 0);
  EXPECT_NEAR(out.loss.item<double>(), e.loss, 1e-12);
  out.loss.backward();
  expect_near(to_vec(b.policy_chosen.grad()), e.g_pc, 1e-12, "analytic d/d policy_chosen");
  expect_near(to_vec(b.policy_rejected.grad()), e.g_pr, 1e-12, "analytic d/d policy_rejected");
  expect_near(to_vec(b.policy_chosen.grad()), finite_diff(t, o, true), 1e-7, "finite-diff d/d policy_chosen");
  expect_near(to_vec(b.policy_rejected.grad()), finite_diff(t, o, false), 1e-7, "finite-diff d/d policy_rejected");
  expect_near(to_vec(out.chosen_rewards), e.rew_c, 1e-12, "chosen_rewards");
  expect_near(to_vec(out.rejected_rewards), e.rew_r, 1e-12, "rejected_rewards");
  EXPECT_FALSE(out.chosen_rewards.requires_grad());
  EXPECT_FALSE(out.rejected_rewards.requires_grad());
}

}  // namespace

// The toy batch has logits (summed) = {2, -2, 1}; a few values written out as numbers so the scalar
// closed form above is itself checked.
TEST(DpoLoss, SigmoidToyValueByHand) {
  Toy t;
  auto out = dpo_loss(batch_of(t, true), opts("sigmoid", 0.5));
  // beta*logits = {1, -1, 0.5}: mean of log(1+e^-1), log(1+e^1), log(1+e^-0.5)
  const double want = (std::log(1 + std::exp(-1.0)) + std::log(1 + std::exp(1.0)) + std::log(1 + std::exp(-0.5))) / 3;
  EXPECT_NEAR(out.loss.item<double>(), want, 1e-12);
  EXPECT_NEAR(out.loss.item<double>(), 0.7002001197388509, 1e-12);
}

TEST(DpoLoss, IpoToyValueByHand) {
  Toy t;
  auto out = dpo_loss(batch_of(t, true), opts("ipo", 0.5));
  // Token-averaged logits: pair 0: (-10/4 + 11/4) - (-12/3 + 11/3) = 0.25 + 1/3; pair 1: (-20/5 + 19/5) -
  // (-18/8 + 19/8) = -0.2 - 0.125; pair 2: (-5/2 + 6/2) - (-6/2 + 6/2) = 0.5. Target 1/(2*0.5) = 1.
  const double l0 = 0.25 + 1.0 / 3, l1 = -0.2 - 0.125, l2 = 0.5;
  const double want = ((l0 - 1) * (l0 - 1) + (l1 - 1) * (l1 - 1) + (l2 - 1) * (l2 - 1)) / 3;
  EXPECT_NEAR(out.loss.item<double>(), want, 1e-12);
}

TEST(DpoLoss, SimpoToyValueByHand) {
  Toy t;
  auto b = batch_of(t, false);
  auto out = dpo_loss(b, opts("simpo", 2.0, 0, 0.5));
  // beta*logits = 2*(pc/lc - pr/lr) - gamma: pair 0: 2*(-2.5 + 4) - 0.5 = 2.5; pair 1: 2*(-4 + 2.25) - 0.5 = -4;
  // pair 2: 2*(-2.5 + 3) - 0.5 = 0.5.
  const double want = (std::log1p(std::exp(-2.5)) + std::log1p(std::exp(4.0)) + std::log1p(std::exp(-0.5))) / 3;
  EXPECT_NEAR(out.loss.item<double>(), want, 1e-12);
  expect_near(to_vec(out.chosen_rewards), {2 * -2.5, 2 * -4.0, 2 * -2.5}, 1e-12, "simpo chosen rewards");
}

TEST(DpoLoss, EveryLossTypeMatchesClosedFormAndGradients) {
  for (double beta : {0.1, 0.5, 2.0}) {
    check_against_closed_form(opts("sigmoid", beta));
    check_against_closed_form(opts("sigmoid", beta, 0.1));  // conservative DPO
    check_against_closed_form(opts("robust", beta, 0.2));
    check_against_closed_form(opts("sigmoid_norm", beta));
    check_against_closed_form(opts("sigmoid_norm", beta, 0.1));
    check_against_closed_form(opts("ipo", beta));
    check_against_closed_form(opts("simpo", beta, 0.0, 0.5));
    check_against_closed_form(opts("simpo", beta, 0.1, 1.0));
    check_against_closed_form(opts("sigmoid", beta, 0, 0.5, 0.3));  // with the SFT term
    check_against_closed_form(opts("ipo", beta, 0, 0.5, 1.0));
  }
  // Hinge away from its kink at beta*logits = 1 (logits = {2, -2, 1}): beta 0.1 and 0.3 are all inside the
  // margin, beta 2 puts pairs 0 and 2 past it (zero gradient there).
  for (double beta : {0.1, 0.3, 2.0}) check_against_closed_form(opts("hinge", beta));
}

TEST(DpoLoss, RobustWithoutSmoothingIsSigmoidAndSmoothingChangesIt) {
  Toy t;
  const double s = dpo_loss(batch_of(t, true), opts("sigmoid", 0.5)).loss.item<double>();
  EXPECT_NEAR(dpo_loss(batch_of(t, true), opts("robust", 0.5)).loss.item<double>(), s, 1e-12);
  EXPECT_GT(std::abs(dpo_loss(batch_of(t, true), opts("robust", 0.5, 0.2)).loss.item<double>() - s), 1e-3);
  EXPECT_GT(std::abs(dpo_loss(batch_of(t, true), opts("sigmoid", 0.5, 0.2)).loss.item<double>() - s), 1e-3);
}

TEST(DpoLoss, SigmoidGradientIsMinusBetaSigmoidOverB) {
  // The textbook form: d/d pi_c = -beta*sigmoid(-beta*logits)/B, d/d pi_r = +beta*sigmoid(-beta*logits)/B.
  Toy t;
  auto b = batch_of(t, true);
  dpo_loss(b, opts("sigmoid", 0.5)).loss.backward();
  const double logits[3] = {2, -2, 1};
  for (int i = 0; i < 3; ++i) {
    const double g = 0.5 * (1 / (1 + std::exp(0.5 * logits[i]))) / 3;
    EXPECT_NEAR(b.policy_chosen.grad()[i].item<double>(), -g, 1e-12);
    EXPECT_NEAR(b.policy_rejected.grad()[i].item<double>(), g, 1e-12);
  }
}

TEST(DpoLoss, MetricsHaveTrlNamesAndValues) {
  Toy t;
  auto out = dpo_loss(batch_of(t, true), opts("sigmoid", 0.5));
  std::set<std::string> names;
  for (const auto& [k, v] : out.metrics) names.insert(k);
  EXPECT_EQ(names, (std::set<std::string>{"rewards/chosen", "rewards/rejected", "rewards/accuracies",
                                          "rewards/margins", "logps/chosen", "logps/rejected"}));
  // rewards chosen = 0.5*{1, -1, 1}, rejected = 0.5*{-1, 1, 0}
  EXPECT_NEAR(out.metrics["rewards/chosen"], 0.5 / 3, 1e-12);
  EXPECT_NEAR(out.metrics["rewards/rejected"], -0.5 / 3 + 0.5 / 3 + 0.0, 1e-12);
  EXPECT_NEAR(out.metrics["rewards/margins"], 0.5 * (2 - 2 + 1) / 3, 1e-12);
  EXPECT_NEAR(out.metrics["rewards/accuracies"], 2.0 / 3, 1e-12);
  EXPECT_NEAR(out.metrics["logps/chosen"], (-10 - 20 - 5) / 3.0, 1e-12);
  EXPECT_NEAR(out.metrics["logps/rejected"], (-12 - 18 - 6) / 3.0, 1e-12);
  // Length-normalised losses report token-averaged log-probs.
  auto ipo = dpo_loss(batch_of(t, true), opts("ipo", 0.5));
  EXPECT_NEAR(ipo.metrics["logps/chosen"], (-10 / 4.0 - 20 / 5.0 - 5 / 2.0) / 3, 1e-12);
}

TEST(DpoLoss, TiesAreNotAccurate) {
  DpoBatchLogps b;
  // Pair 0: equal rewards (tie); pair 1: chosen ahead; pair 2: rejected ahead.
  b.policy_chosen = torch::tensor({-5.0, -4.0, -9.0}, torch::kDouble);
  b.policy_rejected = torch::tensor({-7.0, -7.0, -7.0}, torch::kDouble);
  b.ref_chosen = torch::tensor({-6.0, -6.0, -6.0}, torch::kDouble);
  b.ref_rejected = torch::tensor({-8.0, -8.0, -6.0}, torch::kDouble);
  auto out = dpo_loss(b, opts("sigmoid", 0.1));
  EXPECT_NEAR(out.metrics["rewards/accuracies"], 1.0 / 3, 1e-12);
  // All tied: accuracy 0, not 0.5.
  b.policy_chosen = b.policy_rejected = b.ref_chosen = b.ref_rejected = torch::zeros({2}, torch::kDouble);
  EXPECT_EQ(dpo_loss(b, opts("sigmoid", 0.1)).metrics["rewards/accuracies"], 0.0);
}

TEST(DpoLoss, FiniteForExtremeLogProbs) {
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16}) {
    for (const std::string type : {"sigmoid", "robust", "hinge", "ipo", "sigmoid_norm", "simpo"}) {
      for (double sign : {1.0, -1.0}) {
        SCOPED_TRACE(type + " sign " + std::to_string(sign) + " dtype " + std::string(c10::toString(dtype)));
        DpoBatchLogps b;
        auto big = torch::tensor({-1e4, -1e4}, dtype), zero = torch::tensor({0.0, -1.0}, dtype);
        b.policy_chosen = (sign > 0 ? zero : big).clone().set_requires_grad(true);
        b.policy_rejected = (sign > 0 ? big : zero).clone().set_requires_grad(true);
        if (type != "simpo") b.ref_chosen = zero.clone(), b.ref_rejected = zero.clone();
        b.chosen_tokens = torch::tensor({1.0, 3.0}, dtype);
        b.rejected_tokens = torch::tensor({2.0, 1.0}, dtype);
        auto o = opts(type, 1.0, (type == "hinge" || type == "ipo") ? 0.0 : 0.2, 0.5, 0.1);
        auto out = dpo_loss(b, o);
        EXPECT_TRUE(std::isfinite(out.loss.item<double>())) << out.loss;
        EXPECT_NE(out.loss.scalar_type(), torch::kBFloat16);  // computed in at least fp32
        out.loss.backward();
        EXPECT_TRUE(torch::isfinite(b.policy_chosen.grad()).all().item<bool>());
        EXPECT_TRUE(torch::isfinite(b.policy_rejected.grad()).all().item<bool>());
        for (const auto& [k, v] : out.metrics) EXPECT_TRUE(std::isfinite(v)) << k;
      }
    }
  }
  // Chosen far ahead: the sigmoid loss goes to 0, far behind: to beta*|logits| (= 1000 here).
  DpoBatchLogps b;
  b.policy_chosen = torch::tensor({0.0});
  b.policy_rejected = torch::tensor({-1e4});
  b.ref_chosen = b.ref_rejected = torch::tensor({0.0});
  EXPECT_NEAR(dpo_loss(b, opts("sigmoid", 0.1)).loss.item<double>(), 0.0, 1e-6);
  std::swap(b.policy_chosen, b.policy_rejected);
  EXPECT_NEAR(dpo_loss(b, opts("sigmoid", 0.1)).loss.item<double>(), 1000.0, 1e-2);
}

namespace {
void expect_option_error(const DpoLossOptions& o, const std::string& option) {
  try {
    check_dpo_options(o);
    ADD_FAILURE() << "expected an error naming " << option;
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.where(), "dpo." + option) << e.what();
    EXPECT_EQ(e.exit_code(), 2);
  }
}
}  // namespace

TEST(DpoLoss, OptionValidation) {
  for (const std::string t : {"sigmoid", "ipo", "robust", "hinge", "sigmoid_norm", "simpo"})
    EXPECT_NO_THROW(check_dpo_options(opts(t, 0.1)));
  expect_option_error(opts("sigmoid", 0.0), "beta");
  expect_option_error(opts("sigmoid", -0.1), "beta");
  expect_option_error(opts("sigmoid", NAN), "beta");
  expect_option_error(opts("sigmoid", 0.1, -0.01), "label_smoothing");
  expect_option_error(opts("robust", 0.1, 0.5), "label_smoothing");
  expect_option_error(opts("hinge", 0.1, 0.1), "label_smoothing");
  expect_option_error(opts("ipo", 0.1, 0.1), "label_smoothing");
  expect_option_error(opts("simpo", 0.1, 0, -1), "simpo_gamma");
  expect_option_error(opts("sigmoid", 0.1, 0, 0.5, -1), "sft_weight");
  EXPECT_NO_THROW(check_dpo_options(opts("robust", 0.1, 0.49)));
  // A caller-chosen prefix (the config section).
  try {
    check_dpo_options(opts("sigmoid", 0.0), "config: dpo");
    ADD_FAILURE();
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.where(), "config: dpo.beta");
  }
  // dpo_loss validates too.
  Toy t;
  EXPECT_THROW(dpo_loss(batch_of(t, true), opts("sigmoid", -1)), srl::Error);
}

TEST(DpoLoss, ReferenceTensorsMustMatchTheLossType) {
  Toy t;
  try {
    dpo_loss(batch_of(t, true), opts("simpo", 0.1));
    ADD_FAILURE() << "simpo with reference log-probs must fail";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.where(), "dpo.loss_type");
    EXPECT_EQ(e.exit_code(), 2);
  }
  for (const std::string type : {"sigmoid", "ipo", "robust", "hinge", "sigmoid_norm"})
    EXPECT_THROW(dpo_loss(batch_of(t, false), opts(type, 0.1)), srl::Error) << type;
  // Length-normalised losses need token counts, which must be positive.
  auto b = batch_of(t, true);
  b.chosen_tokens = torch::Tensor();
  EXPECT_THROW(dpo_loss(b, opts("ipo", 0.1)), srl::Error);
  EXPECT_NO_THROW(dpo_loss(b, opts("sigmoid", 0.1)));  // summed losses do not
  b = batch_of(t, true);
  b.rejected_tokens = torch::tensor({3.0, 0.0, 2.0}, torch::kDouble);
  EXPECT_THROW(dpo_loss(b, opts("sigmoid_norm", 0.1)), srl::Error);
  // Mismatched shapes.
  b = batch_of(t, true);
  b.ref_rejected = torch::zeros({2}, torch::kDouble);
  EXPECT_THROW(dpo_loss(b, opts("sigmoid", 0.1)), srl::Error);
}
