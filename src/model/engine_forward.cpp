#include "model/engine_forward.hpp"

#include <algorithm>
#include <cmath>

namespace srl::model {

namespace {

using Clock = EngineProfile::Clock;

template <class T>
void grow_to(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}

// One step's forward, run by every thread of the team with its own Team.
class StepForward {
 public:
  StepForward(const EngineWeights& w, EngineSlots& slots, const StepPlan& plan, StepBuffers& buf, EngineProfile& prof)
      : w_(w), slots_(slots), plan_(plan), b_(buf), prof_(prof) {}

  void run(const Team& t) {
    for (int64_t l = 0; l < c_.num_hidden_layers; ++l) layer(t, l);
    // Logits only for each sequence's last row (followers sample from their leader's).
    const float* in = product_input(t, S_, D_, b_.h.data(), [&](int64_t i, float* out) {
      kern::rmsnorm(b_.x.data() + plan_.logit_row[static_cast<size_t>(i)] * D_, w_.final_norm.data(), D_, eps_, out);
    });
    product(t, w_.lm_head, in, D_, S_, b_.logits.data(), V_, false);
  }

 private:
  void layer(const Team& t, int64_t l) {
    const auto& L = w_.layers[static_cast<size_t>(l)];
    float* x = b_.x.data();
    const float* in = product_input(t, N_, D_, b_.h.data(), [&](int64_t r, float* out) {
      kern::rmsnorm(x + r * D_, L.input_norm.data(), D_, eps_, out);
    });
    product(t, L.qkv, in, D_, N_, b_.qkv.data(), QKV_, false);
    attention(t, l);
    product(t, L.o, b_.att.data(), H_ * hd_, N_, x, D_, true);  // residual added in the product's store
    in = product_input(t, N_, D_, b_.h.data(), [&](int64_t r, float* out) {
      kern::rmsnorm(x + r * D_, L.post_norm.data(), D_, eps_, out);
    });
    product(t, L.gate_up, in, D_, N_, b_.gu.data(), 2 * F_, false);
    const float* gu = b_.gu.data();
    in = product_input(t, N_, F_, b_.act.data(), [&](int64_t r, float* out) {
      kern::silu_mul(gu + r * 2 * F_, gu + r * 2 * F_ + F_, F_, out);
    });
    product(t, L.down, in, F_, N_, x, D_, true);
  }

  // The n input rows (width each) of a product, from row_fn(r, out): with few elements every thread
  // computes all rows for itself (no barrier), else the rows are split into `shared` and the team waits.
  template <class RowFn>
  const float* product_input(const Team& t, int64_t n, int64_t width, float* shared, RowFn&& row_fn) {
    if (t.size == 1 || static_cast<double>(n * width) <= kSplitElements) {
      float* mine = b_.own_in[static_cast<size_t>(t.id)].data();
      for (int64_t r = 0; r < n; ++r) row_fn(r, mine + r * width);
      return mine;
    }
    const auto [r0, r1] = t.part(n);
    for (int64_t r = r0; r < r1; ++r) row_fn(r, shared + r * width);
    t.sync();
    return shared;
  }

  // y (n, ldy) (+)= in (n, ldx) W^T, the panels split across the team; bf16 weights take the input rounded
  // to bf16 (by every thread for itself when small, else split).
  void product(const Team& t, const kern::PackedMatrix& m, const float* in, int64_t ldx, int64_t n, float* y,
               int64_t ldy, bool acc) {
    const auto t0 = Clock::now();
    const uint16_t* xbp = nullptr;
    if (m.type == kern::WType::bf16) {
      if (t.size == 1 || static_cast<double>(n * m.in) <= kSplitElements) {
        uint16_t* mine = b_.own_xb[static_cast<size_t>(t.id)].data();
        kern::to_bf16_rows(in, ldx, n, m.in, m.in_padded, mine);
        xbp = mine;
      } else {
        const auto [r0, r1] = t.part(n);
        kern::to_bf16_rows(in + r0 * ldx, ldx, r1 - r0, m.in, m.in_padded, b_.xb.data() + r0 * m.in_padded);
        t.sync();
        xbp = b_.xb.data();
      }
    }
    const auto [p0, p1] = t.part(m.panels);
    if (p0 < p1) kern::matmul(m, in, ldx, xbp, n, y, ldy, acc, p0, p1);
    t.sync();
    if (t.id == 0) prof_.matmul += EngineProfile::since(t0);
  }

  // Units (sequence, kv head): RoPE of the head's queries (they carry the 1/sqrt(hd) attention scale) and
  // key, the key and value into the cache, then attention for the sequence's rows. A unit touches only its
  // own kv head of its own sequence, so units need no barrier between them.
  void attention(const Team& t, int64_t l) {
    const auto t0 = Clock::now();
    float* scratch = b_.own_scratch[static_cast<size_t>(t.id)].data();
    const bool bf16 = slots_.bf16();
    // Shares planned for plan.threads; a smaller team (OpenMP may give fewer threads) takes several each.
    for (int j = t.id; j < plan_.threads; j += t.size) {
      for (int64_t u = plan_.unit_start[static_cast<size_t>(j)]; u < plan_.unit_start[static_cast<size_t>(j) + 1]; ++u) {
        const int64_t k = u % KV_;
        const auto& g = plan_.groups[static_cast<size_t>(u / KV_)];
        for (int64_t r = g.begin; r < g.end; ++r) {
          float* q = b_.qkv.data() + r * QKV_;
          const int64_t pos = plan_.rows[r].pos;
          const float* cs = w_.rope_cos.data() + pos * half_;
          const float* sn = w_.rope_sin.data() + pos * half_;
          kern::rope(q + k * G_ * hd_, G_, hd_, cs, sn, qscale_);
          kern::rope(q + (H_ + k) * hd_, 1, hd_, cs, sn, 1.0f);
          kern::store_key(q + (H_ + k) * hd_, hd_, slots_.at(g.slot, l, 0, k), pos, bf16);
          kern::store_value(q + (H_ + KV_ + k) * hd_, hd_, slots_.at(g.slot, l, 1, k), pos, bf16);
        }
        for (int64_t r = g.begin; r < g.end; ++r)
          kern::attend(b_.qkv.data() + r * QKV_ + k * G_ * hd_, G_, hd_, slots_.at(g.owner, l, 0, k),
                       slots_.at(g.owner, l, 1, k), g.prefix_blocks, slots_.at(g.slot, l, 0, k),
                       slots_.at(g.slot, l, 1, k), bf16, plan_.rows[r].pos + 1, scratch,
                       b_.att.data() + r * H_ * hd_ + k * G_ * hd_);
      }
    }
    t.sync();
    if (t.id == 0) prof_.attention += EngineProfile::since(t0);
  }

  const EngineWeights& w_;
  EngineSlots& slots_;
  const StepPlan& plan_;
  StepBuffers& b_;
  EngineProfile& prof_;
  const LlamaConfig& c_ = w_.cfg;
  const int64_t N_ = plan_.N(), S_ = plan_.S();
  const int64_t D_ = c_.hidden_size, H_ = c_.num_attention_heads, KV_ = c_.num_key_value_heads, hd_ = c_.head_dim();
  const int64_t G_ = H_ / KV_, F_ = c_.intermediate_size, V_ = c_.vocab_size, QKV_ = (H_ + 2 * KV_) * hd_;
  const int64_t half_ = hd_ / 2;
  const float qscale_ = 1.0f / std::sqrt(static_cast<float>(hd_));
  const float eps_ = static_cast<float>(c_.rms_norm_eps);
};

}  // namespace

void StepBuffers::grow(const LlamaConfig& c, const StepPlan& plan, int64_t cap_store) {
  const int64_t D = c.hidden_size, H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim();
  const int64_t F = c.intermediate_size, V = c.vocab_size, QKV = (H + 2 * KV) * hd;
  const int64_t N = plan.N(), S = plan.S(), M = std::max(N, S), W = std::max({D, F, H * hd});
  grow_to(x, N * D);
  grow_to(h, M * D);
  grow_to(qkv, N * QKV);
  grow_to(att, N * H * hd);
  grow_to(gu, N * 2 * F);
  grow_to(act, N * F);
  grow_to(xb, M * (W + 1));
  grow_to(logits, S * V);
  const auto T = static_cast<size_t>(plan.threads);
  own_in.resize(T);
  own_xb.resize(T);
  own_scratch.resize(T);
  for (size_t t = 0; t < T; ++t) {
    grow_to(own_in[t], M * W);
    grow_to(own_xb[t], M * (W + 1));
    grow_to(own_scratch[t], H / KV * (cap_store + kern::kKeyBlock));
  }
}

void forward_step(const EngineWeights& w, EngineSlots& slots, const StepPlan& plan, StepBuffers& buf,
                  EngineProfile& prof) {
  const int64_t D = w.cfg.hidden_size;
  for (int64_t r = 0; r < plan.N(); ++r) std::copy_n(w.embed.data() + plan.rows[r].token * D, D, buf.x.data() + r * D);
  StepForward pass(w, slots, plan, buf, prof);
  run_team(plan.threads, [&](const Team& t) { pass.run(t); });
}

}  // namespace srl::model
