// Reward model: pooling at the true last token whatever the batch padding, the Bradley-Terry loss and its
// gradient against the closed form, learning a toy preference ("the shorter answer wins") to high held-out
// accuracy on the tiny preset, bitwise-exact resume, save/load round trips, and the evaluation arithmetic
// (ECE, reliability bins, per-group accuracy, label ceiling, SVG).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"
#include "text/tokenizer.hpp"
#include "train/reward_eval.hpp"
#include "train/reward_model.hpp"
#include "train/reward_model_train.hpp"
#include "train/rl.hpp"

using namespace srl;
namespace stdfs = std::filesystem;

namespace {
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_reward_model").string();
const std::string kSrc = SRL_SOURCE_DIR;

const std::vector<std::string> kPrompts = {"Where is my order A12345?",          "How do I reset my password?",
                                           "I was charged twice for one order.", "Can I change my delivery address?",
                                           "The app crashes when I open it.",    "I want to cancel my subscription.",
                                           "My jacket arrived damaged.",         "How long do refunds take?"};
const std::vector<std::string> kWords = {"order",  "refund", "ship",   "account", "email",  "password", "days",
                                         "return", "please", "thanks", "help",    "jacket", "delivery", "team",
                                         "sorry",  "check",  "label",  "card",    "reset",  "within"};

std::string words(std::mt19937& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + kWords[rng() % kWords.size()];
  return s;
}

// "The shorter answer wins": one reply of 1-3 words, one of 7-10, in random slots.
std::string toy_pairs(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out;
  for (int i = 0; i < n; ++i) {
    const auto shorter = words(rng, 1 + static_cast<int>(rng() % 3));
    const auto longer = words(rng, 7 + static_cast<int>(rng() % 4));
    const bool a_short = rng() % 2 == 0;
    nlohmann::json j = {{"prompt", kPrompts[rng() % kPrompts.size()]},
                        {"response_a", a_short ? shorter : longer},
                        {"response_b", a_short ? longer : shorter},
                        {"winner", a_short ? "a" : "b"},
                        {"tags", {{"intent", i % 2 ? "odd" : "even"}, {"difficulty", "easy"}, {"segment", "smb"}}}};
    out += j.dump() + "\n";
  }
  return out;
}

class RewardModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    std::string corpus;
    for (const auto& p : kPrompts) corpus += p + "\n";
    for (const auto& w : kWords) corpus += w + " " + w + "s\n";
    corpus += fs::read_file(kSrc + "/data/demo/support_sft.jsonl");
    fs::write_file_atomic(kTmp + "/corpus.txt", corpus);
    text::TrainOptions o;
    o.input = kTmp + "/corpus.txt";
    o.vocab_size = 400;
    o.out_dir = kTmp + "/tok";
    text::Tokenizer::train(o);
    // The "SFT run" the reward models start from: a fresh tiny policy saved as a checkpoint.
    auto tok = text::Tokenizer::load(kTmp + "/tok");
    auto m = model::init_model(model::LlamaConfig::preset("tiny"), tok, 3);
    model::save_model_files(kTmp + "/policy", m, tok);
    model::mark_complete(kTmp + "/policy");
    fs::write_file_atomic(kTmp + "/toy_train.jsonl", toy_pairs(240, 1));
    fs::write_file_atomic(kTmp + "/toy_eval.jsonl", toy_pairs(60, 2));
    fs::write_file_atomic(kTmp + "/toy_eval_small.jsonl", toy_pairs(12, 3));
  }

  static train::RewardModelFileConfig config(const std::string& out) {
    train::RewardModelFileConfig f;
    auto& c = f.reward_model;
    c.output_dir = kTmp + "/" + out;
    c.model.init = kTmp + "/policy";
    c.data.train_file = kTmp + "/toy_train.jsonl";
    c.data.eval_file = kTmp + "/toy_eval_small.jsonl";
    c.data.max_prompt_len = 32;
    c.data.max_seq_len = 80;
    c.train.max_steps = 6;
    c.train.batch_size = 4;
    c.train.grad_accum = 2;
    c.train.warmup_steps = 2;
    c.train.eval_every = 0;
    c.train.save_every = 0;
    c.train.log_every = 1;
    c.train.stats_pairs = 8;
    c.lora.lora_rank = 4;
    c.lora.lora_alpha = 8;
    f.compute.dtype = train::DtypePolicy::Fp32;  // deterministic, and bitwise comparable across runs
    f.compute.threads = 1;     // tiny shapes gain little from threads; a shared machine loses a lot
    return f;
  }

  static train::RewardModel fresh_rm(double init_std = 0.1) {
    auto lm = model::load_model(kTmp + "/policy");
    lm.model->init_weights(7, init_std);  // larger than the default so hidden states differ visibly
    return train::RewardModel(lm.model, lm.tokenizer, 5);
  }

  static std::map<std::string, torch::Tensor> tensors(const std::string& path) {
    return model::safetensors::load(path).tensors;
  }
  static void expect_bitwise_equal(const std::map<std::string, torch::Tensor>& a,
                                   const std::map<std::string, torch::Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (auto& [n, t] : a) EXPECT_TRUE(torch::equal(t, b.at(n))) << n;
  }
  static std::vector<nlohmann::json> rows(const std::string& path) {
    std::vector<nlohmann::json> out;
    std::stringstream ss(fs::read_file(path));
    std::string line;
    while (std::getline(ss, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

std::vector<int64_t> ids(std::mt19937& rng, size_t n) {
  std::vector<int64_t> v(n);
  for (auto& x : v) x = 10 + static_cast<int64_t>(rng() % 300);
  return v;
}

}  // namespace

TEST_F(RewardModelTest, PoolingUsesTheTrueLastTokenWhateverThePadding) {
  auto rm = fresh_rm();
  rm.policy()->eval();
  torch::NoGradGuard ng;
  std::mt19937 rng(11);
  const auto p = ids(rng, 7), a = ids(rng, 5), b = ids(rng, 9);
  train::PairedSequences alone{{p}, {a}, {b}};
  auto r0 = rm.rewards(alone);
  ASSERT_EQ(r0.sizes(), (c10::IntArrayRef{2}));
  // The same pair between a longer and a shorter batch mate (prompts and responses both longer/shorter).
  train::PairedSequences mixed{
      {ids(rng, 15), p, ids(rng, 2)}, {ids(rng, 20), a, ids(rng, 1)}, {ids(rng, 3), b, ids(rng, 2)}};
  auto r1 = rm.rewards(mixed);
  EXPECT_NEAR(r1[1].item<double>(), r0[0].item<double>(), 1e-5);
  EXPECT_NEAR(r1[4].item<double>(), r0[1].item<double>(), 1e-5);
  // And the plain right-padded reference gives the same numbers.
  auto ref = rm.head(train::last_token_hidden_unshared(rm.policy(), mixed));
  EXPECT_TRUE(torch::allclose(r1, ref, 1e-5, 1e-5)) << r1 << ref;
  // The two responses really get different rewards (the check above is not vacuous).
  EXPECT_GT(std::abs(r0[0].item<double>() - r0[1].item<double>()), 1e-4);
}

TEST_F(RewardModelTest, BradleyTerryLossAndGradientMatchTheClosedForm) {
  const std::vector<double> a = {0.3, -1.2, 0.5, 2.0}, b = {0.1, 0.4, 0.5, -0.5}, t = {1, 0, 0.5, 0};
  const double margin = 0.2, coef = 0.1;
  auto ra = torch::tensor(a, torch::kDouble).requires_grad_(true);
  auto rb = torch::tensor(b, torch::kDouble).requires_grad_(true);
  auto loss = train::reward_pair_losses(ra, rb, torch::tensor(t, torch::kDouble), margin, coef).mean();
  loss.backward();
  // L = mean_i softplus(x_i) - t_i x_i + coef (a_i + b_i)^2, x_i = a_i - b_i - margin (2 t_i - 1);
  // dL/da_i = (sigmoid(x_i) - t_i + 2 coef (a_i + b_i)) / n, dL/db_i = (-(sigmoid(x_i) - t_i) + 2 coef (a_i + b_i)) /
  // n.
  const double n = static_cast<double>(a.size());
  double want = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i] - b[i] - margin * (2 * t[i] - 1), s = 1 / (1 + std::exp(-x));
    want += (std::log1p(std::exp(x)) - t[i] * x + coef * (a[i] + b[i]) * (a[i] + b[i])) / n;
    EXPECT_NEAR(ra.grad()[i].item<double>(), (s - t[i] + 2 * coef * (a[i] + b[i])) / n, 1e-12) << i;
    EXPECT_NEAR(rb.grad()[i].item<double>(), (-(s - t[i]) + 2 * coef * (a[i] + b[i])) / n, 1e-12) << i;
  }
  EXPECT_NEAR(loss.item<double>(), want, 1e-12);
  // A tie at equal rewards costs exactly ln 2 (plus centering) and gets no margin.
  auto tie = train::reward_pair_losses(torch::tensor({0.5}, torch::kDouble), torch::tensor({0.5}, torch::kDouble),
                                       torch::tensor({0.5}, torch::kDouble), margin, coef);
  EXPECT_NEAR(tie[0].item<double>(), std::log(2.0) + coef * 1.0, 1e-12);
}

TEST_F(RewardModelTest, LearnsToPreferTheShorterAnswer) {
  auto c = config("learn");
  c.reward_model.data.eval_file = kTmp + "/toy_eval.jsonl";
  auto& t = c.reward_model.train;
  t.max_steps = 30;
  t.batch_size = 8;
  t.grad_accum = 1;
  t.learning_rate = 2e-3;
  t.warmup_steps = 5;
  t.eval_every = 15;
  c.reward_model.lora.lora_rank = 8;
  c.reward_model.lora.lora_alpha = 16;
  auto r = train::run_train_reward_model(c, {});
  ASSERT_TRUE(r.eval.has_value());
  const auto& e = *r.eval;
  EXPECT_GE(e["accuracy"].get<double>(), 0.95) << e.dump(2);
  EXPECT_EQ(e["non_tie"].get<int64_t>(), 60);
  EXPECT_GT(e["mean_margin"].get<double>(), 0.0);
  // The run directory has what docs/reward_model.md promises.
  const std::string run = kTmp + "/learn";
  for (auto f : {"eval.json", "reliability.svg", "metrics.jsonl", "config.yaml", "final/value_head.safetensors",
                 "final/reward_model.json", "final/adapter_model.safetensors", "final/COMPLETE"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  auto info = nlohmann::json::parse(fs::read_file(run + "/final/reward_model.json"));
  EXPECT_EQ(info["type"], "reward_model");
  EXPECT_TRUE(info["reward_mean"].is_number());
  EXPECT_GT(info["reward_std"].get<double>(), 0.0);
  // Toy data is not from the generator: the ceiling is honestly unknown.
  EXPECT_EQ(e["label_ceiling"]["source"], "unknown");
  EXPECT_TRUE(e["label_ceiling"]["agreement"].is_null());
  auto m = rows(run + "/metrics.jsonl");
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.back()["stage"], "reward_model");
  for (auto k : {"loss", "accuracy", "lr", "grad_norm", "tokens_per_s", "eval/accuracy", "eval/ece"})
    EXPECT_TRUE(m.back()[k].is_number()) << k;
  // The loaded model scores a fresh pair the same way: the shorter reply gets the higher reward.
  auto rm = train::RewardModel::load(run);
  const std::vector<text::Message> conv = {{"user", "Where is my order A12345?"}};
  EXPECT_GT(rm.prob_a_beats_b(conv, "thanks please", "order refund ship account email days return help team check"),
            0.5);
}

TEST_F(RewardModelTest, ResumeIsBitwiseIdenticalToUninterruptedRun) {
  auto c = config("straight");
  c.reward_model.lora.lora_dropout = 0.1;  // consumes the RNG, whose state must be restored
  c.reward_model.train.head_learning_rate = 3e-3;
  c.reward_model.train.center_rewards_coefficient = 0.05;
  c.reward_model.train.margin = 0.1;
  train::run_train_reward_model(c, {});
  auto s = c;
  s.reward_model.output_dir = kTmp + "/split";
  train::RewardModelOptions first;
  first.stop_after_step = 3;
  EXPECT_EQ(train::run_train_reward_model(s, first).step, 3);
  train::RewardModelOptions resume;
  resume.resume = true;
  EXPECT_EQ(train::run_train_reward_model(s, resume).step, 6);
  for (auto f : {"value_head.safetensors", "adapter_model.safetensors", "trainer_state.safetensors",
                 "value_head_optimizer.safetensors"})
    expect_bitwise_equal(tensors(kTmp + "/straight/final/" + f), tensors(kTmp + "/split/final/" + f));
  auto a = rows(kTmp + "/straight/metrics.jsonl"), b = rows(kTmp + "/split/metrics.jsonl");
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << i;
  // The head moved (the comparison is not between two untouched initialisations).
  auto head = tensors(kTmp + "/straight/final/value_head.safetensors");
  EXPECT_NE(head.at("score.bias").item<float>(), 0.0f);
}

TEST_F(RewardModelTest, DivergenceStopsNamingTheLastGoodCheckpoint) {
  auto c = config("diverge");
  auto& t = c.reward_model.train;
  t.max_steps = 1;
  train::run_train_reward_model(c, {});  // a good checkpoint at step 1
  // Resumed with an absurd learning rate: the step-2 update overflows the weights, and the run stops
  // before it could save them, naming step 1 as the checkpoint to go back to.
  t.max_steps = 3;
  t.learning_rate = 1e30;
  t.head_learning_rate = 1e30;
  t.max_grad_norm = 0;
  t.save_every = 1;
  train::RewardModelOptions resume;
  resume.resume = true;
  try {
    train::run_train_reward_model(c, resume);
    FAIL() << "expected the run to stop";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 1);
    const std::string what = e.what();
    EXPECT_NE(what.find("non-finite"), std::string::npos) << what;
    EXPECT_NE(what.find("step_000001"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(kTmp + "/diverge/checkpoints/step_000002"));
  EXPECT_TRUE(fs::exists(kTmp + "/diverge/checkpoints/step_000001/COMPLETE"));
}

TEST_F(RewardModelTest, SaveLoadRoundTripAndPolicyIsRefused) {
  auto rm = fresh_rm();
  rm.stats.mean = 0.25;
  rm.stats.std = 2.0;
  rm.tokenize.max_prompt_len = 40;
  rm.tokenize.max_seq_len = 120;
  const std::string dir = kTmp + "/roundtrip";
  rm.save(dir);
  auto back = train::RewardModel::load(dir);
  EXPECT_EQ(back.tokenize.max_prompt_len, 40);
  EXPECT_EQ(back.tokenize.max_seq_len, 120);
  EXPECT_EQ(*back.stats.mean, 0.25);
  EXPECT_EQ(*back.stats.std, 2.0);
  const std::vector<text::Message> conv = {{"user", "How long do refunds take?"}};
  const std::vector<train::ScoreItem> items = {
      {conv, "within days"}, {conv, "please check the label"}, {{{"user", "hi"}}, "sorry"}};
  auto s0 = rm.score_batch(items, 4), s1 = back.score_batch(items, 4);
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(s0[i], s1[i]) << i;
  // score, score_batch and prob_a_beats_b agree with each other.
  EXPECT_NEAR(back.score(conv, "within days"), s1[0], 1e-5);
  EXPECT_NEAR(back.prob_a_beats_b(conv, "within days", "please check the label"), 1 / (1 + std::exp(-(s1[0] - s1[1]))),
              1e-5);
  auto pairs = back.score_pairs({{conv, "within days", "please check the label"}});
  EXPECT_NEAR(pairs[0].first, s1[0], 1e-5);
  EXPECT_NEAR(pairs[0].second, s1[1], 1e-5);
  // A plain policy directory has no head.
  try {
    train::RewardModel::load(kTmp + "/policy");
    FAIL() << "expected an error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("not a reward model"), std::string::npos) << e.what();
  }
  // A head of the wrong shape is refused, naming the file.
  model::safetensors::save(dir + "/value_head.safetensors",
                           {{"score.weight", torch::zeros({1, 3})}, {"score.bias", torch::zeros({1})}});
  try {
    train::RewardModel::load(dir);
    FAIL() << "expected an error";
  } catch (const srl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("value_head.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(RewardModelTest, ConfigFileLoadsAndBadSettingsAreRefused) {
  auto f = config::load<train::RlRewardModelFileConfig>(kSrc + "/configs/rl_reward_model.yaml");
  EXPECT_EQ(f.rl.reward.judge, train::JudgeKind::RewardModel);
  EXPECT_EQ(f.reward_model.model.init, "runs/sft");
  EXPECT_EQ(f.reward_model.lora.lora_rank, 16);
  EXPECT_EQ(f.reward_model.lora.lora_alpha, 32.0);
  EXPECT_EQ(f.reward_model.data.train_file, "data/support_preference_train.jsonl");
  EXPECT_FALSE(f.reward_model.data.label_ceiling.has_value());
  EXPECT_TRUE(f.reward_model.train.swap_augment);
  // A missing SFT run is one clear error naming the path, before any work.
  auto c = config("missing_init");
  c.reward_model.model.init = kTmp + "/no_sft_here";
  try {
    train::run_train_reward_model(c, {});
    FAIL() << "expected an error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("no_sft_here"), std::string::npos) << e.what();
  }
  auto bad = config("bad_lr");
  bad.reward_model.train.learning_rate = -1;
  EXPECT_THROW(train::run_train_reward_model(bad, {}), srl::Error);
  // A malformed training line names FILE:LINE.
  fs::write_file_atomic(kTmp + "/bad_pairs.jsonl", toy_pairs(2, 3) + "{\"prompt\": \"hi\", \"response_a\": \"x\"}\n");
  auto bd = config("bad_data");
  bd.reward_model.data.train_file = kTmp + "/bad_pairs.jsonl";
  try {
    train::run_train_reward_model(bd, {});
    FAIL() << "expected an error";
  } catch (const srl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_pairs.jsonl:3"), std::string::npos) << e.what();
  }
}

TEST(RewardModelEval, EceAndReliabilityBinsByHand) {
  // Bins of width 0.1: 0.05 -> bin 0; 0.15, 0.12 -> bin 1; 0.95 -> bin 9.
  // bin 0: conf 0.05, observed 0 -> |0 - 0.05| = 0.05, weight 1/4
  // bin 1: conf 0.135, observed 0.5 -> 0.365, weight 2/4
  // bin 9: conf 0.95, observed 1 -> 0.05, weight 1/4
  // ECE = 0.0125 + 0.1825 + 0.0125 = 0.2075
  auto r = train::reliability({0.05, 0.15, 0.12, 0.95}, {0, 1, 0, 1});
  ASSERT_EQ(r.bins.size(), 10u);
  EXPECT_EQ(r.count, 4);
  EXPECT_NEAR(r.ece, 0.2075, 1e-12);
  EXPECT_EQ(r.bins[1].count, 2);
  EXPECT_NEAR(r.bins[1].mean_confidence, 0.135, 1e-12);
  EXPECT_NEAR(r.bins[1].observed, 0.5, 1e-12);
  EXPECT_EQ(r.bins[5].count, 0);
  EXPECT_NEAR(r.bins[9].lo, 0.9, 1e-12);
  // Edges: 1.0 goes to the last bin, 0.0 to the first, 0.5 to bin 5.
  auto e = train::reliability({1.0, 0.0, 0.5}, {1, 0, 1});
  EXPECT_EQ(e.bins[9].count, 1);
  EXPECT_EQ(e.bins[0].count, 1);
  EXPECT_EQ(e.bins[5].count, 1);
  EXPECT_NEAR(e.ece, 0.5 / 3, 1e-12);  // only the 0.5 prediction is off, by 0.5
  EXPECT_THROW(train::reliability({1.5}, {1}), srl::Error);
}

TEST(RewardModelEval, AccuracyPerGroupMarginAndLoss) {
  using data::Winner;
  std::vector<train::ScoredPair> p = {
      {2.0, 1.0, Winner::A, "refund", "easy"},   // correct, margin 1
      {0.0, 3.0, Winner::A, "refund", "hard"},   // wrong, margin -3
      {1.0, 4.0, Winner::B, "login", "hard"},    // correct, margin 3
      {1.0, 1.0, Winner::B, "", "easy"},         // exact tie in reward: counts as wrong, margin 0
      {5.0, -5.0, Winner::Tie, "login", "easy"}  // label tie: not in accuracy
  };
  auto e = train::evaluate_scored_pairs(p);
  EXPECT_EQ(e.pairs, 5);
  EXPECT_EQ(e.ties, 1);
  EXPECT_EQ(e.overall.pairs, 4);
  EXPECT_EQ(e.overall.correct, 2);
  EXPECT_DOUBLE_EQ(e.overall.accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(e.mean_margin, (1.0 - 3.0 + 3.0 + 0.0) / 4);
  EXPECT_EQ(e.by_intent.at("refund").pairs, 2);
  EXPECT_EQ(e.by_intent.at("refund").correct, 1);
  EXPECT_EQ(e.by_intent.at("login").pairs, 1);
  EXPECT_EQ(e.by_intent.at("(none)").pairs, 1);
  EXPECT_EQ(e.by_difficulty.at("hard").pairs, 2);
  EXPECT_EQ(e.by_difficulty.at("hard").correct, 1);
  EXPECT_EQ(e.by_difficulty.at("easy").pairs, 2);
  EXPECT_EQ(e.by_difficulty.at("easy").correct, 1);
  EXPECT_DOUBLE_EQ(e.reward_min, -5.0);
  EXPECT_DOUBLE_EQ(e.reward_max, 5.0);
  EXPECT_DOUBLE_EQ(e.reward_mean, (3 + 3 + 5 + 2 + 0) / 10.0);
  // Loss: softplus(d) - t d per pair, the tie with target 0.5.
  auto sp = [](double x) { return std::log1p(std::exp(x)); };
  const double want = ((sp(1) - 1) + (sp(-3) + 3) + sp(-3) + sp(0) + (sp(10) - 5)) / 5;
  EXPECT_NEAR(e.loss, want, 1e-12);
  EXPECT_EQ(e.calibration.count, 4);
  auto j = train::reward_eval_json(e, {{"step", 7}});
  EXPECT_EQ(j["step"], 7);
  EXPECT_EQ(j["reliability"].size(), 10u);
  EXPECT_EQ(j["reliability"][0]["count"], 2);              // p = sigmoid(-3) twice
  EXPECT_TRUE(j["reliability"][1]["observed"].is_null());  // empty bin
  EXPECT_EQ(j["by_intent"]["refund"]["accuracy"], 0.5);
  EXPECT_TRUE(j["label_ceiling"]["agreement"].is_null());
  auto svg = train::reliability_svg(e.calibration, "a <title> & more");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;title&gt; &amp; more"), std::string::npos);
  EXPECT_NE(svg.find("predicted P(A wins)"), std::string::npos);
  EXPECT_NE(svg.find("observed frequency"), std::string::npos);
}

TEST(RewardModelEval, LabelCeilingOfTheSyntheticDataComesFromThePanel) {
  auto pairs = data::load_pairs(kSrc + "/data/support_preference_val.jsonl");
  pairs.resize(40);
  auto c = train::synthetic_label_ceiling(pairs);
  ASSERT_TRUE(c.agreement.has_value()) << c.note;
  EXPECT_EQ(c.source, "annotator_panel");
  EXPECT_GT(*c.agreement, 0.5);
  EXPECT_LE(*c.agreement, 1.0);
  EXPECT_GE(*c.bayes_accuracy, *c.agreement);  // max(p, 1-p) >= p^2 + (1-p)^2
  EXPECT_GT(c.pairs, 30);
  // An edited pair no longer matches: unknown, with the reason.
  pairs[3].response_a += " (edited)";
  auto u = train::synthetic_label_ceiling(pairs);
  EXPECT_FALSE(u.agreement.has_value());
  EXPECT_EQ(u.source, "unknown");
  EXPECT_NE(u.note.find(*pairs[3].id), std::string::npos) << u.note;
}
