// Tests for data/support_world.hpp (intents, prompts, candidates) and data/generate_dataset.hpp.
#include "data/support_world.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "data/annotator_panel.hpp"
#include "data/generate_dataset.hpp"

using namespace srl::data;

namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return lower(hay).find(lower(needle)) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

const GeneratedDataset& default_dataset() {
  static const GeneratedDataset ds = build_dataset(GenerateOptions{});
  return ds;
}

}  // namespace

TEST(SupportWorld, IntentsCoverCategoriesAndSafety) {
  const auto& all = intents();
  EXPECT_GE(all.size(), 20u);
  std::map<std::string, int> per_cat;
  std::set<std::string> names;
  for (const auto& i : all) per_cat[i.category]++, names.insert(i.name);
  EXPECT_EQ(names.size(), all.size());
  for (const char* c : {"billing", "orders", "account", "technical"}) EXPECT_GE(per_cat[c], 3) << c;
  for (const char* n : {"other_customer_data", "phishing", "abusive_customer", "legal_threat", "self_harm", "out_of_scope"}) {
    ASSERT_TRUE(names.count(n)) << n;
    EXPECT_TRUE(intent_info(n).adversarial) << n;
  }
  EXPECT_THROW(intent_info("no_such_intent"), srl::Error);
}

TEST(SupportWorld, PromptsVaryInWordingEntitiesDifficultySegmentMood) {
  SupportWorld world;
  Rng rng(1);
  std::set<std::string> difficulty, segment, mood;
  for (const auto& i : intents()) {
    std::set<std::string> texts;
    for (int k = 0; k < 40; ++k) {
      auto p = world.sample_prompt(i.name, rng);
      EXPECT_EQ(p.intent, i.name);
      EXPECT_EQ(p.category, i.category);
      EXPECT_FALSE(p.text.empty());
      texts.insert(prompt_lookup_key(p.text));
      difficulty.insert(p.difficulty), segment.insert(p.segment), mood.insert(p.mood);
    }
    EXPECT_GE(texts.size(), 30u) << i.name;
  }
  EXPECT_EQ(difficulty, (std::set<std::string>{"easy", "medium", "hard"}));
  EXPECT_EQ(segment, (std::set<std::string>{"smb", "enterprise"}));
  EXPECT_GE(mood.size(), 5u);
  // Same seed, same prompts.
  Rng r1(42), r2(42);
  EXPECT_EQ(world.sample_prompt("refund_request", r1).text, world.sample_prompt("refund_request", r2).text);
}

TEST(SupportWorld, IdealAnswersMeetTheirExpectation) {
  SupportWorld world;
  Rng rng(2);
  for (const auto& i : intents()) {
    for (int k = 0; k < 25; ++k) {
      auto p = world.sample_prompt(i.name, rng);
      auto e = world.expectation(p);
      auto ideal = world.ideal_response(p);
      EXPECT_EQ(ideal, world.candidate(p, Variation{}).text);  // deterministic
      auto r = score_response(e, ideal);
      EXPECT_DOUBLE_EQ(r.value[kResolves], 1.0) << i.name << ": " << ideal;
      EXPECT_DOUBLE_EQ(r.value[kCorrect], 1.0) << i.name << ": " << ideal;
      EXPECT_DOUBLE_EQ(r.value[kSafety], 1.0) << i.name << ": " << ideal;
      EXPECT_GE(r.value[kToneVoice], 0.8) << i.name << ": " << ideal;
      for (const auto& w : e.wrong_facts) EXPECT_FALSE(contains(ideal, w)) << i.name << ": " << w;
    }
  }
}

TEST(SupportWorld, VariationsChangeTheTextAlongTheirAxis) {
  SupportWorld world;
  Rng rng(3);
  Variation rude;
  rude.tone = "rude";
  Variation wrong;
  wrong.accuracy = "wrong";
  Variation unsafe;
  unsafe.safety = "unsafe";
  Variation none;
  none.completeness = "none";
  EXPECT_EQ(Variation{}.label(), "ideal");
  Variation two = rude;
  two.accuracy = "wrong";
  EXPECT_EQ(two.label(), "tone=rude,accuracy=wrong");
  int with_facts = 0;
  for (const auto& i : intents()) {
    auto p = world.sample_prompt(i.name, rng);
    auto e = world.expectation(p);
    auto ideal = world.ideal_response(p);
    auto c = world.candidate(p, rude);
    EXPECT_EQ(c.variation, rude);
    EXPECT_LT(score_response(e, c.text).value[kToneVoice], 0.35) << c.text;
    if (!e.facts.empty()) {
      ++with_facts;
      auto w = world.candidate(p, wrong).text;
      bool has_wrong = false;
      for (const auto& f : e.wrong_facts) has_wrong = has_wrong || contains(w, f);
      EXPECT_TRUE(has_wrong) << i.name << ": " << w;
      EXPECT_LT(score_response(e, w).value[kCorrect], 0.5) << w;
    }
    EXPECT_LT(score_response(e, world.candidate(p, unsafe).text).value[kSafety], 0.5) << i.name;
    EXPECT_LT(score_response(e, world.candidate(p, none).text).value[kResolves], 0.5) << i.name;
    for (int k = 0; k < 20; ++k) {
      auto v = world.sample_variation(p, rng);
      EXPECT_FALSE(v.is_ideal());
      if (e.facts.empty()) EXPECT_EQ(v.accuracy, "correct");
      if (i.adversarial) EXPECT_NE(v.safety, "over_refusal");
    }
  }
  EXPECT_GE(with_facts, 18);
}

TEST(SupportWorld, SelfHarmIdealEscalatesWithCrisisResources) {
  SupportWorld world;
  Rng rng(4);
  for (int k = 0; k < 30; ++k) {
    auto p = world.sample_prompt("self_harm", rng);
    auto e = world.expectation(p);
    EXPECT_TRUE(e.must_escalate && e.must_give_crisis);
    auto ideal = world.ideal_response(p);
    EXPECT_TRUE(contains(ideal, "988")) << ideal;
    EXPECT_TRUE(contains(ideal, "member of our team")) << ideal;
    EXPECT_TRUE(contains(ideal, "emergency")) << ideal;
    EXPECT_EQ(infer_intent(p.text), "self_harm") << p.text;
  }
}

TEST(SupportWorld, InferIntentFromText) {
  SupportWorld world;
  Rng rng(5);
  int right = 0, total = 0;
  for (const auto& i : intents())
    for (int k = 0; k < 20; ++k, ++total) right += infer_intent(world.sample_prompt(i.name, rng).text) == i.name;
  EXPECT_GE(right, total * 85 / 100) << right << "/" << total;
  EXPECT_EQ(infer_intent("My lawyer will sue you over this"), "legal_threat");
  EXPECT_EQ(infer_intent("I want a refund for my tent"), "refund_request");
  EXPECT_EQ(infer_intent("zzz"), "unknown");
  EXPECT_EQ(prompt_lookup_key("  Where IS my order, A12345?? "), "where is my order a12345");
}

// Historical agent replies: each axis near its documented share, nothing the prompt rules out, and the
// SFT replies are the rendered candidates of exactly those variations.
TEST(SupportWorld, AgentVariationShares) {
  SupportWorld world;
  Rng rng(11);
  std::map<std::string, int> tone, completeness;
  int n = 0, off_brand = 0, unsafe_safe_prompt = 0, over_refusal_refuse_prompt = 0;
  for (const auto& info : intents()) {
    for (int k = 0; k < 120; ++k, ++n) {
      Prompt p = world.sample_prompt(info.name, rng);
      Variation v = world.agent_variation(p, rng);
      tone[v.tone]++;
      completeness[v.completeness]++;
      off_brand += v.voice == "off_brand";
      const bool refuse = world.expectation(p).must_refuse || info.adversarial;
      unsafe_safe_prompt += !refuse && v.safety == "unsafe";
      over_refusal_refuse_prompt += refuse && v.safety == "over_refusal";
    }
  }
  // 2880 draws: a share's standard error is below 0.01, so 0.03 is > 3 sigma.
  EXPECT_NEAR(tone["neutral"] / double(n), 0.45, 0.03);
  EXPECT_NEAR(tone["empathetic"] / double(n), 0.30, 0.03);
  EXPECT_NEAR(completeness["partial"] / double(n), 0.50, 0.03);
  EXPECT_NEAR(off_brand / double(n), 0.30, 0.03);
  EXPECT_EQ(unsafe_safe_prompt, 0);
  EXPECT_EQ(over_refusal_refuse_prompt, 0);

  GenerateOptions ideal;
  ideal.train_pairs = 0, ideal.val_pairs = 0, ideal.rl_prompts = 0, ideal.eval_prompts = 0, ideal.sft_conversations = 30;
  ideal.sft_answers = "ideal";
  auto ds = build_dataset(ideal);
  ASSERT_EQ(ds.sft.size(), 30u);
  for (size_t i = 0; i < ds.sft.size(); ++i) {
    EXPECT_EQ(ds.sft[i][1].content, world.ideal_response(ds.sft_prompts[i]));
    EXPECT_EQ(ds.sft_variations[i], "ideal");
  }
  const auto& agents = default_dataset();
  int ideal_count = 0;
  for (const auto& label : agents.sft_variations) ideal_count += label == "ideal";
  EXPECT_LT(ideal_count, 100);  // mostly imperfect transcripts: the headroom preference learning needs
  ideal.sft_answers = "best";
  EXPECT_THROW(build_dataset(ideal), srl::Error);
}

TEST(GenerateDataset, SizesSchemaAndCoverage) {
  const auto& ds = default_dataset();
  GenerateOptions opt;
  EXPECT_EQ(ds.train.size(), 3000u);
  EXPECT_EQ(ds.val.size(), 300u);
  EXPECT_EQ(ds.rl_prompts.size(), 400u);
  EXPECT_EQ(ds.eval_prompts.size(), 200u);
  EXPECT_EQ(ds.sft.size(), 1000u);
  auto files = render_dataset_files(ds, opt);
  auto train = lines_of(files.at("support_preference_train.jsonl"));
  ASSERT_EQ(train.size(), 3000u);
  std::set<std::string> ids;
  for (const auto& l : train) {
    auto j = nlohmann::json::parse(l);
    for (const char* k : {"id", "prompt", "response_a", "response_b", "winner", "tags", "rationale", "source", "annotator"})
      ASSERT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(ids.insert(j["id"].get<std::string>()).second);
    auto w = j["winner"].get<std::string>();
    EXPECT_TRUE(w == "a" || w == "b" || w == "tie");
    EXPECT_EQ(j["source"], "synthetic");
    EXPECT_EQ(j["annotator"], "panel-0");
    EXPECT_NE(j["response_a"], j["response_b"]);
    for (const char* k : {"intent", "difficulty", "segment", "category", "mood", "variation_a", "variation_b"})
      EXPECT_TRUE(j["tags"].contains(k)) << k;
  }
  for (const auto& l : lines_of(files.at("support_prompts.jsonl"))) {
    auto j = nlohmann::json::parse(l);
    EXPECT_TRUE(j.contains("prompt") && j["tags"].contains("intent"));
  }
  for (const auto& l : lines_of(files.at("support_sft.jsonl"))) {
    auto j = nlohmann::json::parse(l);
    ASSERT_EQ(j["messages"].size(), 2u);
    EXPECT_EQ(j["messages"][1]["role"], "assistant");
    EXPECT_TRUE(j["tags"].contains("variation") && j["tags"].contains("intent"));
  }
  // Every intent in every split; the eval split has every adversarial intent.
  for (const auto& i : intents()) {
    auto has = [&](auto const& v, auto get) {
      for (const auto& x : v)
        if (get(x) == i.name) return true;
      return false;
    };
    auto pi = [](const Prompt& p) { return p.intent; };
    auto ri = [](const PreferenceRecord& r) { return r.tags[0].second; };
    EXPECT_TRUE(has(ds.train, ri)) << i.name;
    EXPECT_TRUE(has(ds.val, ri)) << i.name;
    EXPECT_TRUE(has(ds.rl_prompts, pi)) << i.name;
    EXPECT_TRUE(has(ds.eval_prompts, pi)) << i.name;
    EXPECT_TRUE(has(ds.sft_prompts, pi)) << i.name;
  }
  // Labels are balanced between a and b (order is randomised).
  size_t a = 0, b = 0;
  for (const auto& r : ds.train) a += r.winner == "a", b += r.winner == "b";
  EXPECT_NEAR(double(a) / (a + b), 0.5, 0.05);
}

TEST(GenerateDataset, EvalPromptsDisjointFromTrainingPrompts) {
  const auto& ds = default_dataset();
  std::set<std::string> training;
  for (const auto* v : {&ds.train_prompts, &ds.val_prompts, &ds.rl_prompts, &ds.sft_prompts})
    for (const auto& p : *v) training.insert(prompt_lookup_key(p.text));
  for (const auto& r : ds.train) training.insert(prompt_lookup_key(r.prompt));
  for (const auto& c : ds.sft) training.insert(prompt_lookup_key(c[0].content));
  std::set<std::string> eval;
  for (const auto& p : ds.eval_prompts) {
    EXPECT_FALSE(training.count(prompt_lookup_key(p.text))) << p.text;
    eval.insert(prompt_lookup_key(p.text));
  }
  EXPECT_EQ(eval.size(), ds.eval_prompts.size());
  // Also the RL prompts file against the train file, as written.
  std::set<std::string> rl;
  for (const auto& p : ds.rl_prompts) rl.insert(prompt_lookup_key(p.text));
  for (const auto& p : ds.train_prompts) EXPECT_FALSE(rl.count(prompt_lookup_key(p.text)));
}

TEST(GenerateDataset, DeterministicForASeed) {
  GenerateOptions small;
  small.train_pairs = 300, small.val_pairs = 30, small.rl_prompts = 40, small.eval_prompts = 30, small.sft_conversations = 50;
  auto f1 = render_dataset_files(build_dataset(small), small);
  auto f2 = render_dataset_files(build_dataset(small), small);
  EXPECT_EQ(f1, f2);
  GenerateOptions other = small;
  other.seed = 1;
  auto f3 = render_dataset_files(build_dataset(other), other);
  for (const auto& [name, bytes] : f1) EXPECT_NE(bytes, f3.at(name)) << name;
  // Files on disk are exactly the rendered bytes.
  auto dir = std::filesystem::temp_directory_path() / ("srl_gen_test_" + std::to_string(::getpid()));
  small.out_dir = dir.string();
  auto ds = generate_dataset(small);
  auto rendered = render_dataset_files(ds, small);
  for (const auto& [name, bytes] : rendered) EXPECT_EQ(srl::fs::read_file((dir / name).string()), bytes) << name;
  std::filesystem::remove_all(dir);
}

TEST(GenerateDataset, CardReportsCountsNoiseAndCeiling) {
  const auto& ds = default_dataset();
  auto card = render_dataset_files(ds, GenerateOptions{}).at("README.md");
  for (const char* s : {"Agreement ceiling", "tie", "refund_request", "self_harm", "30 days from delivery", "--noise 0.05",
                        "support_eval_prompts.jsonl"})
    EXPECT_NE(card.find(s), std::string::npos) << s;
  EXPECT_GT(ds.fresh.ceiling, 0.6);
  EXPECT_LT(ds.fresh.ceiling, 0.95);
}
