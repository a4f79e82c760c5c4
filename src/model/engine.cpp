#include "model/engine.hpp"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "model/kernels.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace srl::model {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<float> to_floats(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

kern::PackedMatrix pack_tensor(const torch::Tensor& w, EnginePrecision p) {
  auto c = w.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  return kern::pack(c.data_ptr<float>(), c.size(0), c.size(1),
                    p == EnginePrecision::bf16 ? kern::WType::bf16 : kern::WType::f32);
}

// A step runs on one team of threads (below) when it has at least this many multiply-adds; smaller
// steps (the tiny preset's decode) run on one thread, where even the barriers would cost more than the work.
constexpr double kTeamMacs = 1.0e6;
// Elementwise work that feeds a product (a norm, SiLU·up) is split across the team above this many
// elements, with a barrier after it; below, every thread computes all of it into its own buffer and
// needs no barrier. Sampling is split across threads above it.
constexpr double kSplitElements = 1.6e4;

// The threads of one step. A single OpenMP team runs all of a step's layers, its phases separated by
// barriers: a barrier costs ~0.4 µs here against ~1.1 µs for an OpenMP fork/join (plus at::parallel_for's
// bookkeeping), and a decode step has five phases per layer.
struct Team {
  int id = 0, size = 1;
  // This thread's share [first, second) of n items.
  std::pair<int64_t, int64_t> part(int64_t n) const { return {n * id / size, n * (id + 1) / size}; }
  void sync() const {
#ifdef _OPENMP
    if (size > 1) {
#pragma omp barrier
    }
#endif
  }
};

// Runs body(team) on `threads` threads; the body must not throw (every buffer is allocated before).
template <class F>
void run_team(int threads, F&& body) {
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    body(Team{omp_get_thread_num(), omp_get_num_threads()});
    return;
  }
#endif
  body(Team{});
}

}  // namespace

struct EngineWeights {
  LlamaConfig cfg;
  EnginePrecision precision = EnginePrecision::f32;
  struct Layer {
    kern::PackedMatrix qkv, o, gate_up, down;
    std::vector<float> input_norm, post_norm;
  };
  std::vector<float> embed;  // (V, D) fp32
  std::vector<Layer> layers;
  std::vector<float> final_norm;
  kern::PackedMatrix lm_head;
  std::vector<float> rope_cos, rope_sin;  // (max_pos, hd/2)
  double macs_per_row = 0;                // of all products, per row of a step
};

std::shared_ptr<const EngineWeights> engine_weights(Llama& model, EnginePrecision precision) {
  // A few snapshots per process: RL alternates the policy (adapters on) and the reference (off).
  static std::mutex mu;
  struct Entry {
    uint64_t key;
    std::shared_ptr<const EngineWeights> w;
  };
  static std::list<Entry> cache;
  const uint64_t key = model->state_key() ^ (precision == EnginePrecision::bf16 ? 0x5bd1e995ULL : 0);
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = cache.begin(); it != cache.end(); ++it)
    if (it->key == key) {
      cache.splice(cache.begin(), cache, it);
      return cache.front().w;
    }
  c10::InferenceMode guard;
  auto w = std::make_shared<EngineWeights>();
  const auto& c = model->config();
  w->cfg = c;
  w->precision = precision;
  w->embed = to_floats(model->embedding_weight());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto t = model->inference_layer(l);
    w->layers.push_back({pack_tensor(t.qkv, precision), pack_tensor(t.o, precision), pack_tensor(t.gate_up, precision),
                         pack_tensor(t.down, precision), to_floats(t.input_norm), to_floats(t.post_norm)});
  }
  w->final_norm = to_floats(model->final_norm_weight());
  w->lm_head = pack_tensor(model->output_weight(), precision);
  std::vector<kern::PackedMatrix*> all;
  for (auto& L : w->layers)
    for (auto* m : {&L.qkv, &L.o, &L.gate_up, &L.down}) all.push_back(m);
  all.push_back(&w->lm_head);
  kern::pool_compact(all);
  w->macs_per_row = static_cast<double>(w->lm_head.in * w->lm_head.out);
  for (const auto& L : w->layers)
    for (const auto* m : {&L.qkv, &L.o, &L.gate_up, &L.down}) w->macs_per_row += static_cast<double>(m->in * m->out);
  // RoPE angles as the libtorch model computes them: inv_freq_i = theta^(-2i/hd) in double.
  const int64_t hd = c.head_dim(), half = hd / 2;
  w->rope_cos.resize(static_cast<size_t>(c.max_position_embeddings * half));
  w->rope_sin.resize(w->rope_cos.size());
  for (int64_t pos = 0; pos < c.max_position_embeddings; ++pos)
    for (int64_t i = 0; i < half; ++i) {
      const double inv = std::pow(c.rope_theta, -static_cast<double>(2 * i) / static_cast<double>(hd));
      const double a = static_cast<double>(pos) * inv;
      w->rope_cos[pos * half + i] = static_cast<float>(std::cos(a));
      w->rope_sin[pos * half + i] = static_cast<float>(std::sin(a));
    }
  cache.push_front({key, w});
  if (cache.size() > 4) cache.pop_back();
  return w;
}

// ---- DecodeEngine ---------------------------------------------------------------------------------------

struct DecodeEngine::Impl {
  struct Seq {
    std::vector<int64_t> prompt;
    SamplingParams params;
    std::mt19937_64 rng;
    int64_t slot = -1;
    int64_t prefix_slot = -1;   // slot holding this sequence's first prefix_blocks key blocks (shared prompt)
    int64_t prefix_blocks = 0;
    int64_t cached = 0;  // positions in the KV cache
    int64_t budget = 0;  // new tokens allowed
    Generation gen;
    bool done = false;
  };

  std::shared_ptr<const EngineWeights> w;
  int64_t max_seqs, capacity;
  int64_t cap_store;  // capacity rounded up to whole key blocks
  bool kv_bf16;
  size_t kv_elem;
  // [slot][layer][k|v][kv head][capacity][hd], left uninitialised: only written positions are ever read
  // (the unused lanes of a partial key block are masked out of the softmax).
  kern::AlignedBytes kv;
  std::vector<int64_t> free_slots;
  std::vector<int> slot_refs;  // sequences reading a slot: its own, plus those sharing its prompt
  std::map<int64_t, Seq> seqs;
  std::deque<int64_t> queue;
  std::vector<int64_t> running;
  int64_t next_id = 0;
  // Step buffers, grown as needed.
  std::vector<float> x, h, qkv, att, gu, act, logits;
  std::vector<uint16_t> xb;
  // Per team thread: product inputs it computes for itself, their bf16 rounding, attention scratch.
  std::vector<std::vector<float>> own_in, own_scratch;
  std::vector<std::vector<uint16_t>> own_xb;
  // Where a step's time goes (SRL_ENGINE_PROFILE=1 prints it when the engine ends): matrix products,
  // attention, sampling, everything else.
  double t_matmul = 0, t_attention = 0, t_sample = 0, t_total = 0;
  int64_t steps_run = 0, rows_run = 0;

  ~Impl() {
    if (!std::getenv("SRL_ENGINE_PROFILE") || steps_run == 0) return;
    std::fprintf(stderr, "engine: %lld steps, %lld rows, %.1f ms: matmul %.1f, attention %.1f, sampling %.1f, other %.1f\n",
                 static_cast<long long>(steps_run), static_cast<long long>(rows_run), 1e3 * t_total, 1e3 * t_matmul,
                 1e3 * t_attention, 1e3 * t_sample, 1e3 * (t_total - t_matmul - t_attention - t_sample));
    // What a few-row step reads: the compact form where a matrix has one.
    double packed = 0, compact = 0, rows = 0, escaped = 0;
    auto add = [&](const kern::PackedMatrix& m) {
      packed += static_cast<double>(m.panels * m.panel_bytes());
      if (!m.compact) return;
      compact += static_cast<double>(m.compact->bytes());
      rows += static_cast<double>(m.compact->rows);
      escaped += static_cast<double>(m.compact->escaped_rows);
    };
    for (const auto& L : w->layers)
      for (const auto* m : {&L.qkv, &L.o, &L.gate_up, &L.down}) add(*m);
    add(w->lm_head);
    std::fprintf(stderr, "engine: weights %.1f MB packed, %.1f MB compact (%.2f%% of pair rows escaped)\n", packed / 1e6,
                 compact / 1e6, rows > 0 ? 100.0 * escaped / rows : 0.0);
  }

  Impl(std::shared_ptr<const EngineWeights> weights, int64_t n, int64_t cap)
      : w(std::move(weights)), max_seqs(n), capacity(cap) {
    const auto& c = w->cfg;
    if (n < 1) fail("engine", "max_sequences must be at least 1");
    if (cap < 1 || cap > c.max_position_embeddings)
      fail("engine", "capacity " + std::to_string(cap) + " outside [1, " + std::to_string(c.max_position_embeddings) + "]");
    kv_bf16 = w->precision == EnginePrecision::bf16;
    kv_elem = kv_bf16 ? 2 : 4;
    cap_store = (cap + kern::kKeyBlock - 1) / kern::kKeyBlock * kern::kKeyBlock;
    kv = kern::alloc_bytes(
        static_cast<size_t>(n * c.num_hidden_layers * 2 * c.num_key_value_heads * cap_store * c.head_dim()) * kv_elem);
    for (int64_t s = n - 1; s >= 0; --s) free_slots.push_back(s);
    slot_refs.assign(static_cast<size_t>(n), 0);
  }

  // Start of one kv head's keys (which = 0) or values (which = 1) in a slot; layouts in kernels_raw.hpp.
  uint8_t* kv_at(int64_t slot, int64_t layer, int which, int64_t head) {
    const auto& c = w->cfg;
    const int64_t idx =
        (((slot * c.num_hidden_layers + layer) * 2 + which) * c.num_key_value_heads + head) * cap_store * c.head_dim();
    return kv.get() + static_cast<size_t>(idx) * kv_elem;
  }

  // A sequence stops reading a slot; the slot is free once nobody reads it.
  void release(int64_t slot) {
    if (slot >= 0 && --slot_refs[static_cast<size_t>(slot)] == 0) free_slots.push_back(slot);
  }

  // Sequences sample across threads when there is enough work.
  template <class F>
  static void for_rows(int64_t n, double per_row, F&& fn) {
    if (static_cast<double>(n) * per_row < kSplitElements || at::get_num_threads() < 2)
      fn(int64_t{0}, n);
    else
      at::parallel_for(0, n, 1, fn);
  }

  template <class T>
  static void grow(std::vector<T>& v, int64_t n) {
    if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  }

  std::vector<int64_t> step();
  void sample(Seq& s, const float* row) const;
};

DecodeEngine::DecodeEngine(std::shared_ptr<const EngineWeights> weights, int64_t max_sequences, int64_t capacity)
    : impl_(std::make_unique<Impl>(std::move(weights), max_sequences, capacity)) {}

DecodeEngine::~DecodeEngine() = default;

int64_t DecodeEngine::submit(const std::vector<int64_t>& prompt, const SamplingParams& params, uint64_t stream) {
  auto& I = *impl_;
  const auto& c = I.w->cfg;
  const int64_t id = I.next_id++;
  const std::string where = "prompt " + std::to_string(stream);
  if (prompt.empty()) fail(where, "empty prompt");
  const auto L = static_cast<int64_t>(prompt.size());
  const int64_t room = std::min(I.capacity, c.max_position_embeddings);
  if (L >= room)
    fail(where, "prompt of " + std::to_string(L) + " tokens leaves no room in the " +
                    (room < c.max_position_embeddings ? "engine's capacity of " : "model's context of ") + std::to_string(room));
  for (auto t : prompt)
    if (t < 0 || t >= c.vocab_size)
      fail(where, "token id " + std::to_string(t) + " outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  Impl::Seq s;
  s.prompt = prompt;
  s.params = params;
  s.rng.seed(stream_seed(params.seed, stream));
  s.budget = std::min<int64_t>(params.max_new_tokens, room - L);
  if (s.budget <= 0) {
    s.done = true;
    s.gen.finish_reason = "length";
  }
  I.seqs.emplace(id, std::move(s));
  if (!I.seqs.at(id).done) I.queue.push_back(id);
  return id;
}

bool DecodeEngine::busy() const { return !impl_->queue.empty() || !impl_->running.empty(); }

bool DecodeEngine::finished(int64_t id) const {
  auto it = impl_->seqs.find(id);
  return it != impl_->seqs.end() && it->second.done;
}

Generation DecodeEngine::take(int64_t id) {
  auto it = impl_->seqs.find(id);
  if (it == impl_->seqs.end() || !it->second.done) fail_internal("engine", "take() of an unknown or running sequence");
  Generation g = std::move(it->second.gen);
  impl_->seqs.erase(it);
  return g;
}

std::vector<int64_t> DecodeEngine::step() { return impl_->step(); }

// Runs on several threads at once (one sequence each): touches only `s` and a thread-local buffer.
void DecodeEngine::Impl::sample(Seq& s, const float* row) const {
  const auto& p = s.params;
  const int64_t V = w->cfg.vocab_size;
  const int64_t Vs = p.vocab_limit > 0 ? std::min(p.vocab_limit, V) : V;
  int64_t tok;
  float lp;
  if (p.temperature <= 0.0) {
    float mx, lse;
    kern::log_softmax_stats(row, V, 1.0f, &mx, &lse);
    tok = kern::argmax(row, Vs);
    lp = row[tok] - mx - lse;
  } else if (p.top_k > 0 || p.top_p < 1.0) {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(s.rng);
    tok = sample_token(row, V, p, u, &lp);
  } else {
    // Inverse-CDF draw over the tempered distribution, ids in order (as sample_token does).
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(s.rng);
    const auto inv_t = static_cast<float>(1.0 / p.temperature);
    thread_local std::vector<float> probs;
    grow(probs, V);
    const float mx = row[kern::argmax(row, V)];
    const float all = kern::softmax_weights(row, V, mx, inv_t, probs.data());
    const double total = Vs == V ? all : kern::softmax_weights(row, Vs, mx, inv_t, probs.data());
    tok = kern::cumulative_search(probs.data(), Vs, u * total);
    lp = (row[tok] - mx) * inv_t - std::log(all);
  }
  if (!std::isfinite(lp)) fail_internal("generate", "non-finite log-prob while sampling (NaN in the model?)");
  s.gen.tokens.push_back(tok);
  s.gen.logprobs.push_back(lp);
  if (std::find(p.stop_ids.begin(), p.stop_ids.end(), tok) != p.stop_ids.end()) {
    s.done = true;
    s.gen.finish_reason = "stop";
  } else if (static_cast<int64_t>(s.gen.tokens.size()) >= s.budget) {
    s.done = true;
    s.gen.finish_reason = "length";
  }
}

std::vector<int64_t> DecodeEngine::Impl::step() {
  const auto& c = w->cfg;
  const int64_t D = c.hidden_size, H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim();
  const int64_t G = H / KV, F = c.intermediate_size, V = c.vocab_size, QKV = (H + 2 * KV) * hd;
  // Join: queued sequences take free slots.
  while (!queue.empty() && !free_slots.empty()) {
    auto& s = seqs.at(queue.front());
    s.slot = free_slots.back();
    free_slots.pop_back();
    slot_refs[static_cast<size_t>(s.slot)] = 1;
    running.push_back(queue.front());
    queue.pop_front();
  }
  std::vector<int64_t> finished;
  if (running.empty()) return finished;
  const auto t_step = Clock::now();

  // Rows of this step: every prompt token of a joining sequence, else the last sampled token.
  struct Row {
    int64_t seq_index, token, pos;
  };
  std::vector<Seq*> live;  // running sequences, looked up once per step
  for (auto id : running) live.push_back(&seqs.at(id));
  std::vector<Row> rows;
  std::vector<int64_t> logit_row(running.size());
  // Joining sequences with the same prompt (RL's rollouts of one prompt) share one prefill: the first
  // computes it, the others read its keys and values (below) and sample from its logits with their own
  // random streams.
  std::map<std::vector<int64_t>, size_t> leaders;
  std::vector<std::pair<size_t, size_t>> followers;
  for (size_t i = 0; i < running.size(); ++i) {
    auto& s = *live[i];
    if (s.cached == 0 && !leaders.emplace(s.prompt, i).second) {
      followers.emplace_back(i, leaders.at(s.prompt));
      continue;
    }
    if (s.cached == 0) {
      for (size_t j = 0; j < s.prompt.size(); ++j)
        rows.push_back({static_cast<int64_t>(i), s.prompt[j], static_cast<int64_t>(j)});
    } else {
      rows.push_back({static_cast<int64_t>(i), s.gen.tokens.back(), s.cached});
    }
    logit_row[i] = static_cast<int64_t>(rows.size()) - 1;
  }
  const auto N = static_cast<int64_t>(rows.size());
  const auto S = static_cast<int64_t>(running.size());
  for (auto [f, lead] : followers) logit_row[f] = logit_row[lead];
  // The step's rows grouped by sequence (each sequence's rows are consecutive), with their attention work.
  std::vector<std::pair<int64_t, int64_t>> groups;
  std::vector<double> group_work;
  for (int64_t r = 0; r < N; ++r) {
    if (r == 0 || rows[r].seq_index != rows[r - 1].seq_index) {
      groups.emplace_back(r, r);
      group_work.push_back(0);
    }
    groups.back().second = r + 1;
    group_work.back() += static_cast<double>(rows[r].pos + 1);
  }
  // One team of threads runs the layers, or one thread when the step is too small to share.
  const int threads = static_cast<double>(N) * w->macs_per_row >= kTeamMacs ? std::max(1, at::get_num_threads()) : 1;
  // Attention units (sequence, kv head), split across the team by work (positions attended): team thread
  // j takes units [unit_start[j], unit_start[j + 1]).
  const auto units = static_cast<int64_t>(groups.size()) * KV;
  std::vector<int64_t> unit_start(static_cast<size_t>(threads) + 1, units);
  unit_start[0] = 0;
  double total_work = 0, acc_work = 0;
  for (double g : group_work) total_work += g * static_cast<double>(KV);
  for (int64_t u = 0, j = 1; u < units && j < threads; ++u) {
    while (j < threads && acc_work >= total_work * static_cast<double>(j) / threads) unit_start[static_cast<size_t>(j++)] = u;
    acc_work += group_work[static_cast<size_t>(u / KV)];
  }

  const int64_t widest = std::max({D, F, H * hd});
  grow(x, N * D);
  grow(h, std::max(N, S) * D);
  grow(qkv, N * QKV);
  grow(att, N * H * hd);
  grow(gu, N * 2 * F);
  grow(act, N * F);
  grow(xb, std::max(N, S) * (widest + 1));
  grow(logits, S * V);
  own_in.resize(static_cast<size_t>(threads));
  own_xb.resize(static_cast<size_t>(threads));
  own_scratch.resize(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    grow(own_in[static_cast<size_t>(t)], std::max(N, S) * widest);
    grow(own_xb[static_cast<size_t>(t)], std::max(N, S) * (widest + 1));
    grow(own_scratch[static_cast<size_t>(t)], G * (cap_store + kern::kKeyBlock));
  }
  for (int64_t r = 0; r < N; ++r) std::copy_n(w->embed.data() + rows[r].token * D, D, x.data() + r * D);

  const float qscale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t half = hd / 2;
  const auto eps = static_cast<float>(c.rms_norm_eps);

  // The input rows of a product, from row_fn(r, out): with few elements every thread computes all rows
  // for itself (no barrier), else the rows are split into `shared` and the team waits for them.
  auto product_input = [&](const Team& t, int64_t n, int64_t width, float* shared, auto&& row_fn) -> const float* {
    if (t.size == 1 || static_cast<double>(n * width) <= kSplitElements) {
      float* mine = own_in[static_cast<size_t>(t.id)].data();
      for (int64_t r = 0; r < n; ++r) row_fn(r, mine + r * width);
      return mine;
    }
    const auto [r0, r1] = t.part(n);
    for (int64_t r = r0; r < r1; ++r) row_fn(r, shared + r * width);
    t.sync();
    return shared;
  };
  // y (+)= x W^T for n rows, the panels split across the team; bf16 weights take x rounded to bf16
  // (by every thread for itself when small, else split).
  auto product = [&](const Team& t, const kern::PackedMatrix& m, const float* in, int64_t ldx, int64_t n, float* y,
                     int64_t ldy, bool acc) {
    const auto t0 = Clock::now();
    const uint16_t* xbp = nullptr;
    if (m.type == kern::WType::bf16) {
      if (t.size == 1 || static_cast<double>(n * m.in) <= kSplitElements) {
        uint16_t* mine = own_xb[static_cast<size_t>(t.id)].data();
        kern::to_bf16_rows(in, ldx, n, m.in, m.in_padded, mine);
        xbp = mine;
      } else {
        const auto [r0, r1] = t.part(n);
        kern::to_bf16_rows(in + r0 * ldx, ldx, r1 - r0, m.in, m.in_padded, xb.data() + r0 * m.in_padded);
        t.sync();
        xbp = xb.data();
      }
    }
    const auto [p0, p1] = t.part(m.panels);
    if (p0 < p1) kern::matmul(m, in, ldx, xbp, n, y, ldy, acc, p0, p1);
    t.sync();
    if (t.id == 0) t_matmul += seconds_since(t0);
  };
  // Units (sequence, kv head): RoPE of the head's queries (they carry the 1/sqrt(hd) attention scale) and
  // key, the key and value into the cache, then attention for the sequence's rows. A unit touches only its
  // own kv head of its own sequence, so units need no barrier between them.
  auto attention = [&](const Team& t, int64_t l) {
    const auto t0 = Clock::now();
    float* scratch = own_scratch[static_cast<size_t>(t.id)].data();
    // Shares planned for `threads`; a smaller team (OpenMP may give fewer threads) takes several each.
    for (int j = t.id; j < threads; j += t.size) {
      for (int64_t u = unit_start[static_cast<size_t>(j)]; u < unit_start[static_cast<size_t>(j) + 1]; ++u) {
        const int64_t k = u % KV;
        const auto [g0, g1] = groups[static_cast<size_t>(u / KV)];
        const auto& sq = *live[rows[g0].seq_index];
        const int64_t slot = sq.slot, owner = sq.prefix_slot >= 0 ? sq.prefix_slot : slot;
        for (int64_t r = g0; r < g1; ++r) {
          float* q = qkv.data() + r * QKV;
          const float* cs = w->rope_cos.data() + rows[r].pos * half;
          const float* sn = w->rope_sin.data() + rows[r].pos * half;
          kern::rope(q + k * G * hd, G, hd, cs, sn, qscale);
          kern::rope(q + (H + k) * hd, 1, hd, cs, sn, 1.0f);
          kern::store_key(q + (H + k) * hd, hd, kv_at(slot, l, 0, k), rows[r].pos, kv_bf16);
          kern::store_value(q + (H + KV + k) * hd, hd, kv_at(slot, l, 1, k), rows[r].pos, kv_bf16);
        }
        for (int64_t r = g0; r < g1; ++r)
          kern::attend(qkv.data() + r * QKV + k * G * hd, G, hd, kv_at(owner, l, 0, k), kv_at(owner, l, 1, k),
                       sq.prefix_blocks, kv_at(slot, l, 0, k), kv_at(slot, l, 1, k), kv_bf16, rows[r].pos + 1, scratch,
                       att.data() + r * H * hd + k * G * hd);
      }
    }
    t.sync();
    if (t.id == 0) t_attention += seconds_since(t0);
  };

  run_team(threads, [&](const Team& t) {
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const auto& L = w->layers[static_cast<size_t>(l)];
      const float* in = product_input(t, N, D, h.data(), [&](int64_t r, float* out) {
        kern::rmsnorm(x.data() + r * D, L.input_norm.data(), D, eps, out);
      });
      product(t, L.qkv, in, D, N, qkv.data(), QKV, false);
      attention(t, l);
      product(t, L.o, att.data(), H * hd, N, x.data(), D, true);  // residual added in the product's store
      in = product_input(t, N, D, h.data(), [&](int64_t r, float* out) {
        kern::rmsnorm(x.data() + r * D, L.post_norm.data(), D, eps, out);
      });
      product(t, L.gate_up, in, D, N, gu.data(), 2 * F, false);
      in = product_input(t, N, F, act.data(), [&](int64_t r, float* out) {
        kern::silu_mul(gu.data() + r * 2 * F, gu.data() + r * 2 * F + F, F, out);
      });
      product(t, L.down, in, F, N, x.data(), D, true);
    }
    // Logits only for each sequence's last row (followers sample from their leader's).
    const float* in = product_input(t, S, D, h.data(), [&](int64_t i, float* out) {
      kern::rmsnorm(x.data() + logit_row[static_cast<size_t>(i)] * D, w->final_norm.data(), D, eps, out);
    });
    product(t, w->lm_head, in, D, S, logits.data(), V, false);
  });

  // Followers read the leader's whole key blocks in place and copy the partial last block (their own
  // tokens will fill it).
  for (auto [f, lead] : followers) {
    auto& fs = *live[f];
    const int64_t from = live[lead]->slot, to = fs.slot, L = static_cast<int64_t>(fs.prompt.size());
    fs.prefix_slot = from;
    fs.prefix_blocks = L / kern::kKeyBlock;
    ++slot_refs[static_cast<size_t>(from)];
    const int64_t p0 = fs.prefix_blocks * kern::kKeyBlock;
    if (p0 == L) continue;
    const auto key_bytes = static_cast<size_t>(kern::kKeyBlock * hd) * kv_elem;
    // Whole position pairs: bf16 values interleave two positions.
    const auto value_bytes = static_cast<size_t>((L - p0 + 1) / 2 * 2 * hd) * kv_elem;
    for (int64_t l = 0; l < c.num_hidden_layers; ++l)
      for (int64_t k = 0; k < KV; ++k) {
        std::memcpy(kv_at(to, l, 0, k) + p0 * hd * kv_elem, kv_at(from, l, 0, k) + p0 * hd * kv_elem, key_bytes);
        std::memcpy(kv_at(to, l, 1, k) + p0 * hd * kv_elem, kv_at(from, l, 1, k) + p0 * hd * kv_elem, value_bytes);
      }
  }

  const auto ts = Clock::now();
  for_rows(S, V, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) sample(*live[i], logits.data() + i * V);
  });
  for (int64_t i = 0; i < S; ++i) {
    auto& s = *live[i];
    s.cached = s.cached == 0 ? static_cast<int64_t>(s.prompt.size()) : s.cached + 1;
    if (s.done) finished.push_back(running[i]);
  }
  t_sample += seconds_since(ts);
  // Leave: finished sequences free their slots.
  std::vector<int64_t> still;
  for (auto id : running) {
    auto& s = seqs.at(id);
    if (s.done) {
      release(s.slot);
      release(s.prefix_slot);
      s.slot = s.prefix_slot = -1;
    } else {
      still.push_back(id);
    }
  }
  running.swap(still);
  t_total += seconds_since(t_step);
  ++steps_run;
  rows_run += N;
  return finished;
}

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
