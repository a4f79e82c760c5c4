#include "model/generate.hpp"

#include <algorithm>
#include <random>

#include "core/error.hpp"
#include "model/engine.hpp"
#include "model/sampling.hpp"
#include "text/chat_format.hpp"

namespace srl::model {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Every row ends by its budget (steps is the largest), so each has its finish reason.
std::vector<Generation> finish(std::vector<SequenceOutput>& rows) {
  std::vector<Generation> out;
  for (auto& r : rows) out.push_back(std::move(r.gen));
  return out;
}

}  // namespace

uint64_t stream_seed(uint64_t seed, uint64_t index) { return splitmix64(seed ^ splitmix64(index + 1)); }

void set_chat_stops(SamplingParams& p, const text::Tokenizer& tok) {
  p.stop_ids.clear();
  for (int id : text::stop_ids(tok)) p.stop_ids.push_back(id);
  p.vocab_limit = tok.vocab_size();
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
  if (B == 0) return {};
  int64_t max_prompt = 0;
  for (int64_t b = 0; b < B; ++b) {
    check_prompt("prompt " + std::to_string(b), prompts[b], cfg.max_position_embeddings, cfg);
    max_prompt = std::max<int64_t>(max_prompt, static_cast<int64_t>(prompts[b].size()));
  }
  // Each row's own budget: its new tokens never push its positions past the context.
  std::vector<SequenceOutput> rows;
  int64_t steps = 0;
  for (const auto& pr : prompts) {
    rows.emplace_back(params, static_cast<int64_t>(pr.size()), cfg.max_position_embeddings);
    steps = std::max(steps, rows.back().budget);
  }
  if (steps <= 0) return finish(rows);

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
      auto& row = rows[b];
      if (row.done) continue;
      float lp = 0;
      const double u = unif(rngs[b]);
      int64_t tok = sample_token(L + b * V, V, params, u, &lp);
      row.add(tok, lp, params);
      sid[b] = tok;
      // Finished rows keep decoding harmlessly (outputs ignored) so the batch stays rectangular.
      spos[b] = std::min<int64_t>(next_pos[b]++, cfg.max_position_embeddings - 1);
      if (!row.done) ++live;
    }
    if (live == 0 || t + 1 == steps) break;
    hidden = model->forward(step_ids.to(device), step_pos.to(device), &cache);
    logits = model->logits(hidden.select(1, 0)).to(torch::kFloat).to(torch::kCPU).contiguous();
  }
  return finish(rows);
}

}  // namespace srl::model
