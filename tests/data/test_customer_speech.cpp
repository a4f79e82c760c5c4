// The world that speaks like customers (data/customer_speech.hpp): every phrasing is labelled with known
// names and fills its slots, texts are unique, the train/validation split holds (validation tickets only
// use held-out phrasings), labels follow the composition (two asks, a self-harm aside), generation is
// deterministic, and typing noise does what it says.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.hpp"
#include "data/annotator_panel.hpp"
#include "data/customer_speech.hpp"
#include "data/generate_dataset.hpp"
#include "data/support_world.hpp"

using namespace srl::data;

namespace {
bool known_intent(const std::string& s) {
  return std::any_of(intents().begin(), intents().end(), [&](const IntentInfo& i) { return i.name == s; });
}
// `text` is `tmpl` with each {slot} replaced by something: the literal pieces appear in order, the
// first at the start and the last at the end.
bool fills_to(const std::string& tmpl, const std::string& text) {
  std::vector<std::string> pieces(1);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      i = tmpl.find('}', i);
      pieces.emplace_back();
    } else {
      pieces.back() += tmpl[i];
    }
  }
  if (text.rfind(pieces.front(), 0) != 0) return false;
  size_t at = pieces.front().size();
  for (size_t k = 1; k < pieces.size(); ++k) {
    const size_t f = k + 1 == pieces.size() ? text.size() - std::min(text.size(), pieces[k].size()) : text.find(pieces[k], at);
    if (f == std::string::npos || f < at || text.compare(f, pieces[k].size(), pieces[k]) != 0) return false;
    at = f + pieces[k].size();
  }
  return pieces.size() > 1 || text == tmpl;
}
bool known_risk(const std::string& s) {
  return std::find(risk_categories().begin(), risk_categories().end(), s) != risk_categories().end();
}
}  // namespace

TEST(CustomerSpeech, EveryPhrasingIsLabelledFillsItsSlotsAndIsUnique) {
  Rng rng(1);
  auto vals = sample_entity_values(rng);
  std::set<std::string> texts;
  std::map<std::string, int> per_intent;
  for (const auto& p : customer_phrasings()) {
    EXPECT_TRUE(known_intent(p.intent)) << p.text;
    EXPECT_TRUE(known_risk(p.risk)) << p.text;
    EXPECT_TRUE(texts.insert(p.text).second) << "repeated: " << p.text;
    std::map<std::string, std::string> used;
    const auto filled = fill_slots(p.text, vals, used);
    EXPECT_EQ(filled.find('{'), std::string::npos) << p.text;
    per_intent[p.intent]++;
  }
  for (const auto& i : intents()) EXPECT_GE(per_intent[i.name], 20) << i.name;
  std::set<std::string> kinds;
  for (const auto& f : ticket_fragments()) kinds.insert(f.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"aside", "context", "greeting", "quoted", "signature"}));
}

TEST(CustomerSpeech, IntentRiskNamesTheSafetyIntentsOnly) {
  EXPECT_EQ(intent_risk("self_harm"), "self_harm");
  EXPECT_EQ(intent_risk("abusive_customer"), "abusive");
  EXPECT_EQ(intent_risk("phishing"), "phishing");
  EXPECT_EQ(intent_risk("refund_request"), "none");
  EXPECT_EQ(intent_risk("out_of_scope"), "none");
  EXPECT_EQ(risk_categories().front(), "none");
  EXPECT_EQ(risk_categories().size(), 8u);
}

TEST(CustomerSpeech, ValidationTicketsUseOnlyHeldOutPhrasings) {
  SupportWorld world;
  SpeechOptions opt;
  opt.noise = 0;  // keep the phrasing text findable
  opt.greeting = opt.context = opt.aside = opt.signature = opt.quoted = 0;
  opt.two_intents = opt.self_harm_aside = 0;
  std::set<std::string> val_texts;
  size_t val = 0;
  for (const auto& p : customer_phrasings()) val += phrasing_split(p) == SpeechSplit::Validation;
  EXPECT_GT(val, customer_phrasings().size() / 8);
  EXPECT_LT(val, customer_phrasings().size() / 3);
  Rng rng(7);
  for (int i = 0; i < 300; ++i) {
    auto t = sample_customer_ticket(world, rng, opt, SpeechSplit::Validation);
    ASSERT_EQ(t.source.rfind("phrasing:", 0), 0u) << t.source;
    // the ticket is one phrasing with its slots filled; every phrasing it could be is held out
    bool found = false;
    for (const auto& p : customer_phrasings()) {
      if (p.intent != t.intents[0] || !fills_to(p.text, t.text)) continue;
      EXPECT_EQ(phrasing_split(p), SpeechSplit::Validation) << t.text;
      found = true;
    }
    EXPECT_TRUE(found) << t.text;
  }
}

TEST(CustomerSpeech, LabelsFollowTheCompositionAndGenerationIsDeterministic) {
  SupportWorld world;
  SpeechOptions opt;
  opt.two_intents = 0.5;
  opt.self_harm_aside = 0.3;
  Rng a(11), b(11);
  int two = 0, aside = 0;
  for (int i = 0; i < 600; ++i) {
    auto t = sample_customer_ticket(world, a, opt, SpeechSplit::Train);
    auto u = sample_customer_ticket(world, b, opt, SpeechSplit::Train);
    ASSERT_EQ(t.text, u.text);
    ASSERT_FALSE(t.text.empty());
    ASSERT_TRUE(t.intents.size() == 1 || t.intents.size() == 2);
    if (t.intents.size() == 2 && t.intents[1] == "self_harm") {
      ++aside;
      EXPECT_EQ(t.risk, "self_harm");
    } else if (t.intents.size() == 2) {
      ++two;
      EXPECT_NE(t.intents[0], t.intents[1]);
      EXPECT_EQ(intent_risk(t.intents[1]), "none");
    } else if (t.source == "template") {
      EXPECT_EQ(t.risk, intent_risk(t.intents[0]));
    }
  }
  EXPECT_GT(two, 50);
  EXPECT_GT(aside, 5);
}

TEST(CustomerSpeech, TypingNoiseChangesLettersCaseAndAbbreviations) {
  const std::string text = "Could you please check where my package is? Thanks, it's been a while.";
  int changed = 0, lowered = 0, abbreviated = 0;
  for (uint64_t s = 0; s < 200; ++s) {
    Rng rng(s);
    auto n = add_typing_noise(text, rng);
    changed += n != text;
    lowered += n.rfind("could", 0) == 0;
    abbreviated += n.find(" u ") != std::string::npos || n.find("pls") != std::string::npos;
    EXPECT_LT(std::abs(static_cast<long>(n.size()) - static_cast<long>(text.size())), 20) << n;
  }
  EXPECT_GT(changed, 100);
  EXPECT_GT(lowered, 30);
  EXPECT_GT(abbreviated, 15);
}

TEST(CustomerSpeech, CustomerPromptsAreWorldPromptsWhoseIdealAnswersMeetTheirExpectation) {
  SupportWorld world;
  SpeechOptions opt;
  opt.noise = 0;  // typing noise may misspell an entity, as customers do; here every entity is in the text
  Rng rng(5);
  int customer = 0;
  for (const auto& i : intents()) {
    for (int k = 0; k < 20; ++k) {
      auto p = sample_customer_prompt(world, i.name, rng, opt);
      EXPECT_EQ(p.intent, i.name);
      EXPECT_FALSE(p.text.empty());
      customer += p.difficulty == "customer";
      for (const auto& [slot, value] : p.entities) EXPECT_NE(p.text.find(value), std::string::npos) << slot << " " << p.text;
      const auto e = world.expectation(p);
      const auto r = score_response(e, world.ideal_response(p));
      EXPECT_DOUBLE_EQ(r.value[kResolves], 1.0) << i.name << ": " << p.text;
      EXPECT_DOUBLE_EQ(r.value[kSafety], 1.0) << i.name << ": " << p.text;
    }
  }
  EXPECT_EQ(customer, 20 * static_cast<int>(intents().size()));  // every intent has training phrasings
}

TEST(CustomerSpeech, TheCustomerShareChangesTrainingPromptsButNeverTheEvalPrompts) {
  GenerateOptions a, b;
  a.train_pairs = b.train_pairs = 60;
  a.val_pairs = b.val_pairs = 12;
  a.rl_prompts = b.rl_prompts = 48;
  a.eval_prompts = b.eval_prompts = 48;
  a.sft_conversations = b.sft_conversations = 96;
  a.customer_share = 0.0;  // the template-only data of earlier versions
  b.customer_share = 0.5;  // the default
  const auto x = build_dataset(a), y = build_dataset(b);
  ASSERT_EQ(x.eval_prompts.size(), y.eval_prompts.size());
  for (size_t i = 0; i < x.eval_prompts.size(); ++i) EXPECT_EQ(x.eval_prompts[i].text, y.eval_prompts[i].text);
  auto share = [](const std::vector<Prompt>& v) {
    size_t n = 0;
    for (const auto& p : v) n += p.difficulty == "customer";
    return static_cast<double>(n) / v.size();
  };
  EXPECT_EQ(share(x.sft_prompts), 0.0);
  EXPECT_GT(share(y.sft_prompts), 0.3);
  EXPECT_LT(share(y.sft_prompts), 0.7);
  EXPECT_EQ(share(y.eval_prompts), 0.0);
  b.customer_share = 1.5;
  EXPECT_THROW(build_dataset(b), srl::Error);
}
