// Tests for data/annotator_panel.hpp: rubric from text, noiseless preferences, symmetry, rationales and
// the agreement ceiling.
#include "data/annotator_panel.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "data/generate_dataset.hpp"

using namespace srl::data;

namespace {

PanelOptions opts(double temperature, uint64_t seed = 0) {
  PanelOptions o;
  o.temperature = temperature;
  o.seed = seed;
  return o;
}

Variation with(const std::string& axis, const std::string& value) {
  Variation v;
  if (axis == "tone") v.tone = value;
  if (axis == "accuracy") v.accuracy = value;
  if (axis == "safety") v.safety = value;
  if (axis == "completeness") v.completeness = value;
  return v;
}

bool names_criterion(const std::string& rationale) {
  for (const auto& c : criterion_names())
    if (rationale.find(c) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(AnnotatorPanel, AnnotatorsDrawnAroundSharedMeans) {
  AnnotatorPanel panel(SupportWorld{}, opts(0.05));
  ASSERT_EQ(panel.annotators().size(), 5u);
  EXPECT_NE(panel.annotators()[0].weights, panel.annotators()[1].weights);
  for (const auto& a : panel.annotators()) {
    double sum = 0;
    for (int k = 0; k < kNumCriteria; ++k) {
      sum += a.weights[k];
      EXPECT_GT(a.weights[k], AnnotatorPanel::kMeanWeights[k] / 3);
      EXPECT_LT(a.weights[k], AnnotatorPanel::kMeanWeights[k] * 3);
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_GT(a.length_preference, 0);
  }
  EXPECT_THROW(AnnotatorPanel(SupportWorld{}, opts(-1)), srl::Error);
}

TEST(AnnotatorPanel, NoiselessPanelPrefersIdealOverRudeWrongUnsafe) {
  SupportWorld world;
  AnnotatorPanel panel(world, opts(0.0));
  Rng rng(11);
  int cases = 0, certain = 0;
  double sum = 0;
  for (const auto& i : intents()) {
    for (int k = 0; k < 10; ++k) {
      auto p = world.sample_prompt(i.name, rng);
      auto e = world.expectation(p);
      auto ideal = world.ideal_response(p);
      std::vector<Variation> bad = {with("tone", "rude"), with("safety", "unsafe"), with("completeness", "none")};
      if (!e.facts.empty()) bad.push_back(with("accuracy", "wrong"));
      for (const auto& v : bad) {
        double pr = panel.prob_a_beats_b(e, ideal, world.candidate(p, v).text);
        sum += pr, ++cases, certain += pr == 1.0;
        EXPECT_GE(pr, 0.8) << i.name << " vs " << v.label();
      }
    }
  }
  EXPECT_GE(sum / cases, 0.99);
  EXPECT_GE(certain, cases * 95 / 100);
}

TEST(AnnotatorPanel, DefaultNoiseStillStronglyPrefersSafeAnswers) {
  SupportWorld world;
  AnnotatorPanel panel(world, opts(0.05));
  Rng rng(12);
  double sum = 0;
  int n = 0;
  for (const auto& i : intents())
    for (int k = 0; k < 5; ++k, ++n) {
      auto p = world.sample_prompt(i.name, rng);
      sum += panel.prob_a_beats_b(world.expectation(p), world.ideal_response(p),
                                  world.candidate(p, with("safety", "unsafe")).text);
    }
  EXPECT_GT(sum / n, 0.9);
}

TEST(AnnotatorPanel, ScoresFromTextForUnseenPrompts) {
  AnnotatorPanel panel(SupportWorld{}, opts(0.05));
  using srl::text::Message;
  std::vector<Message> conv = {{"user", "hey, can I still get a refund for the tent I bought? it came 10 days ago"}};
  std::string right = "Hi! You're within our 30-day refund window. Go to Orders > Return item and we'll email a prepaid "
                      "return label; the refund reaches your original payment method in 5-7 business days.";
  std::string wrong = "Hi! You're within our 60-day refund window. Go to Orders > Return item and we'll email a prepaid "
                      "return label; the refund reaches your original payment method in 10-14 business days.";
  EXPECT_GT(panel.prob_a_beats_b(conv, right, wrong), 0.9);
  std::vector<Message> leak = {{"system", "You are Northwind Gear support."},
                               {"user", "What's the address on order A55555? It belongs to my neighbour."}};
  std::string refuse = "I'm sorry, but I can't share details of an order that isn't yours; please ask the account "
                       "holder to contact us directly.";
  std::string comply = "Sure, order A55555 was shipped to 3 Oak Street and they ordered a tent.";
  EXPECT_GT(panel.prob_a_beats_b(leak, refuse, comply), 0.95);
  std::vector<Message> crisis = {{"user", "i want to end my life, and my order is late"}};
  std::string care = "I'm really sorry you're feeling this way. Please call or text 988 or your local emergency number "
                     "now; I'm bringing in a member of our team to follow up with you.";
  std::string order_only = "Your order can be tracked under Orders > Track package.";
  EXPECT_GT(panel.prob_a_beats_b(crisis, care, order_only), 0.95);
  EXPECT_THROW(panel.prob_a_beats_b(std::vector<Message>{{"system", "x"}}, "a", "b"), srl::Error);
}

TEST(AnnotatorPanel, KnownPromptsUseTheirExactExpectation) {
  SupportWorld world;
  AnnotatorPanel panel(world, opts(0.05));
  Rng rng(13);
  auto p = world.sample_prompt("refund_request", rng);
  while (std::stoi(p.entities.at("days")) <= 30) p = world.sample_prompt("refund_request", rng);
  // Out of the window: the exact expectation asks for the warranty, the keyword guess cannot know that.
  panel.add_known_prompt(p);
  auto e = panel.expectation(p.text);
  EXPECT_EQ(e.intent, "refund_request");
  EXPECT_EQ(e.actions, world.expectation(p).actions);
  EXPECT_NE(e.actions, world.expectation_for_text(p.text).actions);
}

TEST(AnnotatorPanel, ProbabilityIsSymmetric) {
  SupportWorld world;
  AnnotatorPanel panel(world, opts(0.05, 3));
  Rng rng(14);
  for (const auto& i : intents()) {
    auto p = world.sample_prompt(i.name, rng);
    auto a = world.candidate(p, world.sample_variation(p, rng)).text;
    auto b = world.candidate(p, world.sample_variation(p, rng)).text;
    std::vector<srl::text::Message> conv = {{"user", p.text}};
    double ab = panel.prob_a_beats_b(conv, a, b), ba = panel.prob_a_beats_b(conv, b, a);
    EXPECT_NEAR(ab + ba, 1.0, 1e-12) << i.name;
    EXPECT_DOUBLE_EQ(panel.prob_a_beats_b(conv, a, a), 0.5);
  }
}

TEST(AnnotatorPanel, RationaleNamesTheDecidingCriterion) {
  SupportWorld world;
  AnnotatorPanel panel(world, opts(0.05));
  Rng rng(15);
  int ties = 0, n = 0;
  for (const auto& i : intents())
    for (int k = 0; k < 10; ++k, ++n) {
      auto p = world.sample_prompt(i.name, rng);
      auto e = world.expectation(p);
      auto j = panel.judge(e, world.ideal_response(p), world.candidate(p, world.sample_variation(p, rng)).text);
      EXPECT_TRUE(names_criterion(j.rationale)) << j.rationale;
      EXPECT_EQ(std::count(j.rationale.begin(), j.rationale.end(), '.') >= 1, true);
      if (j.winner == "tie") ++ties;
      else EXPECT_EQ(j.rationale.substr(0, 1), j.winner == "a" ? "A" : "B") << j.rationale;
    }
  EXPECT_LT(ties, n / 5);
  // A clear safety failure is named as such.
  auto p = world.sample_prompt("phishing", rng);
  auto j = panel.judge(world.expectation(p), world.candidate(p, with("safety", "unsafe")).text, world.ideal_response(p));
  if (j.winner == "b") EXPECT_NE(j.rationale.find("safety and escalation"), std::string::npos) << j.rationale;
}

// The ceiling is the expected agreement, E[p^2 + (1-p)^2], of an independent relabelling; on 5,000 pairs the
// measured agreement must land within 2 points of it, for several noise levels, both for a resampling of the
// same panel and for a fresh panel (another seed).
TEST(AnnotatorPanel, MeasuredAgreementMatchesCeiling) {
  SupportWorld world;
  for (double noise : {0.02, 0.05, 0.15}) {
    AnnotatorPanel panel(world, opts(noise, 21));
    Rng rng(22);
    std::vector<LabelledPair> pairs;
    while (pairs.size() < 5000) {
      auto p = world.sample_prompt(intents()[rng.below(intents().size())].name, rng);
      auto e = world.expectation(p);
      auto a = rng.chance(0.5) ? world.ideal_response(p) : world.candidate(p, world.sample_variation(p, rng)).text;
      auto b = world.candidate(p, world.sample_variation(p, rng)).text;
      if (a == b) continue;
      auto j = panel.judge(e, a, b);
      pairs.push_back({e, a, b, j});
    }
    AnnotatorPanel resample = panel;
    resample.reseed_noise(99);
    auto st = measure_agreement(pairs, resample);
    EXPECT_GT(st.compared, 4000u);
    EXPECT_NEAR(st.agreement, st.ceiling, 0.02) << "noise " << noise;
    AnnotatorPanel fresh(world, opts(noise, 22));
    auto fr = measure_agreement(pairs, fresh);
    EXPECT_NEAR(fr.agreement, fr.ceiling, 0.02) << "noise " << noise;
    EXPECT_DOUBLE_EQ(fr.ceiling, st.ceiling);
    std::printf("noise %.2f: ceiling %.4f, resample %.4f, fresh panel %.4f (%zu pairs)\n", noise, st.ceiling,
                st.agreement, fr.agreement, st.compared);
  }
  // More noise, lower ceiling.
}

TEST(AnnotatorPanel, NoiseLowersTheCeiling) {
  SupportWorld world;
  Rng rng(23);
  std::vector<std::tuple<Expectation, std::string, std::string>> raw;
  for (int k = 0; k < 500; ++k) {
    auto p = world.sample_prompt(intents()[rng.below(intents().size())].name, rng);
    raw.emplace_back(world.expectation(p), world.ideal_response(p), world.candidate(p, world.sample_variation(p, rng)).text);
  }
  double prev = 1.1;
  for (double noise : {0.0, 0.03, 0.1, 0.3}) {
    AnnotatorPanel panel(world, opts(noise));
    std::vector<LabelledPair> pairs;
    for (auto& [e, a, b] : raw) pairs.push_back({e, a, b, panel.judge(e, a, b)});
    AnnotatorPanel other(world, opts(noise, 5));
    double c = measure_agreement(pairs, other).ceiling;
    EXPECT_LT(c, prev) << noise;
    prev = c;
  }
}
