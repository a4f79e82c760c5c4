// The training-run skeleton every trainer shares (train/training_run.hpp): the evaluation / logging /
// checkpoint cadence against a hand-written schedule, stop_after_step, the data cursor against the epoch
// permutations it walks (also from a mid-epoch state, as on resume), and the shared `train:` checks, which
// every stage now applies the same way.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/jsonl.hpp"
#include "train/dpo.hpp"
#include "train/reward_model_train.hpp"
#include "train/rl.hpp"
#include "train/sft.hpp"
#include "train/trainer_common.hpp"
#include "train/training_run.hpp"

using namespace srl;
namespace stdfs = std::filesystem;

namespace {

const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_training_run").string();

struct Trace {
  std::vector<int64_t> steps, evaluated, saved, logged;
};

// Runs the loop with hooks that only record what was called at which step.
Trace run_fake(const std::string& name, const train::TrainLoopSection& t, train::RunOptions opt) {
  stdfs::remove_all(kTmp + "/" + name);
  train::TrainingRun run("fake", kTmp + "/" + name, t, opt);
  run.begin("fake: true\n");
  train::AdamW optim({}, {});
  run.restore(optim);
  Trace tr;
  train::LoopHooks h;
  h.step = [&] {
    tr.steps.push_back(run.state().step);  // 0-based while the step runs
    train::StepReport r;
    r.row["loss"] = 1.0;
    return r;
  };
  h.evaluate = [&](nlohmann::json& row, bool final) {
    tr.evaluated.push_back(run.state().step);
    row["eval/final"] = final;
    return true;
  };
  h.save = [&] {
    tr.saved.push_back(run.state().step);
    return std::string("ckpt_") + std::to_string(run.state().step);
  };
  run.loop(h);
  read_json_lines(run.path("metrics.jsonl"), [&](const nlohmann::json& j, const std::string&) {
    EXPECT_EQ(j["stage"], "fake");
    tr.logged.push_back(j["step"].get<int64_t>());
  });
  EXPECT_EQ(run.last_checkpoint(), tr.saved.empty() ? "" : "ckpt_" + std::to_string(tr.saved.back()));
  return tr;
}

using V = std::vector<int64_t>;

}  // namespace

TEST(TrainingRun, CadenceFollowsTheTrainSection) {
  train::TrainLoopSection t;
  t.max_steps = 7;
  t.eval_every = 3;
  t.save_every = 2;
  t.log_every = 5;
  auto tr = run_fake("cadence", t, {});
  EXPECT_EQ(tr.steps, (V{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(tr.evaluated, (V{3, 6, 7}));        // every 3 and the last
  EXPECT_EQ(tr.saved, (V{2, 4, 6, 7}));         // every 2 and the last
  EXPECT_EQ(tr.logged, (V{1, 3, 5, 6, 7}));     // the first, every 5, each evaluation, the last
  t.eval_every = 0;
  t.save_every = 0;
  auto end_only = run_fake("end_only", t, {});
  EXPECT_EQ(end_only.evaluated, (V{7}));
  EXPECT_EQ(end_only.saved, (V{7}));
  EXPECT_EQ(end_only.logged, (V{1, 5, 7}));
}

TEST(TrainingRun, StopAfterStepSavesThenEnds) {
  train::TrainLoopSection t;
  t.max_steps = 10;
  t.eval_every = 0;
  t.save_every = 3;
  t.log_every = 1;
  train::RunOptions o;
  o.stop_after_step = 4;
  o.progress = false;
  auto tr = run_fake("stop", t, o);
  EXPECT_EQ(tr.steps, (V{0, 1, 2, 3}));
  EXPECT_EQ(tr.saved, (V{3, 4}));
  EXPECT_TRUE(tr.evaluated.empty());
  EXPECT_EQ(tr.logged, (V{1, 2, 3, 4}));
}

TEST(TrainingRun, LoopBeforeRestoreIsABug) {
  train::TrainLoopSection t;
  train::TrainingRun run("fake", kTmp + "/no_restore", t, {});
  EXPECT_THROW(run.loop({}), Error);
}

TEST(TrainingRun, CursorWalksTheEpochPermutationsAndResumesMidEpoch) {
  const int64_t n = 5, seed = 11;
  train::TrainerState st;
  train::EpochCursor c(n, seed, st);
  std::vector<int64_t> want;
  for (int64_t e = 0; e < 3; ++e)
    for (auto i : train::epoch_order(n, seed, e)) want.push_back(i);
  std::vector<int64_t> got;
  for (int64_t k = 0; k < 13; ++k) {
    auto d = c.next();
    EXPECT_EQ(d.epoch, k / n);
    EXPECT_EQ(d.position, k % n);
    got.push_back(d.index);
  }
  EXPECT_EQ(got, std::vector<int64_t>(want.begin(), want.begin() + 13));
  // A cursor built from the saved state (as a resumed run builds it) draws what the first one would.
  train::TrainerState saved = st;
  train::EpochCursor resumed(n, seed, saved);
  for (int64_t k = 13; k < 15; ++k) EXPECT_EQ(resumed.next().index, want[k]) << k;
  EXPECT_EQ(c.next().index, want[13]);
}

// Each bad shared value is rejected by every stage, naming the same key (SFT used to turn
// keep_checkpoints 0 into 1 and accepted negative save_every / eval_every / weight_decay).
TEST(TrainingRun, EveryStageChecksTheSharedTrainFieldsAlike) {
  struct Bad {
    const char* key;
    std::function<void(train::TrainLoopSection&)> set;
  };
  const std::vector<Bad> bad = {
      {"train.max_steps", [](auto& t) { t.max_steps = 0; }},
      {"train.learning_rate", [](auto& t) { t.learning_rate = -1; }},
      {"train.weight_decay", [](auto& t) { t.weight_decay = -0.1; }},
      {"train.warmup_steps", [](auto& t) { t.warmup_steps = -1; }},
      {"train.min_lr_ratio", [](auto& t) { t.min_lr_ratio = 1.5; }},
      {"train.max_grad_norm", [](auto& t) { t.max_grad_norm = -1; }},
      {"train.eval_every", [](auto& t) { t.eval_every = -1; }},
      {"train.save_every", [](auto& t) { t.save_every = -1; }},
      {"train.log_every", [](auto& t) { t.log_every = 0; }},
      {"train.keep_checkpoints", [](auto& t) { t.keep_checkpoints = 0; }},
  };
  auto where_of = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << e.what();
      return e.where();
    }
    return "(no error)";
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.key);
    train::SftConfig sft;
    sft.output_dir = kTmp + "/never_sft";
    sft.data.train_file = "never.jsonl";
    b.set(sft.train);
    EXPECT_EQ(where_of([&] { train::run_sft(sft, {}); }), std::string("config: ") + b.key);
    train::DpoConfig dpo;
    b.set(dpo.train);
    EXPECT_EQ(where_of([&] { train::check_dpo_config(dpo); }), std::string("config: ") + b.key);
    train::RlConfig rl;
    b.set(rl.train);
    EXPECT_EQ(where_of([&] { train::check_rl_config(rl, train::RlMode::DirectPreference, false); }),
              std::string("config: rl.") + b.key);
    train::RewardModelFileConfig rm;
    rm.reward_model.output_dir = kTmp + "/never_rm";
    rm.reward_model.data.train_file = "never.jsonl";
    b.set(rm.reward_model.train);
    EXPECT_EQ(where_of([&] { train::run_train_reward_model(rm, {}); }), std::string("config: reward_model.") + b.key);
  }
  EXPECT_FALSE(stdfs::exists(kTmp + "/never_sft"));
  EXPECT_FALSE(stdfs::exists(kTmp + "/never_rm"));
}

// Config choices are enums read from their names; a bad name is an error naming the key and the choices.
TEST(TrainingRun, ChoicesAreReadAsEnums) {
  auto c = config::from_yaml_string<train::RlFileConfig>(
      "rl:\n  objective: {kl_mode: loss, kl_estimator: k3}\n  reward: {judge: reward_model, tournament: chunked}\n"
      "  train: {schedule: cosine}\n",
      "rl.yaml");
  EXPECT_EQ(c.rl.objective.kl_mode, train::KlMode::Loss);
  EXPECT_EQ(c.rl.objective.kl_estimator, train::KlEstimator::K3);
  EXPECT_EQ(c.rl.reward.judge, train::JudgeKind::RewardModel);
  EXPECT_EQ(c.rl.reward.tournament, train::TournamentPattern::Chunked);
  EXPECT_EQ(c.rl.train.schedule, train::Schedule::Cosine);
  EXPECT_EQ(train::RlTrain{}.schedule, train::Schedule::Constant);  // RL's own default
  // The resolved YAML spells them back, and reads back to the same values.
  const auto yaml = config::to_yaml(c);
  EXPECT_NE(yaml.find("kl_mode: loss"), std::string::npos) << yaml;
  auto again = config::from_yaml_string<train::RlFileConfig>(yaml, "resolved.yaml");
  EXPECT_EQ(again.rl.reward.tournament, train::TournamentPattern::Chunked);
  try {
    config::from_yaml_string<train::RlFileConfig>("rl:\n  objective: {kl_estimator: k2}\n", "rl.yaml");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("rl.yaml: rl.objective.kl_estimator: 'k2' is not one of k1, k3", 0), 0u)
        << e.what();
  }
  try {
    config::from_yaml_string<train::DpoConfig>("dpo: {loss_type: sigmoid_nrom}\n", "dpo.yaml");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'sigmoid_norm'"), std::string::npos) << e.what();
  }
}
