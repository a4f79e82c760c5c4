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

// Below this many multiply-adds a matrix product runs on the calling thread: waking a second thread costs
// more than it saves (measured with `supportrl bench generate --batch 1`, docs/PERFORMANCE.md: with OpenMP's
// spinning workers the break-even is far lower than a thread wake-up suggests).
constexpr double kParallelMacs = 1.0e5;
// The same for a step's attention, in multiply-adds over all rows, and for elementwise work per element.
constexpr double kParallelAttention = 2.0e5;
constexpr double kParallelElements = 1.6e4;

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
  std::unique_ptr<uint8_t[]> kv;
  std::vector<int64_t> free_slots;
  std::vector<int> slot_refs;  // sequences reading a slot: its own, plus those sharing its prompt
  std::map<int64_t, Seq> seqs;
  std::deque<int64_t> queue;
  std::vector<int64_t> running;
  int64_t next_id = 0;
  // Step buffers, grown as needed.
  std::vector<float> x, h, qkv, att, gu, act, logits;
  std::vector<uint16_t> xb;
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
    kv = std::make_unique_for_overwrite<uint8_t[]>(
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

  // y (+)= x W^T for n rows, across threads when the product is big enough.
  void release(int64_t slot) {
    if (slot >= 0 && --slot_refs[static_cast<size_t>(slot)] == 0) free_slots.push_back(slot);
  }

  void mm(const kern::PackedMatrix& m, const float* xin, int64_t ldx, int64_t n, float* y, int64_t ldy, bool acc) {
    const auto t0 = Clock::now();
    mm_run(m, xin, ldx, n, y, ldy, acc);
    t_matmul += seconds_since(t0);
  }
  void mm_run(const kern::PackedMatrix& m, const float* xin, int64_t ldx, int64_t n, float* y, int64_t ldy, bool acc) {
    const uint16_t* xbp = nullptr;
    if (m.type == kern::WType::bf16) {
      if (xb.size() < static_cast<size_t>(n * m.in_padded)) xb.resize(static_cast<size_t>(n * m.in_padded));
      kern::to_bf16_rows(xin, ldx, n, m.in, m.in_padded, xb.data());
      xbp = xb.data();
    }
    const double macs = static_cast<double>(n) * static_cast<double>(m.out) * static_cast<double>(m.in);
    if (macs < kParallelMacs || at::get_num_threads() < 2 || m.panels < 2) {
      kern::matmul(m, xin, ldx, xbp, n, y, ldy, acc, 0, m.panels);
      return;
    }
    at::parallel_for(0, m.panels, 1, [&](int64_t p0, int64_t p1) { kern::matmul(m, xin, ldx, xbp, n, y, ldy, acc, p0, p1); });
  }

  // fn(r0, r1) over rows, across threads when there is enough work.
  template <class F>
  static void for_rows(int64_t n, double per_row, F&& fn) {
    if (static_cast<double>(n) * per_row < kParallelElements || at::get_num_threads() < 2)
      fn(int64_t{0}, n);
    else
      at::parallel_for(0, n, 1, fn);
  }

  static void grow(std::vector<float>& v, int64_t n) {
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
  grow(x, N * D);
  grow(h, N * D);
  grow(qkv, N * QKV);
  grow(att, N * H * hd);
  grow(gu, N * 2 * F);
  grow(act, N * F);
  for (int64_t r = 0; r < N; ++r) std::copy_n(w->embed.data() + rows[r].token * D, D, x.data() + r * D);

  const float qscale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t half = hd / 2;
  double attn_work = 0;
  for (const auto& r : rows) attn_work += static_cast<double>(r.pos + 1) * static_cast<double>(H * hd);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const auto& L = w->layers[static_cast<size_t>(l)];
    const auto eps = static_cast<float>(c.rms_norm_eps);
    for_rows(N, D, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) kern::rmsnorm(x.data() + r * D, L.input_norm.data(), D, eps, h.data() + r * D);
    });
    mm(L.qkv, h.data(), D, N, qkv.data(), QKV, false);
    // RoPE (q carries the 1/sqrt(hd) attention scale), then keys and values into the cache: all rows
    // first, since a prompt's rows attend to each other.
    for_rows(N, QKV, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto& row = rows[r];
      float* q = qkv.data() + r * QKV;
      const float* cs = w->rope_cos.data() + row.pos * half;
      const float* sn = w->rope_sin.data() + row.pos * half;
      kern::rope(q, H, hd, cs, sn, qscale);
      kern::rope(q + H * hd, KV, hd, cs, sn, 1.0f);
      const int64_t slot = live[row.seq_index]->slot;
      for (int64_t k = 0; k < KV; ++k) {
        kern::store_key(q + (H + k) * hd, hd, kv_at(slot, l, 0, k), row.pos, kv_bf16);
        kern::store_value(q + (H + KV + k) * hd, hd, kv_at(slot, l, 1, k), row.pos, kv_bf16);
      }
    }
    });
    auto attend_rows = [&](int64_t r0, int64_t r1) {
      std::vector<float> scratch;
      for (int64_t r = r0; r < r1; ++r) {
        const auto& row = rows[r];
        const auto& sq = *live[row.seq_index];
        const int64_t slot = sq.slot, len = row.pos + 1;
        const int64_t owner = sq.prefix_slot >= 0 ? sq.prefix_slot : slot;
        const int64_t need = G * (len + kern::kKeyBlock);
        if (scratch.size() < static_cast<size_t>(need)) scratch.resize(static_cast<size_t>(need));
        for (int64_t k = 0; k < KV; ++k)
          kern::attend(qkv.data() + r * QKV + k * G * hd, G, hd, kv_at(owner, l, 0, k), kv_at(owner, l, 1, k),
                       sq.prefix_blocks, kv_at(slot, l, 0, k), kv_at(slot, l, 1, k), kv_bf16,
                       len, scratch.data(), att.data() + r * H * hd + k * G * hd);
      }
    };
    const auto ta = Clock::now();
    if (attn_work < kParallelAttention || at::get_num_threads() < 2)
      attend_rows(0, N);
    else
      at::parallel_for(0, N, 1, attend_rows);
    t_attention += seconds_since(ta);
    mm(L.o, att.data(), H * hd, N, x.data(), D, true);  // residual added in the product's epilogue
    for_rows(N, D, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) kern::rmsnorm(x.data() + r * D, L.post_norm.data(), D, eps, h.data() + r * D);
    });
    mm(L.gate_up, h.data(), D, N, gu.data(), 2 * F, false);
    for_rows(N, 4.0 * F, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) kern::silu_mul(gu.data() + r * 2 * F, gu.data() + r * 2 * F + F, F, act.data() + r * F);
    });
    mm(L.down, act.data(), F, N, x.data(), D, true);
  }
  // Followers read the leader's whole key blocks in place and copy the partial last block (their own
  // tokens will fill it).
  for (auto [f, lead] : followers) {
    logit_row[f] = logit_row[lead];
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
  // Logits only for each sequence's last row. There can be more sequences than rows (many rollouts of a
  // short prompt share one prefill).
  const auto S = static_cast<int64_t>(running.size());
  grow(h, S * D);
  for (int64_t i = 0; i < S; ++i)
    kern::rmsnorm(x.data() + logit_row[i] * D, w->final_norm.data(), D, static_cast<float>(c.rms_norm_eps), h.data() + i * D);
  grow(logits, S * V);
  mm(w->lm_head, h.data(), D, S, logits.data(), V, false);

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
