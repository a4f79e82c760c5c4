// DecodeEngine: sequences queue, join free slots, run a step at a time and leave when they finish. What
// a step does is split by concern: engine_plan (which rows run, the team's shares), engine_forward (the
// layers), engine_slots (the KV cache table, prefix sharing), sampling (the draw and the finish rules);
// engine_weights packs the model.
#include "model/engine.hpp"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>

#include "core/error.hpp"
#include "model/engine_forward.hpp"
#include "model/engine_plan.hpp"
#include "model/engine_slots.hpp"
#include "model/engine_weights.hpp"
#include "model/sampling.hpp"

namespace srl::model {

namespace {

using Clock = EngineProfile::Clock;

// Sequences sample across threads when there is enough work.
template <class F>
void for_rows(int64_t n, double per_row, F&& fn) {
  if (static_cast<double>(n) * per_row < kSplitElements || at::get_num_threads() < 2)
    fn(int64_t{0}, n);
  else
    at::parallel_for(0, n, 1, fn);
}

}  // namespace

struct DecodeEngine::Impl {
  std::shared_ptr<const EngineWeights> w;
  int64_t capacity;
  EngineSlots slots;
  std::map<int64_t, EngineSeq> seqs;
  std::deque<int64_t> queue;     // submitted, waiting for a slot
  std::vector<int64_t> running;  // holding a slot, in join order
  int64_t next_id = 0;
  StepBuffers buf;
  EngineProfile prof;

  Impl(std::shared_ptr<const EngineWeights> weights, int64_t n, int64_t cap)
      : w(check(std::move(weights), n, cap)),
        capacity(cap),
        slots(w->cfg, n, cap, w->precision == EnginePrecision::bf16) {}

  ~Impl() {
    if (!std::getenv("SRL_ENGINE_PROFILE") || prof.steps == 0) return;
    std::fprintf(stderr, "engine: %lld steps, %lld rows, %.1f ms: matmul %.1f, attention %.1f, sampling %.1f, other %.1f\n",
                 static_cast<long long>(prof.steps), static_cast<long long>(prof.rows), 1e3 * prof.total,
                 1e3 * prof.matmul, 1e3 * prof.attention, 1e3 * prof.sample,
                 1e3 * (prof.total - prof.matmul - prof.attention - prof.sample));
    std::fprintf(stderr, "engine: %s\n", w->describe_storage().c_str());
  }

  static std::shared_ptr<const EngineWeights> check(std::shared_ptr<const EngineWeights> weights, int64_t n, int64_t cap) {
    const auto& c = weights->cfg;
    if (n < 1) fail("engine", "max_sequences must be at least 1");
    if (cap < 1 || cap > c.max_position_embeddings)
      fail("engine", "capacity " + std::to_string(cap) + " outside [1, " + std::to_string(c.max_position_embeddings) + "]");
    return weights;
  }

  // Queued sequences take free slots.
  void join() {
    while (!queue.empty() && slots.has_free()) {
      slots.join(seqs.at(queue.front()).kv);
      running.push_back(queue.front());
      queue.pop_front();
    }
  }

  // Every running sequence draws its next token from its logits row (S, V).
  void sample(const std::vector<EngineSeq*>& live, const float* logits) {
    const int64_t V = w->cfg.vocab_size;
    for_rows(static_cast<int64_t>(live.size()), static_cast<double>(V), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        auto& s = *live[i];
        const auto t = sample_row(logits + i * V, V, s.params, s.rng);
        s.out.add(t.token, t.logprob, s.params);
      }
    });
  }

  // Finished sequences free their slots.
  void leave() {
    std::vector<int64_t> still;
    for (auto id : running) {
      auto& s = seqs.at(id);
      if (s.out.done)
        slots.leave(s.kv);
      else
        still.push_back(id);
    }
    running.swap(still);
  }

  std::vector<int64_t> step();
};

std::vector<int64_t> DecodeEngine::Impl::step() {
  join();
  std::vector<int64_t> finished;
  if (running.empty()) return finished;
  const auto t_step = Clock::now();
  std::vector<EngineSeq*> live;  // running sequences, looked up once per step
  for (auto id : running) live.push_back(&seqs.at(id));
  const StepPlan plan = plan_step(live, w->cfg.num_key_value_heads, w->macs_per_row);
  buf.grow(w->cfg, plan, slots.capacity_stored());
  forward_step(*w, slots, plan, buf, prof);
  for (auto [f, lead] : plan.followers)
    slots.share_prefix(live[f]->kv, live[lead]->kv.slot, static_cast<int64_t>(live[f]->prompt.size()));

  const auto ts = Clock::now();
  sample(live, buf.logits.data());
  for (size_t i = 0; i < live.size(); ++i) {
    auto& s = *live[i];
    s.kv.cached = s.kv.cached == 0 ? static_cast<int64_t>(s.prompt.size()) : s.kv.cached + 1;
    if (s.out.done) finished.push_back(running[i]);
  }
  prof.sample += EngineProfile::since(ts);
  leave();
  prof.total += EngineProfile::since(t_step);
  ++prof.steps;
  prof.rows += plan.N();
  return finished;
}

DecodeEngine::DecodeEngine(std::shared_ptr<const EngineWeights> weights, int64_t max_sequences, int64_t capacity)
    : impl_(std::make_unique<Impl>(std::move(weights), max_sequences, capacity)) {}

DecodeEngine::~DecodeEngine() = default;

int64_t DecodeEngine::submit(const std::vector<int64_t>& prompt, const SamplingParams& params, uint64_t stream) {
  auto& I = *impl_;
  const auto& c = I.w->cfg;
  const int64_t id = I.next_id++;
  const int64_t room = std::min(I.capacity, c.max_position_embeddings);
  check_prompt("prompt " + std::to_string(stream), prompt, room, c);
  EngineSeq s;
  s.prompt = prompt;
  s.params = params;
  s.rng.seed(stream_seed(params.seed, stream));
  s.out = SequenceOutput(params, static_cast<int64_t>(prompt.size()), room);
  const bool queued = !s.out.done;
  I.seqs.emplace(id, std::move(s));
  if (queued) I.queue.push_back(id);
  return id;
}

bool DecodeEngine::busy() const { return !impl_->queue.empty() || !impl_->running.empty(); }

bool DecodeEngine::finished(int64_t id) const {
  auto it = impl_->seqs.find(id);
  return it != impl_->seqs.end() && it->second.out.done;
}

Generation DecodeEngine::take(int64_t id) {
  auto it = impl_->seqs.find(id);
  if (it == impl_->seqs.end() || !it->second.out.done) fail_internal("engine", "take() of an unknown or running sequence");
  Generation g = std::move(it->second.out.gen);
  impl_->seqs.erase(it);
  return g;
}

std::vector<int64_t> DecodeEngine::step() { return impl_->step(); }

// ---- generate() on the engine ----------------------------------------------------------------------------

bool engine_enabled(Llama& model) {
  static const bool off = [] {
    const char* e = std::getenv("SRL_ENGINE");
    return e && std::string(e) == "torch";
  }();
  if (off) return false;
  const auto p = model->parameters();
  return !p.empty() && p.front().device().is_cpu();
}

EnginePrecision engine_precision(Llama& model) {
  const auto dtype = model->parameters().front().scalar_type();
  if (dtype == torch::kBFloat16) return EnginePrecision::bf16;
  if (at::autocast::is_cpu_enabled() && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16) return EnginePrecision::bf16;
  return EnginePrecision::f32;
}

std::vector<Generation> generate_with_engine(Llama& model, const std::vector<std::vector<int64_t>>& prompts,
                                             const SamplingParams& params, EnginePrecision precision) {
  std::vector<Generation> out(prompts.size());
  if (prompts.empty()) return out;
  const auto& c = model->config();
  int64_t capacity = 1;
  for (const auto& p : prompts)
    capacity = std::max<int64_t>(capacity, static_cast<int64_t>(p.size()) + std::max<int64_t>(params.max_new_tokens, 1));
  capacity = std::min(capacity, c.max_position_embeddings);
  DecodeEngine engine(engine_weights(model, precision), static_cast<int64_t>(prompts.size()), capacity);
  std::vector<int64_t> ids;
  for (size_t b = 0; b < prompts.size(); ++b) ids.push_back(engine.submit(prompts[b], params, b));
  while (engine.busy()) engine.step();
  for (size_t b = 0; b < prompts.size(); ++b) out[b] = engine.take(ids[b]);
  return out;
}

}  // namespace srl::model
