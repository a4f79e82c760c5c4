// Tests for eval/helpfulness.hpp on hand-written replies (values worked out from the rules in
// docs/evaluators.md) and on the synthetic world's answers.
#include "eval/helpfulness.hpp"

#include <gtest/gtest.h>

#include "data/support_world.hpp"

using namespace srl::eval;

namespace {

const std::string kRefundPrompt =
    "I want a refund for the rain jacket from order A12345. I paid $89.00 and it was delivered 5 days ago.";

const std::string kFullRefundReply =
    "I'm sorry the rain jacket didn't work out for you. Order A12345 is within our 30-day refund window, so you "
    "can return it:\n"
    "1. Go to Orders > A12345 > Return item.\n"
    "2. Print the prepaid return label we email you and drop the parcel at any carrier point.\n"
    "Once the return arrives, the refund reaches your original payment method within 5-7 business days. Let me "
    "know if there's anything else I can help with.";

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += i ? " word" : "word";
  return s;
}

}  // namespace

TEST(Helpfulness, CurtOneLinerScoresBelowFullEmpatheticActionableReply) {
  auto curt = score_helpfulness(kRefundPrompt, "Just return it.");
  EXPECT_EQ(curt.intent, "refund_request");
  EXPECT_FALSE(curt.upset);
  EXPECT_EQ(curt.words, 3);
  EXPECT_DOUBLE_EQ(curt.length, 3.0 / 25);
  EXPECT_DOUBLE_EQ(curt.empathy, 0.5);           // calm customer, no acknowledgement
  EXPECT_DOUBLE_EQ(curt.actionability, 0.6 * 0.5);  // one step ("return"), nothing about what happens next
  EXPECT_DOUBLE_EQ(curt.addresses_intent, 0.5);  // one refund word ("return")
  EXPECT_DOUBLE_EQ(curt.no_placeholders, 1);
  // (0.15 * 0.12 + 0.10 * 0.5 + 0.30 * 0.3 + 0.30 * 0.5 + 0.15 * 1) / 1.0
  EXPECT_NEAR(curt.helpfulness, 0.458, 1e-12);
  EXPECT_NE(curt.explanation.find("short (3 words)"), std::string::npos) << curt.explanation;

  auto full = score_helpfulness(kRefundPrompt, kFullRefundReply);
  EXPECT_GE(full.words, 25);
  EXPECT_LE(full.words, 120);
  EXPECT_DOUBLE_EQ(full.length, 1);
  EXPECT_DOUBLE_EQ(full.empathy, 1);
  EXPECT_DOUBLE_EQ(full.actionability, 1);  // "you can return", two list items; within / business days / once
  EXPECT_DOUBLE_EQ(full.addresses_intent, 1);
  EXPECT_DOUBLE_EQ(full.helpfulness, 1);
  EXPECT_EQ(full.explanation.rfind("Earns points for", 0), 0u) << full.explanation;
  auto m = full.as_map();
  EXPECT_EQ(m.size(), 6u);
  EXPECT_DOUBLE_EQ(m.at("helpfulness"), full.helpfulness);
}

TEST(Helpfulness, PlaceholdersDetected) {
  const std::string reply =
      "Hi {customer_name}, your refund for order [ORDER_ID] is on its way. Contact <agent_name> or call "
      "XXXX-XXXX. {{signature}} [insert tracking link here]";
  auto found = find_placeholders(reply);
  EXPECT_EQ(found, (std::vector<std::string>{"{customer_name}", "[ORDER_ID]", "<agent_name>", "XXXX", "XXXX",
                                             "{{signature}}", "[insert tracking link here]"}));
  auto h = score_helpfulness(kRefundPrompt, reply);
  EXPECT_DOUBLE_EQ(h.no_placeholders, 0);
  EXPECT_NE(h.explanation.find("placeholder {customer_name}"), std::string::npos) << h.explanation;
  // Same text with the slots filled: nothing found.
  EXPECT_TRUE(find_placeholders("Hi Maria, your refund for order A12345 is on its way. See [the guide](https://x.example) "
                                "or step [2] below; boxes ship in 1-2 days.")
                  .empty());
  EXPECT_EQ(find_placeholders("Dear [Customer Name], thanks"), (std::vector<std::string>{"[Customer Name]"}));
  EXPECT_DOUBLE_EQ(score_helpfulness(kRefundPrompt, kFullRefundReply).no_placeholders, 1);
}

TEST(Helpfulness, IntentMismatchScoresLowerOnAddressesIntent) {
  const std::string on_topic =
      "I'm sorry for the trouble. To return the jacket, go to Orders > A12345 > Return item. We'll email you a "
      "prepaid label and refund you within 5-7 business days.";
  const std::string off_topic =
      "I'm sorry for the trouble. To reset your password, go to the sign-in page and choose Forgot password. "
      "We'll email you a link that is valid for 30 minutes.";
  auto a = score_helpfulness(kRefundPrompt, on_topic), b = score_helpfulness(kRefundPrompt, off_topic);
  EXPECT_DOUBLE_EQ(a.addresses_intent, 1);
  EXPECT_DOUBLE_EQ(b.addresses_intent, 0);
  EXPECT_GT(a.helpfulness, b.helpfulness);
  EXPECT_NE(b.explanation.find("not addressing the refund_request request"), std::string::npos) << b.explanation;
  // The same password reply is on topic for a password question.
  EXPECT_DOUBLE_EQ(score_helpfulness("How do I reset my password?", off_topic).addresses_intent, 1);
  // No intent recognised: neutral 0.5 whatever the reply says.
  auto u = score_helpfulness("Hello there", on_topic);
  EXPECT_EQ(u.intent, "unknown");
  EXPECT_DOUBLE_EQ(u.addresses_intent, 0.5);
}

TEST(Helpfulness, LengthBoundsAndRambling) {
  EXPECT_DOUBLE_EQ(score_helpfulness("", "").length, 0);
  EXPECT_DOUBLE_EQ(score_helpfulness("", words(10)).length, 0.4);
  EXPECT_DOUBLE_EQ(score_helpfulness("", words(25)).length, 1);
  EXPECT_DOUBLE_EQ(score_helpfulness("", words(120)).length, 1);
  EXPECT_DOUBLE_EQ(score_helpfulness("", words(180)).length, 0.5);  // 1 - 60 / 120
  EXPECT_DOUBLE_EQ(score_helpfulness("", words(240)).length, 0);
  EXPECT_DOUBLE_EQ(score_helpfulness("", words(400)).length, 0);
  // Bullets and punctuation are not words.
  EXPECT_EQ(score_helpfulness("", "- one\n- two , three").words, 3);

  std::string rambling = kFullRefundReply;
  for (int i = 0; i < 12; ++i)
    rambling += " We truly value every customer and always strive to provide the very best experience possible.";
  auto r = score_helpfulness(kRefundPrompt, rambling), f = score_helpfulness(kRefundPrompt, kFullRefundReply);
  EXPECT_GT(r.words, 180);
  EXPECT_LT(r.length, 0.5);
  EXPECT_LT(r.helpfulness, f.helpfulness);
  EXPECT_NE(r.explanation.find("rambling"), std::string::npos) << r.explanation;
}

TEST(Helpfulness, EmpathyWeighsMoreForUpsetCustomers) {
  const std::string upset = "This is ridiculous!! I've asked three times and my order still hasn't arrived.";
  EXPECT_TRUE(is_upset(upset));
  EXPECT_TRUE(is_upset("WHERE IS MY ORDER"));
  EXPECT_TRUE(is_upset("I'm a bit worried, the charge appeared twice."));
  EXPECT_FALSE(is_upset("Can I get an invoice with our VAT number for order A12345?"));
  EXPECT_FALSE(is_upset("How do I track my order?"));

  const std::string bare = "Track it under Orders > Track package.";
  EXPECT_DOUBLE_EQ(score_helpfulness(upset, bare).empathy, 0);
  EXPECT_DOUBLE_EQ(score_helpfulness("How do I track my order?", bare).empathy, 0.5);
  EXPECT_DOUBLE_EQ(score_helpfulness(upset, "Sorry about that. " + bare).empathy, 0.6);
  EXPECT_DOUBLE_EQ(score_helpfulness(upset, "I'm sorry, I know how frustrating this is. " + bare).empathy, 1);
  EXPECT_DOUBLE_EQ(score_helpfulness(upset, "Calm down, sorry. " + bare).empathy, 0);  // dismissive

  // Upset: empathy weight 0.20 instead of 0.10, so the weights sum to 1.1.
  auto h = score_helpfulness(upset, bare);
  double expect = (0.15 * h.length + 0.20 * h.empathy + 0.30 * h.actionability + 0.30 * h.addresses_intent +
                   0.15 * h.no_placeholders) / 1.1;
  EXPECT_DOUBLE_EQ(h.helpfulness, expect);
  EXPECT_NE(h.explanation.find("no empathy for an upset customer"), std::string::npos) << h.explanation;
}

TEST(Helpfulness, ActionabilityCountsStepsAndNextSteps) {
  // Imperatives after softeners, "you can <verb>", menu paths, list items.
  EXPECT_DOUBLE_EQ(score_helpfulness("", "Then, please open the app. You can also tap Help.").actionability, 0.6);
  EXPECT_DOUBLE_EQ(score_helpfulness("", "1) the app\n2) the settings").actionability, 0.6);
  EXPECT_DOUBLE_EQ(score_helpfulness("", "We have many products.").actionability, 0);
  // What happens next only: 0.4 x min(1, hits / 2).
  EXPECT_DOUBLE_EQ(score_helpfulness("", "You'll receive a label within two days.").actionability, 0.4);
  EXPECT_DOUBLE_EQ(score_helpfulness("", "Expect news.").actionability, 0.2);
  // A recap repeating a step does not count it twice.
  EXPECT_DOUBLE_EQ(score_helpfulness("", "Open the app. To summarize: open the app.").actionability, 0.3);
}

TEST(Helpfulness, EveryWorldIntentHasVocabularyAndIdealAnswersUseIt) {
  srl::data::SupportWorld world;
  srl::data::Rng rng(7);
  for (const auto& info : srl::data::intents()) {
    EXPECT_FALSE(intent_vocabulary(info.name).empty()) << info.name;
    double ideal_sum = 0, poor_sum = 0;
    for (int k = 0; k < 6; ++k) {
      auto p = world.sample_prompt(info.name, rng);
      auto ideal = score_helpfulness(p.text, world.ideal_response(p));
      if (ideal.intent == info.name) EXPECT_DOUBLE_EQ(ideal.addresses_intent, 1) << p.text;
      EXPECT_DOUBLE_EQ(ideal.no_placeholders, 1);
      ideal_sum += ideal.helpfulness;
      srl::data::Variation poor;
      poor.tone = "curt";
      poor.completeness = "none";
      poor_sum += score_helpfulness(p.text, world.candidate(p, poor).text).helpfulness;
    }
    EXPECT_GT(ideal_sum, poor_sum) << info.name;
  }
  EXPECT_TRUE(intent_vocabulary("unknown").empty());
}

TEST(Helpfulness, EvaluatorScoresLastUserMessage) {
  auto ev = make_helpfulness_evaluator();
  EXPECT_EQ(ev->name(), "support_helpfulness");
  EvalInput in{{{"user", "How do I reset my password?"}, {"assistant", "Which account?"}, {"user", kRefundPrompt}},
               kFullRefundReply};
  auto r = ev->evaluate({in, in});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].ok);
  EXPECT_EQ(r[0].scores, score_helpfulness(kRefundPrompt, kFullRefundReply).as_map());
  EXPECT_FALSE(r[0].explanation.empty());
}
