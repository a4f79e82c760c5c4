// train-guardrail (train/guardrail_train.hpp) on a small config: the run directory's files, a calibrated
// classifier whose threshold keeps the stated validation recall, the classifier learning the world's
// tickets far above chance, exact resume (an interrupted run continued gives the same weights bit for bit)
// and clear config errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/request_classifier.hpp"
#include "model/safetensors.hpp"
#include "train/guardrail_train.hpp"

using namespace srl;
namespace stdfs = std::filesystem;

namespace {

std::string dir_for(const std::string& name) {
  auto d = stdfs::temp_directory_path() / ("srl_test_guardrail_" + name);
  stdfs::remove_all(d);
  return d.string();
}

train::GuardrailConfig small(const std::string& out) {
  train::GuardrailConfig c;
  c.output_dir = out;
  c.data.train_tickets = 1500;
  c.data.val_tickets = 400;
  c.classifier.buckets = 1 << 14;
  c.classifier.dim = 16;
  c.classifier.hidden = 16;
  c.train.max_steps = 200;
  c.train.batch_size = 32;
  c.train.learning_rate = 2e-2;
  c.train.warmup_steps = 10;
  c.train.eval_every = 100;
  c.train.save_every = 100;
  c.train.log_every = 20;
  c.compute.threads = 1;
  return c;
}

train::RunOptions quiet() {
  train::RunOptions o;
  o.progress = false;
  return o;
}

}  // namespace

TEST(GuardrailTrain, WritesACalibratedClassifierThatLearnsTheTickets) {
  const auto out = dir_for("basic");
  auto cfg = small(out);
  const auto r = train::run_train_guardrail(cfg, quiet());
  EXPECT_EQ(r.step, 200);
  for (const char* f : {"config.yaml", "metrics.jsonl", "classifier.safetensors", "guardrail.json", "final/COMPLETE"})
    EXPECT_TRUE(stdfs::exists(out + "/" + f)) << f;
  auto c = model::RequestClassifier::load(model::resolve_classifier_file(out));
  EXPECT_GT(c.calibration().threshold, 0.0);
  EXPECT_LE(c.calibration().threshold, 0.5);
  EXPECT_EQ(c.calibration().target_recall, 0.95);
  EXPECT_GE(r.val_unsafe_recall, 0.95);  // the threshold keeps the stated recall on validation
  EXPECT_GT(r.val_intent_accuracy, 0.25);  // chance is 1/24
  EXPECT_NE(c.calibration().intent_temperature, 1.0);
  auto j = nlohmann::json::parse(fs::read_file(out + "/guardrail.json"));
  EXPECT_EQ(j["train_tickets"], 1500);
  EXPECT_EQ(j["bitext"], "not configured");
  EXPECT_EQ(c.predict("I want to kill myself").acted_risk() == "none", false);
}

TEST(GuardrailTrain, AnInterruptedRunResumesToTheSameWeights) {
  const auto a = dir_for("full"), b = dir_for("resumed");
  train::run_train_guardrail(small(a), quiet());
  auto o = quiet();
  o.stop_after_step = 100;
  train::run_train_guardrail(small(b), o);
  EXPECT_FALSE(stdfs::exists(b + "/classifier.safetensors"));
  o.stop_after_step = -1;
  o.resume = true;
  train::run_train_guardrail(small(b), o);
  const auto fa = model::safetensors::load(a + "/classifier.safetensors");
  const auto fb = model::safetensors::load(b + "/classifier.safetensors");
  for (const auto& [name, t] : fa.tensors) EXPECT_TRUE(torch::equal(t, fb.tensors.at(name))) << name;
  EXPECT_EQ(fs::read_file(a + "/metrics.jsonl").size() > 0, true);
}

TEST(GuardrailTrain, ConfigErrorsNameTheKey) {
  auto err = [](auto edit) {
    auto c = small(dir_for("bad"));
    edit(c);
    try {
      train::run_train_guardrail(c, quiet());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(err([](auto& c) { c.data.noise = 1.5; }).find("data.noise"), std::string::npos);
  EXPECT_NE(err([](auto& c) { c.calibration.target_recall = 0; }).find("calibration.target_recall"), std::string::npos);
  EXPECT_NE(err([](auto& c) { c.classifier.char_max = 1; }).find("char_min <= char_max"), std::string::npos);
  EXPECT_NE(err([](auto& c) { c.train.batch_size = 0; }).find("batch_size"), std::string::npos);
}
