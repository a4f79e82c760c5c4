#include "model/generate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.hpp"
#include "model/engine.hpp"
#include "text/chat_format.hpp"

namespace srl::model {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t stream_seed(uint64_t seed, uint64_t index) { return splitmix64(seed ^ splitmix64(index + 1)); }

void set_chat_stops(SamplingParams& p, const text::Tokenizer& tok) {
  p.stop_ids.clear();
  for (int id : text::stop_ids(tok)) p.stop_ids.push_back(id);
  p.vocab_limit = tok.vocab_size();
}

int64_t sample_token(const float* logits, int64_t V, const SamplingParams& p, double u, float* logprob) {
  const bool greedy = p.temperature <= 0.0;
  const double inv_t = greedy ? 1.0 : 1.0 / p.temperature;
  // Candidates are ids below vocab_limit; the log-prob is normalised over the whole output layer, as the
  // trainer's log_softmax is. log-sum-exp in double for a stable log-prob.
  const int64_t Vs = p.vocab_limit > 0 ? std::min(p.vocab_limit, V) : V;
  double mx = -INFINITY;
  for (int64_t i = 0; i < V; ++i) mx = std::max<double>(mx, logits[i]);
  int64_t arg = 0;
  for (int64_t i = 1; i < Vs; ++i)
    if (logits[i] > logits[arg]) arg = i;
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp((logits[i] - mx) * inv_t);
  const double lse = std::log(sum);
  auto lp = [&](int64_t i) { return static_cast<float>((logits[i] - mx) * inv_t - lse); };
  if (greedy) {
    *logprob = lp(arg);
    return arg;
  }
  // Candidates sorted by logit (descending, ties by lower id), cut by top-k then by top-p on the scaled
  // distribution; the draw runs over the kept ones in that order.
  int64_t keep = p.top_k > 0 && p.top_k < Vs ? p.top_k : Vs;
  std::vector<int64_t> idx;
  if (keep < Vs || p.top_p < 1.0) {
    // Only the head of the order matters. The ids at or above a logit floor are a head of it: the floor
    // drops until they hold the top_k or clearly more than top_p of the probability, so sorting just them
    // gives the cut that sorting the whole vocabulary gives (a few dozen ids instead of thousands).
    const double margin = 1e-6;  // against summing the mass in another order than the cut below
    for (double gap : {8.0, 16.0, 32.0, 64.0, static_cast<double>(INFINITY)}) {
      const double floor = mx - gap / inv_t;
      idx.clear();
      double mass = 0;
      for (int64_t i = 0; i < Vs; ++i)
        if (logits[i] >= floor) {
          idx.push_back(i);
          mass += std::exp(lp(i));
        }
      if (static_cast<int64_t>(idx.size()) >= keep || mass >= p.top_p + margin) break;
    }
    const auto by_logit = [&](int64_t a, int64_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    keep = std::min<int64_t>(keep, static_cast<int64_t>(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), by_logit);
    if (p.top_p < 1.0) {
      double cum = 0;
      int64_t n = 0;
      while (n < keep) {
        cum += std::exp(lp(idx[n]));
        ++n;
        if (cum >= p.top_p) break;
      }
      keep = std::max<int64_t>(n, 1);
    }
  } else {
    idx.resize(static_cast<size_t>(Vs));
    std::iota(idx.begin(), idx.end(), 0);
  }
  double total = 0;
  for (int64_t j = 0; j < keep; ++j) total += std::exp(lp(idx[j]));
  double target = u * total, acc = 0;
  int64_t pick = idx[keep - 1];
  for (int64_t j = 0; j < keep; ++j) {
    acc += std::exp(lp(idx[j]));
    if (acc > target) {
      pick = idx[j];
      break;
    }
  }
  *logprob = lp(pick);
  return pick;
}

std::vector<Generation> generate(Llama& model, const std::vector<std::vector<int64_t>>& prompts,
                                 const SamplingParams& params) {
  if (engine_enabled(model)) return generate_with_engine(model, prompts, params, engine_precision(model));
  return generate_torch(model, prompts, params);
}

std::vector<Generation> generate_torch(Llama& model, const std::vector<std::vector<int64_t>>& prompts,
                                       const SamplingParams& params) {
  const auto& cfg = model->config();
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<Generation> out(B);
  if (B == 0) return out;
  int64_t max_prompt = 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto& pr = prompts[b];
    const std::string where = "prompt " + std::to_string(b);
    if (pr.empty()) fail(where, "empty prompt");
    if (static_cast<int64_t>(pr.size()) >= cfg.max_position_embeddings)
      fail(where, "prompt of " + std::to_string(pr.size()) + " tokens leaves no room in the model's context of " +
                      std::to_string(cfg.max_position_embeddings));
    for (auto id : pr)
      if (id < 0 || id >= cfg.vocab_size)
        fail(where, "token id " + std::to_string(id) + " outside the vocabulary [0, " + std::to_string(cfg.vocab_size) + ")");
    max_prompt = std::max<int64_t>(max_prompt, static_cast<int64_t>(pr.size()));
  }
  if (params.max_new_tokens <= 0) {
    for (auto& g : out) g.finish_reason = "length";
    return out;
  }
  // Each row's own budget: its new tokens never push its positions past the context.
  std::vector<int64_t> budget(B);
  for (int64_t b = 0; b < B; ++b)
    budget[b] = std::min<int64_t>(params.max_new_tokens,
                                  cfg.max_position_embeddings - static_cast<int64_t>(prompts[b].size()));
  const int64_t steps = *std::max_element(budget.begin(), budget.end());

  c10::InferenceMode guard;
  auto device = model->parameters().front().device();
  auto dtype = model->parameters().front().scalar_type();
  const int64_t capacity = max_prompt + steps;
  KVCache cache = KVCache::allocate(cfg, B, capacity, dtype, device);

  // Left-pad to the longest prompt; positions restart at 0 on each row's first real token.
  auto ids = torch::zeros({B, max_prompt}, torch::kLong);
  auto pos = torch::zeros({B, max_prompt}, torch::kLong);
  auto valid = torch::ones({B, capacity}, torch::kBool);
  std::vector<int64_t> next_pos(B);
  {
    auto ia = ids.accessor<int64_t, 2>();
    auto pa = pos.accessor<int64_t, 2>();
    auto va = valid.accessor<bool, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t L = static_cast<int64_t>(prompts[b].size()), pad = max_prompt - L;
      for (int64_t j = 0; j < pad; ++j) va[b][j] = false;
      for (int64_t j = 0; j < L; ++j) {
        ia[b][pad + j] = prompts[b][j];
        pa[b][pad + j] = j;
      }
      next_pos[b] = L;
      if (pad > 0) cache.has_padding = true;
    }
  }
  cache.key_valid.copy_(valid);

  std::vector<std::mt19937_64> rngs;
  for (int64_t b = 0; b < B; ++b) rngs.emplace_back(stream_seed(params.seed, static_cast<uint64_t>(b)));
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::vector<bool> done(B, false);

  auto hidden = model->forward(ids.to(device), pos.to(device), &cache);
  auto logits = model->logits(hidden.select(1, max_prompt - 1)).to(torch::kFloat).to(torch::kCPU).contiguous();
  auto step_ids = torch::zeros({B, 1}, torch::kLong);
  auto step_pos = torch::zeros({B, 1}, torch::kLong);
  int64_t* sid = step_ids.data_ptr<int64_t>();
  int64_t* spos = step_pos.data_ptr<int64_t>();
  const int64_t V = cfg.vocab_size;
  for (int64_t t = 0; t < steps; ++t) {
    const float* L = logits.data_ptr<float>();
    int64_t live = 0;
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      float lp = 0;
      const double u = unif(rngs[b]);
      int64_t tok = sample_token(L + b * V, V, params, u, &lp);
      if (!std::isfinite(lp)) fail_internal("generate", "non-finite log-prob while sampling (NaN in the model?)");
      out[b].tokens.push_back(tok);
      out[b].logprobs.push_back(lp);
      if (std::find(params.stop_ids.begin(), params.stop_ids.end(), tok) != params.stop_ids.end()) {
        done[b] = true;
        out[b].finish_reason = "stop";
      } else if (static_cast<int64_t>(out[b].tokens.size()) >= budget[b]) {
        done[b] = true;
        out[b].finish_reason = "length";
      }
      sid[b] = tok;
      // Finished rows keep decoding harmlessly (outputs ignored) so the batch stays rectangular.
      spos[b] = std::min<int64_t>(next_pos[b]++, cfg.max_position_embeddings - 1);
      if (!done[b]) ++live;
    }
    if (live == 0 || t + 1 == steps) break;
    hidden = model->forward(step_ids.to(device), step_pos.to(device), &cache);
    logits = model->logits(hidden.select(1, 0)).to(torch::kFloat).to(torch::kCPU).contiguous();
  }
  for (auto& g : out)
    if (g.finish_reason.empty()) g.finish_reason = "length";
  return out;
}

}  // namespace srl::model
