// `supportrl bench MODE`: the same workloads, flags and JSON keys as shared/bench/pytorch_reference.py, so
// bench/compare.sh can run both in one go and print ratios. A benchmark, never a test.
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <thread>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "model/generate.hpp"
#include "model/kernels.hpp"
#include "train/compute.hpp"
#include "train/dpo_loss.hpp"
#include "train/lm_loss.hpp"
#include "train/optim.hpp"
#include "train/sequence_logps.hpp"

namespace srl::cli {

namespace {

struct BenchFlags {
  std::string mode, preset = "small", dtype = "bf16";
  int64_t pairs = 8, batch = 8, seq = 256, prompt = 96, new_tokens = 128, steps = 3;
  int64_t threads = std::thread::hardware_concurrency();
  std::string profile;  // chrome-trace file of the timed steps (libtorch's legacy profiler)
  int64_t lora = 0;     // dpo-step/rm-step: LoRA rank (0 = all weights, as the peer trains)
  int64_t size = 2048;  // matmul: square size
};

std::string g_profile;

// Mean seconds per call over `steps` calls after one warm-up, profiled when --profile is given.
template <class F>
double timed(F&& fn, int64_t steps) {
  fn();  // warm-up
  std::unique_ptr<torch::autograd::profiler::RecordProfile> prof;
  if (!g_profile.empty()) prof = std::make_unique<torch::autograd::profiler::RecordProfile>(g_profile);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(steps);
}

// The fastest of `reps` calls, in seconds (no warm-up: the caller does its own).
template <class F>
double best_seconds(int64_t reps, F&& fn) {
  double best = 1e30;
  for (int64_t i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

double round_to(double v, int digits) {
  double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

// The keys every training-step bench reports for `toks` tokens a step taking `dt` seconds.
nlohmann::json step_rates(int64_t toks, double dt, const model::LlamaConfig& cfg) {
  return {{"tokens_per_step", toks},
          {"s", round_to(dt, 4)},
          {"tokens_per_s", round_to(static_cast<double>(toks) / dt, 1)},
          {"model_gflops_per_s",
           round_to(6.0 * static_cast<double>(cfg.num_parameters()) * static_cast<double>(toks) / dt / 1e9, 1)}};
}

// generate: the peer's greedy decode of `batch` distinct prompts. rollouts: the RL workload on the same
// number of sequences, batch/4 prompts x 4 rollouts each, sampled at temperature 1 with every token's
// log-prob recorded (generate always records them); compared against the peer's `generate`.
nlohmann::json bench_generate(const BenchFlags& f, model::Llama& m, const model::LlamaConfig& cfg, bool bf16) {
  const bool rollouts = f.mode == "rollouts";
  if (rollouts && f.batch % 4 != 0) fail("--batch", "rollouts: must be a multiple of 4 (prompts x 4 rollouts)");
  m->eval();
  if (bf16) m->to(torch::kBFloat16);  // inference runs on bf16 weights, cast once
  const int64_t distinct = rollouts ? f.batch / 4 : f.batch;
  auto ids = torch::randint(0, cfg.vocab_size, {distinct, f.prompt}, torch::kLong);
  std::vector<std::vector<int64_t>> prompts(f.batch);
  for (int64_t b = 0; b < f.batch; ++b)
    for (int64_t t = 0; t < f.prompt; ++t) prompts[b].push_back(ids[rollouts ? b / 4 : b][t].item<int64_t>());
  model::SamplingParams p;
  p.temperature = rollouts ? 1.0 : 0.0;
  p.max_new_tokens = f.new_tokens;
  int64_t generated = 0;
  double dt = timed(
      [&] {
        generated = 0;
        for (const auto& g : model::generate(m, prompts, p)) generated += static_cast<int64_t>(g.tokens.size());
      },
      f.steps);
  nlohmann::json out = {{"batch", f.batch}, {"prompt", f.prompt}, {"new", f.new_tokens}, {"s", round_to(dt, 4)},
                        {"gen_tokens_per_s", round_to(static_cast<double>(generated) / dt, 1)}};
  if (rollouts) out.update({{"prompts", distinct}, {"rollouts_per_prompt", 4}, {"temperature", 1.0}});
  return out;
}

// One SFT step (weighted NLL + AdamW) on `batch` random rows whose first `prompt` tokens carry no loss.
nlohmann::json bench_sft_step(const BenchFlags& f, model::Llama& m, const model::LlamaConfig& cfg, bool bf16) {
  m->train();
  auto params = m->trainable_parameters();
  train::AdamW opt(params, {});
  std::vector<train::TokenExample> rows(f.batch);
  auto ids = torch::randint(0, cfg.vocab_size, {f.batch, f.seq}, torch::kLong);
  for (int64_t b = 0; b < f.batch; ++b)
    for (int64_t t = 0; t < f.seq; ++t) {
      rows[b].ids.push_back(static_cast<int>(ids[b][t].item<int64_t>()));
      rows[b].weights.push_back(t >= f.prompt ? 1.0f : 0.0f);
    }
  std::vector<const train::TokenExample*> ptrs;
  for (auto& r : rows) ptrs.push_back(&r);
  auto batch = train::make_batch(ptrs, 0, torch::kCPU);
  double dt = timed(
      [&] {
        opt.zero_grad();
        torch::Tensor loss;
        {
          train::AutocastGuard ac(bf16, torch::kCPU);
          auto [s, w] = train::weighted_nll_sum(m, batch);
          loss = s / w;
        }
        loss.backward();
        opt.step(1e-5);
      },
      f.steps);
  nlohmann::json out = {{"batch", f.batch}, {"seq", f.seq}, {"prompt", f.prompt}};
  out.update(step_rates(f.batch * f.seq, dt, cfg));
  return out;
}

// `pairs` pairs of random rows of `seq` tokens sharing their first `prompt` tokens (rows 0..pairs-1 give the
// prompts and chosen responses, rows pairs..2*pairs-1 the rejected ones).
train::PairedSequences random_pairs(const BenchFlags& f, const model::LlamaConfig& cfg) {
  auto ids = torch::randint(0, cfg.vocab_size, {2 * f.pairs, f.seq}, torch::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  train::PairedSequences b;
  for (int64_t i = 0; i < f.pairs; ++i) {
    std::vector<int64_t> p, c, r;
    for (int64_t t = 0; t < f.seq; ++t) (t < f.prompt ? p : c).push_back(ia[i][t]);
    for (int64_t t = f.prompt; t < f.seq; ++t) r.push_back(ia[f.pairs + i][t]);
    b.prompts.push_back(p);
    b.chosen.push_back(c);
    b.rejected.push_back(r);
  }
  return b;
}

// Seconds per DPO step: the reference log-probs (adapters off) once, then policy log-probs, loss, AdamW.
double time_dpo_step(const BenchFlags& f, model::Llama& m, std::vector<std::pair<std::string, torch::Tensor>> params,
                     const train::PairedSequences& b, bool bf16) {
  train::AdamW opt(params, train::AdamWOptions{});
  train::DpoBatchLogps lp;
  {
    torch::NoGradGuard ng;
    train::AutocastGuard ac(bf16, torch::kCPU);
    model::AdapterGuard off(m, false);  // the reference: adapters off (no-op without LoRA)
    auto ref = train::sequence_logps(m, b);
    lp.ref_chosen = ref.chosen;
    lp.ref_rejected = ref.rejected;
  }
  return timed(
      [&] {
        opt.zero_grad();
        torch::Tensor loss;
        {
          train::AutocastGuard ac(bf16, torch::kCPU);
          auto s = train::sequence_logps(m, b);
          lp.policy_chosen = s.chosen;
          lp.policy_rejected = s.rejected;
          loss = train::dpo_loss(lp, {}).loss;
        }
        loss.backward();
        opt.step(1e-5);
      },
      f.steps);
}

// Seconds per reward-model step: a scalar head on the last token's hidden state, Bradley-Terry loss, AdamW.
double time_rm_step(const BenchFlags& f, model::Llama& m, const model::LlamaConfig& cfg,
                    std::vector<std::pair<std::string, torch::Tensor>> params, const train::PairedSequences& b,
                    bool bf16) {
  torch::nn::Linear head(cfg.hidden_size, 1);
  params.emplace_back("score.weight", head->weight);
  params.emplace_back("score.bias", head->bias);
  train::AdamW opt(params, train::AdamWOptions{});
  return timed(
      [&] {
        opt.zero_grad();
        torch::Tensor loss;
        {
          train::AutocastGuard ac(bf16, torch::kCPU);
          auto r = head(train::last_token_hidden(m, b)).to(torch::kFloat).squeeze(-1);
          loss = -torch::log_sigmoid(r.narrow(0, 0, f.pairs) - r.narrow(0, f.pairs, f.pairs)).mean();
        }
        loss.backward();
        opt.step(1e-5);
      },
      f.steps);
}

// The peer's workload: `pairs` pairs of rows of `seq` tokens whose first `prompt` tokens are shared.
// Here each prompt runs once for both responses (prefix sharing) and, for DPO, only response
// positions reach the output projection; tokens_per_s counts the same 2*pairs*seq tokens as the peer.
nlohmann::json bench_pair_step(const BenchFlags& f, model::Llama& m, const model::LlamaConfig& cfg, bool bf16) {
  if (f.pairs < 1 || f.prompt >= f.seq) fail("bench", "--pairs must be positive and --prompt shorter than --seq");
  m->train();
  if (f.lora > 0) {
    model::LoraConfig lc;
    lc.r = f.lora;
    lc.alpha = 2.0 * static_cast<double>(f.lora);
    m->add_lora(lc);
  }
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  auto params = m->trainable_parameters();
  for (auto& [n, p] : params) p.set_requires_grad(true);
  const auto b = random_pairs(f, cfg);
  const double dt =
      f.mode == "dpo-step" ? time_dpo_step(f, m, params, b, bf16) : time_rm_step(f, m, cfg, params, b, bf16);
  nlohmann::json out = {{"pairs", f.pairs}, {"seq", f.seq}, {"prompt", f.prompt}, {"lora", f.lora}};
  out.update(step_rates(2 * f.pairs * f.seq, dt, cfg));
  return out;
}

// The machine's matmul peak in this dtype: one square product, best of `steps` (at least 5).
nlohmann::json bench_matmul(const BenchFlags& f, bool bf16) {
  const auto dt_ = bf16 ? torch::kBFloat16 : torch::kFloat;
  auto a = torch::randn({f.size, f.size}).to(dt_), b2 = torch::randn({f.size, f.size}).to(dt_);
  torch::mm(a, b2);
  const double best = best_seconds(std::max<int64_t>(f.steps, 5), [&] { auto c = torch::mm(a, b2); });
  const double n = static_cast<double>(f.size);
  return {{"size", f.size}, {"s", round_to(best, 5)}, {"matmul_gflops_per_s", round_to(2 * n * n * n / best / 1e9, 1)}};
}

// Memory read bandwidth in GB/s: the best of three sums over 512 MB, far beyond the caches.
double read_gb_per_s() {
  auto big = torch::ones({128 * 1024 * 1024});
  const double best = best_seconds(3, [&] {
    volatile float sink = big.sum().item<float>();
    (void)sink;
  });
  return static_cast<double>(big.numel()) * 4.0 / best / 1e9;
}

// GFLOP/s of the engine's packed kernels (bf16 and fp32 weights, 1 and `threads` threads) and of libtorch
// (oneDNN for bf16) on one in-cache product: 64 rows x 2048 x 512.
nlohmann::json matmul_peaks(int64_t threads_flag) {
  const int64_t rows = 64, out_dim = 2048, in_dim = 512;
  const double flops = 2.0 * rows * out_dim * in_dim;
  auto W = torch::randn({out_dim, in_dim}), X = torch::randn({rows, in_dim});
  auto Y = torch::zeros({rows, out_dim});
  nlohmann::json peaks;
  for (auto type : {model::kern::WType::bf16, model::kern::WType::f32}) {
    auto P = model::kern::pack(W.data_ptr<float>(), out_dim, in_dim, type);
    std::vector<uint16_t> xb(static_cast<size_t>(rows * P.in_padded));
    model::kern::to_bf16_rows(X.data_ptr<float>(), in_dim, rows, in_dim, P.in_padded, xb.data());
    for (int threads : {1, static_cast<int>(threads_flag)}) {
      auto run = [&] {
        at::parallel_for(0, P.panels, P.panels / threads, [&](int64_t p0, int64_t p1) {
          model::kern::matmul(P, X.data_ptr<float>(), in_dim, xb.data(), rows, Y.data_ptr<float>(), out_dim, false, p0, p1);
        });
      };
      run();
      const double best = best_seconds(20, run);
      const std::string key = std::string(type == model::kern::WType::bf16 ? "bf16" : "fp32") + "_matmul_gflops_per_s_" +
                              std::to_string(threads) + "t";
      peaks[key] = round_to(flops / best / 1e9, 1);
    }
  }
  auto Xb = X.to(torch::kBFloat16), Wb = W.to(torch::kBFloat16);
  for (bool half : {true, false}) {
    auto a = half ? Xb : X, b = half ? Wb : W;
    torch::matmul(a, b.t());
    const double best = best_seconds(20, [&] { auto r = torch::matmul(a, b.t()); });
    const std::string key =
        std::string("libtorch_") + (half ? "bf16" : "fp32") + "_matmul_gflops_per_s_" + std::to_string(threads_flag) + "t";
    peaks[key] = round_to(flops / best / 1e9, 1);
  }
  return peaks;
}

// The two ceilings of decoding: memory read bandwidth and the engine's packed matmul peak, next to the
// model's bytes and FLOPs per token. docs/PERFORMANCE.md turns them into bounds.
nlohmann::json bench_roofline(const BenchFlags& f, const model::LlamaConfig& cfg) {
  const double gbps = read_gb_per_s();
  const auto peaks = matmul_peaks(f.threads);
  const double params = static_cast<double>(cfg.num_parameters());  // tied output = the embedding
  nlohmann::json out = {{"read_gb_per_s", round_to(gbps, 1)}, {"kernels", model::kern::implementation()},
                        {"weight_mb_bf16", round_to(params * 2 / 1e6, 1)}, {"flops_per_token", round_to(2 * params, 0)}};
  out.update(peaks);
  return out;
}

void run_bench(const BenchFlags& f) {
  if (f.steps < 1) fail("--steps", "must be at least 1");
  if (f.batch < 1 || f.seq < 2 || f.prompt < 1 || f.new_tokens < 1) fail("bench", "sizes must be positive");
  if (f.prompt >= f.seq && f.mode == "sft-step") fail("--prompt", "must be shorter than --seq");
  torch::set_num_threads(static_cast<int>(f.threads));
  torch::manual_seed(0);
  auto cfg = model::LlamaConfig::preset(f.preset);
  model::Llama m(cfg);
  m->init_weights(0);
  const bool bf16 = f.dtype == "bf16";
  nlohmann::json out = {{"mode", f.mode}, {"preset", f.preset}, {"params", cfg.num_parameters()},
                        {"dtype", f.dtype}, {"threads", f.threads}, {"impl", "supportrl"}};
  if (f.mode == "generate" || f.mode == "rollouts") out.update(bench_generate(f, m, cfg, bf16));
  else if (f.mode == "sft-step") out.update(bench_sft_step(f, m, cfg, bf16));
  else if (f.mode == "dpo-step" || f.mode == "rm-step") out.update(bench_pair_step(f, m, cfg, bf16));
  else if (f.mode == "matmul") out.update(bench_matmul(f, bf16));
  else if (f.mode == "roofline") out.update(bench_roofline(f, cfg));
  else fail("bench", "unknown mode '" + f.mode + "'");
  std::cout << out.dump() << "\n";
}

}  // namespace

void register_bench(CLI::App& app) {
  auto* c = app.add_subcommand("bench", "Benchmarks with the PyTorch peer's flags and JSON keys");
  static BenchFlags f;
  c->add_option("mode", f.mode, "sft-step | dpo-step | rm-step | generate | rollouts | matmul | roofline")
      ->required()
      ->check(CLI::IsMember({"sft-step", "dpo-step", "rm-step", "generate", "rollouts", "matmul", "roofline"}));
  c->add_option("--preset", f.preset)->check(CLI::IsMember({"tiny", "small", "base"}))->capture_default_str();
  c->add_option("--pairs", f.pairs)->capture_default_str();
  c->add_option("--batch", f.batch)->capture_default_str();
  c->add_option("--seq", f.seq)->capture_default_str();
  c->add_option("--prompt", f.prompt)->capture_default_str();
  c->add_option("--new", f.new_tokens)->capture_default_str();
  c->add_option("--dtype", f.dtype)->check(CLI::IsMember({"fp32", "bf16"}))->capture_default_str();
  c->add_option("--steps", f.steps)->capture_default_str();
  c->add_option("--threads", f.threads)->capture_default_str();
  c->add_option("--lora", f.lora, "dpo-step/rm-step: LoRA rank (0 = train all weights, as the peer)")->capture_default_str();
  c->add_option("--size", f.size, "matmul: square matrix size")->capture_default_str();
  c->add_option("--profile", f.profile, "write a chrome trace of the timed steps to this file");
  c->callback([] {
    g_profile = f.profile;
    run_bench(f);
  });
}

}  // namespace srl::cli
