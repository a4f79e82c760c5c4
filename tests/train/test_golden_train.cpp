// The training maths against the independent PyTorch twin (tests/golden/make_golden.py, fp64), the way
// llm.c's test_gpt2 checks its trainer: one SFT batch's loss and the gradient of every parameter (base
// model, then LoRA parameters with the adapter), a 5-step AdamW loss curve and the weights it ends at,
// the DPO-family losses and the RL loss (group-relative advantages, clipped surrogate, KL) on fixed
// inputs with their gradients w.r.t. the log-probs and their metrics. Each tensor is reported on its own
// line: name, max abs diff, tolerance. Reads tests/golden/tiny/{train.json, train_grads.safetensors};
// python is not needed here.
//
// Tolerances, per tensor, on its largest element difference: absolute for references up to 1 in size,
// relative above (tol * max(1, max |reference|)), as fp32 rounding scales with the value. The C++ runs in fp32 (unit roundoff
// 6e-8); the twin in fp64 on exactly the fp32 inputs, its results rounded once to fp32 (tensors) or to 10
// significant digits (train.json). What is left is fp32 rounding accumulated over the 2-layer forward and
// backward (dot products of 32 to 96 terms). Each bound is 20-100x the largest difference measured when
// it was set (in brackets), and far below what a wrong formula moves (a factor, a sign, a missing term or
// normalisation moves a value by its own size, 1e-2 .. 1):
//   SFT loss 1e-5 [1.4e-7]; every gradient, base and LoRA (|g| up to ~1) 1e-5 [4.5e-7].
//   AdamW: losses and grad norms 1e-5 [5.6e-7]; weights after 5 steps 1e-4 [4.6e-6]. Adam moves an
//   element by ~lr whatever its gradient's size, so fp32 rounding of a tiny gradient (|g| near eps)
//   shows in its update; 1e-4 leaves room for that, while a wrong bias correction, or decay on a norm
//   weight (lr * wd * |w| = 1e-3 a step), still fails.
//   DPO and RL losses, rewards, metrics 1e-5 [4.8e-7; ipo's loss of 25.8 is 1.3e-6]; their gradients 1e-6
//   [2.3e-8]; advantages from double rewards 1e-9 (the 10-digit rounding of train.json), 1e-5 when the
//   fp32 KL is shaped into the rewards [3.5e-9]; clip fraction 1e-9 (a ratio of token counts).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "model/checkpoint.hpp"
#include "model/llama.hpp"
#include "model/safetensors.hpp"
#include "train/dpo_loss.hpp"
#include "train/lm_loss.hpp"
#include "train/optim.hpp"
#include "train/rl_core.hpp"

using namespace srl;
using namespace srl::train;
using json = nlohmann::json;

namespace {

const std::string kDir = std::string(SRL_SOURCE_DIR) + "/tests/golden/tiny";

constexpr double kLossTol = 1e-5, kGradTol = 1e-5;
constexpr double kCurveTol = 1e-5, kStepWeightTol = 1e-4;
constexpr double kSmallTol = 1e-5, kSmallGradTol = 1e-6;

// The enum value a golden case names (its Python spelling is the config's).
template <class E, size_t N>
E named(const config::Names<E, N>& names, const std::string& text) {
  auto v = config::value_of(names, text);
  if (!v) throw std::runtime_error("golden file names an unknown value '" + text + "'");
  return *v;
}

const json& golden() {
  static const json j = json::parse(fs::read_file(kDir + "/train.json"));
  return j;
}

const std::map<std::string, torch::Tensor>& golden_tensors() {
  static const auto t = model::safetensors::load(kDir + "/train_grads.safetensors").tensors;
  return t;
}

// A (nested) JSON array of numbers as a double tensor of the same shape.
torch::Tensor from_json(const json& j) {
  std::vector<int64_t> shape;
  for (const json* p = &j; p->is_array(); p = &(*p)[0]) shape.push_back(static_cast<int64_t>(p->size()));
  std::vector<double> flat;
  std::function<void(const json&)> walk = [&](const json& x) {
    if (x.is_array())
      for (const auto& e : x) walk(e);
    else
      flat.push_back(x.get<double>());
  };
  walk(j);
  return torch::tensor(flat, torch::kDouble).view(shape);
}

torch::Tensor fp32(const json& j, bool grad = false) {
  return from_json(j).to(torch::kFloat).set_requires_grad(grad);
}

// llm.c-style report line, and a gtest failure naming the tensor when it is off. `tol` is absolute up to
// references of size 1 and relative above (see the top of the file).
void expect_close(const std::string& name, const torch::Tensor& got, const torch::Tensor& want, double tol_at_1) {
  if (!got.defined()) {
    ADD_FAILURE() << name << ": no value (gradient not computed?)";
    return;
  }
  ASSERT_EQ(got.sizes(), want.sizes()) << name;
  const auto ref = want.to(torch::kDouble);
  const double tol = tol_at_1 * std::max(1.0, ref.abs().max().item<double>());
  const double diff = (got.to(torch::kDouble) - ref).abs().max().item<double>();
  const bool ok = diff <= tol;  // false for NaN too
  std::printf("  %-62s max abs diff %.3e  tol %.1e  %s\n", name.c_str(), diff, tol, ok ? "OK" : "FAIL");
  EXPECT_TRUE(ok) << name << ": max abs diff " << diff << " exceeds tolerance " << tol;
}

void expect_close(const std::string& name, double got, double want, double tol) {
  expect_close(name, torch::tensor(got, torch::kDouble), torch::tensor(want, torch::kDouble), tol);
}

model::Llama load_tiny() {
  auto m = model::Llama(model::LlamaConfig::load(kDir + "/config.json"));
  m->load_base_tensors(model::safetensors::load(kDir + "/model.safetensors").tensors, kDir);
  m->train();
  return m;
}

// Only the optimizer's parameters require grad, as the trainers set them up.
std::vector<std::pair<std::string, torch::Tensor>> trainable(model::Llama& m) {
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  auto params = m->trainable_parameters();
  for (auto& [n, p] : params) p.set_requires_grad(true);
  return params;
}

struct SftBatch {
  std::vector<TokenExample> rows;
  int64_t pad = 0;
  double total_weight = 0;  // over targets (t >= 1), as the SFT trainer normalises
};

SftBatch sft_batch() {
  const auto& s = golden()["sft"];
  SftBatch b;
  b.pad = s["pad_id"].get<int64_t>();
  for (const auto& r : s["rows"]) {
    b.rows.push_back({r["ids"].get<std::vector<int>>(), r["weights"].get<std::vector<float>>()});
    for (size_t t = 1; t < b.rows.back().weights.size(); ++t) b.total_weight += b.rows.back().weights[t];
  }
  return b;
}

// The SFT trainer's loss: weighted NLL over the targets divided by the batch's total target weight.
torch::Tensor sft_loss(model::Llama& m, const SftBatch& b) {
  std::vector<const TokenExample*> ptrs;
  for (const auto& r : b.rows) ptrs.push_back(&r);
  auto [sum, w] = weighted_nll_sum(m, make_batch(ptrs, b.pad, torch::kCPU));
  EXPECT_DOUBLE_EQ(w, b.total_weight);
  return sum / b.total_weight;
}

// Every named tensor in `have` against golden "<prefix><name>", and no golden tensor left unmatched.
template <class GetValue>
void expect_tensors(const std::string& prefix, const std::map<std::string, torch::Tensor>& have, double tol,
                    GetValue value) {
  std::set<std::string> seen;
  for (const auto& [name, t] : have) {
    auto it = golden_tensors().find(prefix + name);
    if (it == golden_tensors().end()) {
      ADD_FAILURE() << "no golden tensor " << prefix << name;
      continue;
    }
    seen.insert(it->first);
    expect_close(prefix + name, value(t), it->second, tol);
  }
  for (const auto& [name, t] : golden_tensors())
    if (name.rfind(prefix, 0) == 0) EXPECT_TRUE(seen.count(name)) << "golden " << name << " has no parameter";
}

}  // namespace

TEST(GoldenTrain, SftLossAndEveryParameterGradientMatchPyTorch) {
  auto m = load_tiny();
  auto params = trainable(m);
  ASSERT_EQ(params.size(), m->base_tensors().size());  // full fine-tuning: every base tensor trains
  const auto b = sft_batch();
  auto loss = sft_loss(m, b);
  loss.backward();
  expect_close("sft loss", loss.item<double>(), golden()["sft"]["loss"].get<double>(), kLossTol);
  expect_tensors("grad.", m->base_tensors(), kGradTol, [](const torch::Tensor& p) { return p.grad(); });
}

TEST(GoldenTrain, SftLoraGradientsMatchPyTorch) {
  auto m = load_tiny();
  model::load_adapter(m, kDir);
  auto params = trainable(m);
  ASSERT_EQ(params.size(), m->lora_tensors().size());  // LoRA: the adapters train, the base is frozen
  auto loss = sft_loss(m, sft_batch());
  loss.backward();
  expect_close("sft loss with LoRA", loss.item<double>(), golden()["sft"]["loss_lora"].get<double>(), kLossTol);
  expect_tensors("grad_lora.", m->lora_tensors(), kGradTol, [](const torch::Tensor& p) { return p.grad(); });
  for (const auto& [name, p] : m->base_tensors()) EXPECT_FALSE(p.grad().defined()) << name;
}

TEST(GoldenTrain, AdamWLossCurveAndFinalWeightsMatchPyTorch) {
  const auto& a = golden()["sft"]["adamw"];
  auto m = load_tiny();
  auto params = trainable(m);
  AdamWOptions o;
  o.beta1 = a["beta1"].get<double>();
  o.beta2 = a["beta2"].get<double>();
  o.eps = a["eps"].get<double>();
  o.weight_decay = a["weight_decay"].get<double>();
  AdamW optim(params, o);
  const auto b = sft_batch();
  const int64_t steps = a["steps"].get<int64_t>();
  ASSERT_EQ(a["losses"].size(), static_cast<size_t>(steps));
  for (int64_t s = 0; s < steps; ++s) {  // the SFT trainer's step: loss, backward, clip, update
    optim.zero_grad();
    auto loss = sft_loss(m, b);
    loss.backward();
    const double gnorm = clip_grad_norm(params, a["max_grad_norm"].get<double>());
    optim.step(a["lr"].get<double>());
    const auto k = "step " + std::to_string(s + 1);
    expect_close(k + " loss", loss.item<double>(), a["losses"][s].get<double>(), kCurveTol);
    expect_close(k + " grad norm", gnorm, a["grad_norms"][s].get<double>(), kCurveTol);
  }
  torch::NoGradGuard ng;
  expect_close("loss after the last step", sft_loss(m, b).item<double>(), a["final_loss"].get<double>(), kCurveTol);
  expect_tensors("after_steps.", m->base_tensors(), kStepWeightTol, [](const torch::Tensor& p) { return p; });
}

TEST(GoldenTrain, DpoLossesGradientsAndMetricsMatchPyTorch) {
  const auto& in = golden()["dpo"]["inputs"];
  for (const auto& c : golden()["dpo"]["cases"]) {
    const std::string name = c["name"];
    DpoLossOptions o;
    o.loss_type = named(kDpoLossNames, c["loss_type"].get<std::string>());
    o.beta = c["beta"].get<double>();
    o.label_smoothing = c["label_smoothing"].get<double>();
    o.simpo_gamma = c["simpo_gamma"].get<double>();
    o.sft_weight = c["sft_weight"].get<double>();
    DpoBatchLogps b;
    b.policy_chosen = fp32(in["policy_chosen"], true);
    b.policy_rejected = fp32(in["policy_rejected"], true);
    if (o.loss_type != DpoLossType::Simpo) b.ref_chosen = fp32(in["ref_chosen"]), b.ref_rejected = fp32(in["ref_rejected"]);
    b.chosen_tokens = fp32(in["chosen_tokens"]);
    b.rejected_tokens = fp32(in["rejected_tokens"]);
    auto out = dpo_loss(b, o);
    out.loss.backward();
    const auto k = "dpo " + name + " ";
    expect_close(k + "loss", out.loss.item<double>(), c["loss"].get<double>(), kSmallTol);
    expect_close(k + "d loss / d policy_chosen", b.policy_chosen.grad(), from_json(c["grad_policy_chosen"]),
                 kSmallGradTol);
    expect_close(k + "d loss / d policy_rejected", b.policy_rejected.grad(), from_json(c["grad_policy_rejected"]),
                 kSmallGradTol);
    expect_close(k + "chosen_rewards", out.chosen_rewards, from_json(c["chosen_rewards"]), kSmallTol);
    expect_close(k + "rejected_rewards", out.rejected_rewards, from_json(c["rejected_rewards"]), kSmallTol);
    EXPECT_EQ(out.metrics.size(), c["metrics"].size()) << name;
    for (const auto& [key, want] : c["metrics"].items()) {
      auto it = out.metrics.find(key);
      if (it == out.metrics.end()) {
        ADD_FAILURE() << k << "metric " << key << " missing";
        continue;
      }
      expect_close(k + key, it->second, want.get<double>(), kSmallTol);
    }
  }
}

TEST(GoldenTrain, RlClippedGroupRelativeLossWithKlMatchesPyTorch) {
  const auto& in = golden()["rl"]["inputs"];
  const auto rewards = in["rewards"].get<std::vector<double>>();
  const int64_t G = in["group_size"].get<int64_t>();
  const auto mask = fp32(in["mask"]);  // (R, T)
  const auto old_lp = fp32(in["old_logp"]), ref_lp = fp32(in["ref_logp"]);
  for (const auto& c : golden()["rl"]["cases"]) {
    const std::string name = c["name"], mode = c["kl_mode"];
    const auto est = named(kKlEstimatorNames, c["kl_estimator"].get<std::string>());
    const double beta = c["kl_beta"].get<double>();
    const auto k = "rl " + name + " ";
    auto logp = fp32(in["logp"], true);  // (R, T), the current policy: what the gradient is taken of
    auto shaped = rewards;
    double adv_tol = 1e-9;
    if (mode == "reward") {  // KL shaped into the rewards, from the sampling policy (as the RL trainer)
      auto seq = masked_row_sum(kl_per_token(old_lp, ref_lp, est), mask).to(torch::kDouble).contiguous();
      expect_close(k + "sequence KL", seq, from_json(c["seq_kl"]), kSmallTol);
      shaped = shape_rewards_with_kl(rewards, std::vector<double>(seq.data_ptr<double>(),
                                                                  seq.data_ptr<double>() + seq.numel()), beta);
      adv_tol = kSmallTol;
    }
    AdvantageOptions ao;
    ao.std_normalize = c["std_normalize"].get<bool>();
    ao.leave_one_out = c["leave_one_out"].get<bool>();
    ao.eps = c["eps"].get<double>();
    const auto adv = group_advantages(shaped, G, ao);
    expect_close(k + "advantages", torch::tensor(adv, torch::kDouble), from_json(c["advantages"]), adv_tol);
    auto pl = clipped_policy_loss(logp, old_lp, torch::tensor(adv, torch::kDouble).to(torch::kFloat), mask,
                                  c["clip_eps"].get<double>());
    auto kl_mean = masked_token_mean(kl_per_token(logp, ref_lp, est), mask);
    auto loss = mode == "loss" ? pl.loss + beta * kl_mean : pl.loss;
    loss.backward();
    expect_close(k + "loss", loss.item<double>(), c["loss"].get<double>(), kSmallTol);
    expect_close(k + "policy loss", pl.loss.item<double>(), c["policy_loss"].get<double>(), kSmallTol);
    expect_close(k + "kl token-mean", kl_mean.item<double>(), c["kl_mean"].get<double>(), kSmallTol);
    expect_close(k + "d loss / d logp", logp.grad(), from_json(c["grad_logp"]), kSmallGradTol);
    expect_close(k + "clip_fraction", pl.clip_fraction, c["clip_fraction"].get<double>(), 1e-9);
    expect_close(k + "ratio_mean", pl.ratio_mean, c["ratio_mean"].get<double>(), kSmallTol);
    expect_close(k + "ratio_max", pl.ratio_max, c["ratio_max"].get<double>(), kSmallTol);
    expect_close(k + "approx_kl_old", pl.approx_kl_old, c["approx_kl_old"].get<double>(), kSmallTol);
  }
}
