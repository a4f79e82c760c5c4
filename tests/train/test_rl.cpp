// The RL trainer in-process on the tiny preset (a fresh random model, LoRA): with a toy reward ("shorter
// replies are better", as a scalar reward source and as a pairwise judge in a tournament) the reward rises
// clearly within a few dozen steps; the first step is on-policy (importance ratio 1, KL 0 to the
// reference); a resumed run is bitwise identical to an uninterrupted one; bad configs, prompt files and
// judges are clear errors, never a crash or a NaN carried forward.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"
#include "text/tokenizer.hpp"
#include "train/reward_model.hpp"
#include "train/rl.hpp"

using namespace srl;
namespace stdfs = std::filesystem;

namespace {
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_rl").string();

std::vector<nlohmann::json> rows(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::stringstream ss(fs::read_file(path));
  std::string line;
  while (std::getline(ss, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

double mean_of(const std::vector<nlohmann::json>& r, const std::string& key, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += r[i][key].get<double>();
  return s / static_cast<double>(to - from);
}

// Toy reward: shorter replies are better (-tokens / max_new_tokens); the policy has to learn to end its
// turn early, i.e. to raise the end-of-turn logit.
double toy_reward(const train::RolloutText& r) { return -static_cast<double>(r.tokens) / 8.0; }

class ShortIsBetter : public train::RewardSource {
 public:
  std::string name() const override { return "short_is_better"; }
  std::vector<double> score(const std::vector<const train::RolloutText*>& rs) override {
    std::vector<double> out;
    for (const auto* r : rs) out.push_back(toy_reward(*r));
    return out;
  }
};

class ShorterWins : public train::PairwiseJudge {
 public:
  std::string name() const override { return "shorter_wins"; }
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const train::RolloutText*, const train::RolloutText*>>& pairs) override {
    ++calls;
    std::vector<double> out;
    for (const auto& [a, b] : pairs) {
      const auto la = a->tokens, lb = b->tokens;
      out.push_back(la < lb ? 1.0 : la > lb ? 0.0 : 0.5);
    }
    return out;
  }
  int calls = 0;
};

class BrokenJudge : public train::PairwiseJudge {
 public:
  std::string name() const override { return "broken"; }
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const train::RolloutText*, const train::RolloutText*>>& pairs) override {
    return std::vector<double>(pairs.size(), NAN);
  }
};

class RlTrainer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stdfs::remove_all(kTmp);
    // Sixteen prompts of the default RL prompt file, and four more held out.
    std::stringstream ss(fs::read_file(std::string(SRL_SOURCE_DIR) + "/data/support_prompts.jsonl"));
    std::string line, train, eval;
    for (int i = 0; i < 20 && std::getline(ss, line); ++i) (i < 16 ? train : eval) += line + "\n";
    fs::write_file_atomic(kTmp + "/prompts.jsonl", train);
    fs::write_file_atomic(kTmp + "/eval_prompts.jsonl", eval);
    std::string corpus = train + eval + fs::read_file(std::string(SRL_SOURCE_DIR) + "/data/demo/support_sft.jsonl");
    fs::write_file_atomic(kTmp + "/corpus.txt", corpus);
    text::TrainOptions o;
    o.input = kTmp + "/corpus.txt";
    o.vocab_size = 400;
    o.out_dir = kTmp + "/tok";
    text::Tokenizer::train(o);
    // The "SFT policy" RL starts from: a random tiny model whose weights (embeddings included) have std 0.1
    // rather than 0.02, so that LoRA alone can move the end-of-turn logit by several nats (with std 0.02 the
    // final hidden state times an embedding spans only ~0.2 nats).
    const auto tok = text::Tokenizer::load(kTmp + "/tok");
    auto m = model::init_model(model::LlamaConfig::preset("tiny"), tok, 1);
    m->init_weights(1, 0.1);
    model::save_model_files(kTmp + "/init", m, tok);
    model::mark_complete(kTmp + "/init");
  }

  static train::RlConfig config(const std::string& out) {
    train::RlConfig c;
    c.output_dir = kTmp + "/" + out;
    c.model.init = kTmp + "/init";
    c.data.prompt_file = kTmp + "/prompts.jsonl";
    c.data.eval_prompt_file = "";
    c.data.max_prompt_len = 64;
    c.rollout.rollouts_per_prompt = 4;
    c.rollout.prompts_per_step = 8;
    c.rollout.max_new_tokens = 8;
    c.lora.lora_rank = 8;
    c.lora.lora_alpha = 16;
    c.train.learning_rate = 1e-2;
    c.train.max_steps = 4;
    c.train.save_every = 0;
    c.train.log_every = 1;
    c.train.rollout_log_every = 2;
    return c;
  }

  static train::ComputeSection fp32() {
    train::ComputeSection c;
    c.dtype = train::DtypePolicy::Fp32;
    c.threads = 1;  // tiny matrices: one thread is fastest, and much faster on a shared machine
    return c;
  }

  static train::RlOptions scalar(std::shared_ptr<train::RewardSource> s = std::make_shared<ShortIsBetter>()) {
    train::RlOptions o;
    o.mode = train::RlMode::RewardModel;
    o.reward_source = std::move(s);
    o.progress = false;
    return o;
  }

  static train::RlOptions pairwise(std::shared_ptr<train::PairwiseJudge> j) {
    train::RlOptions o;
    o.mode = train::RlMode::DirectPreference;
    o.judge = std::move(j);
    o.progress = false;
    return o;
  }

  static void expect_config_error(const train::RlConfig& c, const train::RlOptions& o, const std::string& key) {
    try {
      train::run_rl(c, fp32(), o);
      FAIL() << "expected an error naming " << key;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << e.what();
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
};
}  // namespace

TEST_F(RlTrainer, ScalarToyRewardRisesAndFirstStepIsOnPolicy) {
  auto c = config("scalar");
  c.train.max_steps = 16;
  c.objective.kl_beta = 0.01;  // KL as reward shaping: the old log-probs come from the no-grad pre-pass
  auto r = train::run_rl(c, fp32(), scalar());
  EXPECT_EQ(r.step, 16);
  auto m = rows(kTmp + "/scalar/metrics.jsonl");
  ASSERT_EQ(m.size(), 16u);
  // Step 1: LoRA B = 0, so the policy equals the reference, and the sampling policy the trained one: the
  // ratio is exactly 1 (same code path) and the KL 0 up to rounding (the adapters-off path multiplies by
  // the concatenated q|k|v and gate|up weights instead of one projection at a time).
  EXPECT_EQ(m[0]["ratio_mean"].get<double>(), 1.0);
  EXPECT_EQ(m[0]["ratio_max"].get<double>(), 1.0);
  EXPECT_EQ(m[0]["clip_fraction"].get<double>(), 0.0);
  EXPECT_NEAR(m[0]["kl"].get<double>(), 0.0, 1e-5);
  EXPECT_NEAR(m[0]["kl_per_token"].get<double>(), 0.0, 1e-6);
  // The sampler's log-probs are the training forward's (inference path vs training path, fp32).
  EXPECT_LT(m[0]["sampler_logp_abs_diff"].get<double>(), 1e-3);
  for (const char* k : {"reward_mean", "reward_std", "kl", "entropy", "response_length", "zero_spread_fraction",
                        "gen_tokens_per_s", "train_tokens_per_s", "time/generation_s", "time/judge_s",
                        "time/reference_s", "time/update_s", "win_rate"})
    EXPECT_TRUE(m[5].contains(k)) << k;
  // The reward rises clearly: from about -1 (nearly every reply runs to max_new_tokens) by more than half
  // of its range, last 4 steps vs first 4.
  const double first = mean_of(m, "reward_mean", 0, 4), last = mean_of(m, "reward_mean", 12, 16);
  EXPECT_LT(first, -0.9);
  EXPECT_GT(last - first, 0.5) << "first " << first << " last " << last;
  EXPECT_LT(m.back()["response_length"].get<double>(), 4.0);
  EXPECT_GT(m.back()["kl"].get<double>(), 1.0);  // paid for with distance from the reference
  // rollouts.jsonl: steps 1, 2, 4, ... with two prompts each, G rollouts per prompt.
  auto ro = rows(kTmp + "/scalar/rollouts.jsonl");
  ASSERT_GE(ro.size(), 4u);
  EXPECT_EQ(ro[0]["step"], 1);
  EXPECT_EQ(ro[0]["rollouts"].size(), 4u);
  EXPECT_TRUE(ro[0]["rollouts"][0].contains("advantage"));
  EXPECT_TRUE(fs::exists(kTmp + "/scalar/final/adapter_model.safetensors"));
}

TEST_F(RlTrainer, PairwiseJudgeTournamentWinRateRises) {
  auto c = config("pairwise");
  c.train.max_steps = 16;
  c.objective.kl_beta = 0.0;  // old log-probs = the first minibatch's own training forward
  c.reward.tournament = train::TournamentPattern::AllPairs;
  c.data.eval_prompt_file = kTmp + "/eval_prompts.jsonl";  // exercises the panel evaluation hook
  c.data.eval_prompts = 4;
  c.train.eval_every = 0;
  auto judge = std::make_shared<ShorterWins>();
  auto r = train::run_rl(c, fp32(), pairwise(judge));
  EXPECT_EQ(judge->calls, 16 + 1);  // one batched call per step, plus the evaluation at the end
  auto m = rows(kTmp + "/pairwise/metrics.jsonl");
  ASSERT_EQ(m.size(), 16u);
  EXPECT_EQ(m[0]["ratio_mean"].get<double>(), 1.0);
  EXPECT_NEAR(m[0]["kl"].get<double>(), 0.0, 1e-5);
  // Tournament rewards are zero-sum within each group.
  for (const auto& row : m) EXPECT_NEAR(row["reward_mean"].get<double>(), 0.0, 1e-9);
  // Against the starting policy's replies the rollouts win more and more.
  const double first = mean_of(m, "win_rate", 0, 4), last = mean_of(m, "win_rate", 12, 16);
  EXPECT_LT(first, 0.65);
  EXPECT_GT(last, 0.85) << "first " << first << " last " << last;
  EXPECT_LT(m.back()["response_length"].get<double>(), 4.0);
  ASSERT_TRUE(r.eval.count("eval/panel_win_rate"));
  const double pw = r.eval.at("eval/panel_win_rate");
  EXPECT_TRUE(pw >= 0 && pw <= 1) << pw;
  EXPECT_TRUE(r.eval.count("eval/judge_win_rate"));
  EXPECT_TRUE(m.back().contains("eval/panel_win_rate"));
}

// online_dpo: best vs worst rollout of each group as a DPO pair instead of the clipped policy loss; the
// toy preference (shorter wins) rises the same way, and the training-time evaluator callback's metrics
// are logged with the eval/ prefix.
TEST_F(RlTrainer, OnlineDpoLearnsTheToyPreference) {
  auto c = config("online_dpo");
  c.train.max_steps = 16;
  c.objective.kl_beta = 0.0;
  c.objective.online_dpo = true;
  c.objective.dpo_beta = 0.5;
  c.data.eval_prompt_file = kTmp + "/eval_prompts.jsonl";
  c.data.eval_prompts = 4;
  c.train.eval_every = 0;
  auto o = pairwise(std::make_shared<ShorterWins>());
  int callback_calls = 0;
  o.eval_callback = [&callback_calls](const std::vector<train::RolloutText>& replies) {
    ++callback_calls;
    double chars = 0;
    for (const auto& r : replies) chars += static_cast<double>(r.response.size());
    return std::map<std::string, double>{{"toy/chars", chars / static_cast<double>(replies.size())}, {"toy/n", double(replies.size())}};
  };
  auto r = train::run_rl(c, fp32(), o);
  auto m = rows(kTmp + "/online_dpo/metrics.jsonl");
  ASSERT_EQ(m.size(), 16u);
  // Groups of 4 sampled replies of 8 random tokens differ in length early on: pairs are formed in the first
  // steps, at most one per prompt (8 prompts per step).
  int early_pairs = 0;
  for (int k = 0; k < 4; ++k) {
    early_pairs += m[k]["online_dpo_pairs"].get<int>();
    EXPECT_LE(m[k]["online_dpo_pairs"].get<int>(), 8);
  }
  EXPECT_GT(early_pairs, 0);
  const double first = mean_of(m, "win_rate", 0, 4), last = mean_of(m, "win_rate", 12, 16);
  EXPECT_GT(last - first, 0.2) << "first " << first << " last " << last;
  EXPECT_EQ(callback_calls, 1);
  EXPECT_EQ(r.eval.at("eval/toy/n"), 4.0);
  EXPECT_TRUE(m.back().contains("eval/toy/chars"));
  c.objective.dpo_beta = 0;
  expect_config_error(c, o, "objective.dpo_beta");
}

TEST_F(RlTrainer, ResumeIsBitwiseIdentical) {
  auto c = config("straight");
  c.objective.num_substeps = 2;  // minibatch 2 is off-policy: its old log-probs come from the pre-pass
  c.objective.kl_mode = train::KlMode::Loss;
  c.objective.kl_estimator = train::KlEstimator::K3;
  c.objective.leave_one_out = true;
  train::run_rl(c, fp32(), scalar());
  auto s = config("split");
  s.objective = c.objective;
  auto first = scalar();
  first.stop_after_step = 2;
  EXPECT_EQ(train::run_rl(s, fp32(), first).step, 2);
  auto resume = scalar();
  resume.resume = true;
  EXPECT_EQ(train::run_rl(s, fp32(), resume).step, 4);
  auto a = model::safetensors::load(kTmp + "/straight/final/adapter_model.safetensors").tensors;
  auto b = model::safetensors::load(kTmp + "/split/final/adapter_model.safetensors").tensors;
  ASSERT_EQ(a.size(), b.size());
  for (auto& [n, t] : a) EXPECT_TRUE(torch::equal(t, b.at(n))) << n;
  auto ma = rows(kTmp + "/straight/metrics.jsonl"), mb = rows(kTmp + "/split/metrics.jsonl");
  ASSERT_EQ(ma.size(), 4u);
  ASSERT_EQ(mb.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(ma[i]["reward_mean"], mb[i]["reward_mean"]) << i;
  // Off-policy second minibatch: the ratio moved away from 1 within step 1.
  EXPECT_GT(ma[0]["ratio_max"].get<double>(), 1.0);
  EXPECT_EQ(rows(kTmp + "/split/rollouts.jsonl").size(), rows(kTmp + "/straight/rollouts.jsonl").size());
}

TEST_F(RlTrainer, ConfigErrorsNameTheKey) {
  auto judge = std::make_shared<ShorterWins>();
  auto c = config("bad");
  c.rollout.rollouts_per_prompt = 1;
  expect_config_error(c, pairwise(judge), "rl.rollout.rollouts_per_prompt");
  c = config("bad");
  c.reward.judge = train::JudgeKind::Heuristic;
  expect_config_error(c, pairwise(nullptr), "rl.reward.judge");
  c = config("bad");
  c.reward.judge = train::JudgeKind::RewardModel;
  expect_config_error(c, pairwise(nullptr), "rl.reward.reward_model");
  c = config("bad");
  expect_config_error(c, scalar(nullptr), "rl.reward.reward_model");
  c = config("bad");
  c.lora.lora_rank = 0;
  expect_config_error(c, scalar(), "rl.lora.lora_rank");
  c = config("bad");
  c.lora.lora_dropout = 0.1;
  expect_config_error(c, scalar(), "rl.lora.lora_dropout");
  c = config("bad");
  c.objective.num_substeps = 3;
  expect_config_error(c, scalar(), "rl.objective.num_substeps");
  c = config("bad");
  c.rollout.temperature = 0;
  expect_config_error(c, scalar(), "rl.rollout.temperature");
  c = config("bad");
  c.rollout.max_new_tokens = 500;  // 64 + 500 > 512
  expect_config_error(c, scalar(), "rl.rollout.max_new_tokens");
  c = config("bad");
  c.data.prompt_file = kTmp + "/missing.jsonl";
  expect_config_error(c, scalar(), "missing.jsonl");
  c = config("bad");
  c.reward.reward_model = kTmp + "/no_such_reward_model";
  expect_config_error(c, scalar(nullptr), "no_such_reward_model");
}

TEST_F(RlTrainer, MalformedPromptLinesAreNamedOrSkipped) {
  fs::write_file_atomic(kTmp + "/mixed.jsonl",
                        "{\"prompt\": \"Where is my order A12345?\"}\n"
                        "{\"prompt\": \"\"}\n"
                        "not json\n"
                        "\n"
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n"
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"Can I get a refund?\"}], \"tags\": {\"intent\": \"refund\"}}\n");
  try {
    train::load_rl_prompts(kTmp + "/mixed.jsonl", false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("mixed.jsonl:2"), std::string::npos) << e.what();
  }
  int64_t skipped = 0;
  auto ps = train::load_rl_prompts(kTmp + "/mixed.jsonl", true, &skipped);
  EXPECT_EQ(skipped, 3);
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[1].conversation.back().content, "Can I get a refund?");
  EXPECT_EQ(ps[1].tags["intent"], "refund");
  fs::write_file_atomic(kTmp + "/empty.jsonl", "\n\n");
  EXPECT_THROW(train::load_rl_prompts(kTmp + "/empty.jsonl", true), Error);
}

TEST_F(RlTrainer, BrokenJudgeStopsWithAClearError) {
  auto c = config("broken");
  c.train.max_steps = 1;
  try {
    train::run_rl(c, fp32(), pairwise(std::make_shared<BrokenJudge>()));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a probability"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(kTmp + "/broken/final"));
}

TEST_F(RlTrainer, PanelJudgeIsAProbabilityAndAntisymmetric) {
  auto panel = train::make_panel_judge(0);
  train::RolloutText good, bad;
  good.conversation = {{"user", "Where is my order A19878? It has not arrived."}};
  bad.conversation = good.conversation;
  good.response = "I'm sorry your order A19878 hasn't arrived. I've checked the tracking and will follow up "
                  "with the carrier; you'll get an update by email within one business day.";
  bad.response = "No.";
  auto p = panel->prob_a_beats_b({{&good, &bad}, {&bad, &good}});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_GT(p[0], 0.5);
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-12);
}

TEST_F(RlTrainer, RewardModelSourcesAreWired) {
  // An untrained reward model (the init policy + a random value head) as scalar source and as judge.
  auto lm = model::load_model(kTmp + "/init");
  train::RewardModel rm(lm.model, lm.tokenizer, 3);
  rm.save(kTmp + "/rm");
  auto c = config("rm_scalar");
  c.train.max_steps = 2;
  c.reward.reward_model = kTmp + "/rm";
  train::RlOptions o;
  o.mode = train::RlMode::RewardModel;
  o.progress = false;
  auto r = train::run_rl(c, fp32(), o);
  ASSERT_TRUE(r.last.count("reward_mean"));
  EXPECT_TRUE(std::isfinite(r.last.at("reward_mean")));
  EXPECT_GT(r.last.at("reward_std"), 0.0);  // a random head still tells replies apart
  auto d = config("rm_judge");
  d.train.max_steps = 2;
  d.reward.judge = train::JudgeKind::RewardModel;
  d.reward.reward_model = kTmp + "/rm";
  auto rj = train::run_rl(d, fp32(), pairwise(nullptr));
  ASSERT_TRUE(rj.last.count("win_rate"));
  EXPECT_TRUE(rj.last.at("win_rate") >= 0 && rj.last.at("win_rate") <= 1);
  EXPECT_GT(rj.last.at("judge_decisive_fraction"), 0.0);
  // Standardizing needs the reward model's training statistics, which this one lacks.
  auto e = config("rm_std");
  e.reward.reward_model = kTmp + "/rm";
  e.reward.standardize = true;
  expect_config_error(e, o, "rl.reward.standardize");
}
