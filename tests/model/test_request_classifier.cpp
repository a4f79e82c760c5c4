// The request classifier (model/request_classifier.hpp): the forward pass against a hand computation,
// gradients against central finite differences, calibrated probabilities and the flag rule, the file
// round trip (identical predictions) and one clear error per kind of broken file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/request_classifier.hpp"
#include "model/safetensors.hpp"

using namespace srl;
using model::RequestClassifier;
namespace stdfs = std::filesystem;

namespace {

RequestClassifier tiny() {
  torch::manual_seed(3);
  model::RequestClassifierShape s;
  s.features.buckets = 64;
  s.dim = 5;
  s.hidden = 4;
  return RequestClassifier(s, {{"refund_request", "order_status", "self_harm"}, {"none", "self_harm", "phishing"}});
}

std::string tmp(const std::string& name) {
  auto d = stdfs::temp_directory_path() / "srl_test_request_classifier";
  stdfs::create_directories(d);
  return (d / name).string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(RequestClassifier, ForwardIsTheMeanEmbeddingThroughReluAndTwoHeads) {
  auto c = tiny();
  auto p = c.named_parameters();
  auto W = [&](const char* n) {
    for (auto& [k, t] : p)
      if (k == n) return t.detach();
    return torch::Tensor();
  };
  const std::vector<int64_t> ids = {3, 9, 9, 40};
  auto x = (W("embedding")[3] + 2 * W("embedding")[9] + W("embedding")[40]) / 4;
  auto h = torch::relu(torch::mv(W("hidden.weight"), x) + W("hidden.bias"));
  auto l = c.forward({ids, {7}});
  EXPECT_TRUE(torch::allclose(l.intent[0], torch::mv(W("intent.weight"), h) + W("intent.bias"), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(l.risk[0], torch::mv(W("risk.weight"), h) + W("risk.bias"), 1e-6, 1e-6));
  EXPECT_EQ(l.intent.sizes().vec(), (std::vector<int64_t>{2, 3}));
}

TEST(RequestClassifier, GradientsMatchCentralFiniteDifferences) {
  auto c = tiny();
  for (auto& [name, t] : c.named_parameters()) t.set_data(t.detach().to(torch::kFloat64));  // exact enough for FD
  const std::vector<std::vector<int64_t>> feats = {{1, 2, 3}, {5, 5, 60}};
  auto loss_of = [&] {
    auto l = c.forward(feats);
    return (torch::log_softmax(l.intent, 1).select(1, 0).sum() + torch::log_softmax(l.risk, 1).select(1, 2).sum())
        ;
  };
  auto loss = loss_of();
  loss.backward();
  torch::NoGradGuard ng;
  for (auto& [name, t] : c.named_parameters()) {
    auto flat = t.view({-1});
    auto g = t.grad().view({-1});
    // the embedding rows that are used, and the first entries of every other tensor
    std::vector<int64_t> at = name == "embedding" ? std::vector<int64_t>{1 * 5, 5 * 5 + 2, 60 * 5 + 4} : std::vector<int64_t>{0, 1};
    for (auto k : at) {
      const double keep = flat[k].item<double>();
      const double eps = 1e-6;
      flat[k] = keep + eps;
      const double up = loss_of().item<double>();
      flat[k] = keep - eps;
      const double down = loss_of().item<double>();
      flat[k] = keep;
      EXPECT_NEAR(g[k].item<double>(), (up - down) / (2 * eps), 1e-6) << name << "[" << k << "]";
    }
  }
}

TEST(RequestClassifier, CalibratedProbabilitiesAndTheFlagRule) {
  auto c = tiny();
  auto p = c.predict("hello there");
  double si = 0, sr = 0;
  for (double x : p.intent_probs) si += x;
  for (double x : p.risk_probs) sr += x;
  EXPECT_NEAR(si, 1.0, 1e-6);  // softmax in fp32
  EXPECT_NEAR(sr, 1.0, 1e-6);
  EXPECT_NEAR(p.p_risk, 1.0 - p.risk_probs[0], 1e-12);
  EXPECT_EQ(p.risk, p.risk_probs[1] >= p.risk_probs[2] ? "self_harm" : "phishing");
  c.calibration().threshold = p.p_risk;  // exactly at the threshold: flagged
  EXPECT_TRUE(c.predict("hello there").flagged);
  c.calibration().threshold = std::nextafter(p.p_risk, 2.0);
  auto q = c.predict("hello there");
  EXPECT_FALSE(q.flagged);
  EXPECT_EQ(q.acted_risk(), "none");
  c.calibration().intent_temperature = 1e6;  // a huge temperature flattens the intent distribution
  EXPECT_NEAR(c.predict("hello there").intent_p, 1.0 / 3, 1e-4);
}

TEST(RequestClassifier, SaveLoadGivesIdenticalPredictions) {
  auto c = tiny();
  c.calibration() = {1.7, 0.8, 0.31, 0.98};
  const auto path = tmp("roundtrip.safetensors");
  c.save(path);
  auto d = RequestClassifier::load(path);
  EXPECT_EQ(d.labels().intents, c.labels().intents);
  EXPECT_EQ(d.calibration().threshold, 0.31);
  EXPECT_EQ(d.calibration().intent_temperature, 1.7);
  for (const char* text : {"where is my parcel", "i dont see the point anymore", ""}) {
    auto a = c.predict(text), b = d.predict(text);
    EXPECT_EQ(a.intent_probs, b.intent_probs);
    EXPECT_EQ(a.risk_probs, b.risk_probs);
  }
  EXPECT_EQ(model::resolve_classifier_file(stdfs::path(path).parent_path().string() + "/roundtrip.safetensors"), path);
}

TEST(RequestClassifier, BrokenFilesAreClearErrors) {
  auto c = tiny();
  const auto good = tmp("good.safetensors");
  c.save(good);
  auto file = model::safetensors::load(good);
  auto rewrite = [&](auto edit) {
    auto f = file;
    edit(f);
    const auto p = tmp("bad.safetensors");
    model::safetensors::save(p, f.tensors, f.metadata);
    return error_of([&] { RequestClassifier::load(p); });
  };
  EXPECT_NE(rewrite([](auto& f) { f.tensors.erase("risk.bias"); }).find("missing tensor \"risk.bias\""), std::string::npos);
  EXPECT_NE(rewrite([](auto& f) { f.tensors["hidden.bias"] = torch::zeros({3}); }).find("has shape [3], expected [4]"),
            std::string::npos);
  EXPECT_NE(rewrite([](auto& f) { f.metadata["threshold"] = "abc"; }).find("\"threshold\" is not a finite number"),
            std::string::npos);
  EXPECT_NE(rewrite([](auto& f) { f.metadata["risks"] = "[\"self_harm\",\"none\"]"; }).find("must start with \"none\""),
            std::string::npos);
  EXPECT_NE(rewrite([](auto& f) { f.metadata.erase("format"); }).find("not a request classifier file"), std::string::npos);
  EXPECT_NE(rewrite([](auto& f) { f.tensors["embedding"][0][0] = NAN; }).find("NaN or infinity"), std::string::npos);
  EXPECT_NE(error_of([] { model::resolve_classifier_file("/nonexistent/guardrail"); }).find("no such file"),
            std::string::npos);
  EXPECT_NE(error_of([] { model::resolve_classifier_file(stdfs::temp_directory_path().string()); })
                .find("not a guardrail run"),
            std::string::npos);
}
