// Portable kernels, packing and the run-time choice between them and kernels_avx512.cpp.
#include "model/kernels.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace srl::model::kern {

namespace {

uint16_t bf16_round(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);                      // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

std::atomic<bool> g_force_portable{std::getenv("SRL_PORTABLE_KERNELS") != nullptr};

bool fast() {
  static const bool has = cpu_has_avx512();
  return has && !g_force_portable.load(std::memory_order_relaxed);
}

// A compact form with more escaped pair rows than this saves too few bytes to be worth its second copy.
constexpr double kMaxEscaped = 0.125;

}  // namespace

void AlignedFree::operator()(void* p) const { std::free(p); }

AlignedBytes alloc_bytes(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, std::max<size_t>(bytes, 1)) != 0) throw std::bad_alloc();
  // Whole 2 MB pages only (a tail in small pages wastes nothing), before the first touch, so they are
  // faulted in 2 MB at a time.
  if (align == kHuge) madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);
  return AlignedBytes(static_cast<uint8_t*>(p));
}

PackedMatrix pack(const float* w, int64_t out, int64_t in, WType type) {
  PackedMatrix m;
  m.type = type;
  m.out = out;
  m.in = in;
  m.in_padded = type == WType::bf16 ? (in + 1) / 2 * 2 : in;
  m.panels = (out + kPanel - 1) / kPanel;
  const size_t bytes = static_cast<size_t>(m.panels * m.panel_bytes());
  m.data = alloc_bytes(bytes);
  std::memset(m.data.get(), 0, bytes);
  for (int64_t p = 0; p < m.panels; ++p) {
    uint8_t* panel = m.data.get() + p * m.panel_bytes();
    for (int64_t o = p * kPanel; o < std::min(out, (p + 1) * kPanel); ++o) {
      const int64_t lane = o - p * kPanel;
      const float* row = w + o * in;
      if (type == WType::f32) {
        auto* dst = reinterpret_cast<float*>(panel);
        for (int64_t i = 0; i < in; ++i) dst[i * kPanel + lane] = row[i];
      } else {
        auto* dst = reinterpret_cast<uint16_t*>(panel);
        for (int64_t i = 0; i < in; ++i) dst[((i / 2) * kPanel + lane) * 2 + (i % 2)] = bf16_round(row[i]);
      }
    }
  }
  if (type == WType::bf16 && cpu_has_avx512()) m.compact = compact_form(m, kMaxEscaped);
  return m;
}

int64_t CompactMatrix::bytes() const {
  return static_cast<int64_t>(storage_bytes() + tables.size() + escapes.size() * 8 + raw.size() * 4 + raw_start.size() * 8);
}

std::unique_ptr<CompactMatrix> compact_form(const PackedMatrix& m, double max_escaped) {
  if (m.type != WType::bf16) return nullptr;
  const int64_t pairs = m.in_padded / 2, words = (pairs + 63) / 64;
  auto c = std::make_unique<CompactMatrix>();
  c->rows = m.panels * pairs;
  const auto rows = static_cast<size_t>(c->rows);
  c->storage = std::shared_ptr<uint8_t>(alloc_bytes(c->storage_bytes()).release(), AlignedFree{});
  c->low = c->storage.get();
  c->codes = c->low + rows * 128;
  c->tables.assign(static_cast<size_t>(m.panels) * 16, 0);
  c->escapes.assign(static_cast<size_t>(m.panels * words), 0);
  c->raw_start.assign(static_cast<size_t>(m.panels), 0);
  for (int64_t p = 0; p < m.panels; ++p) {
    const auto* panel = reinterpret_cast<const uint16_t*>(m.data.get() + p * m.panel_bytes());
    const int64_t valid = std::min(kPanel, m.out - p * kPanel);
    // Padding (outputs past `out`, the odd input's partner) is never used: 0 * w and unstored lanes.
    auto padding = [&](int64_t ip, int64_t v) { return v / 2 >= valid || 2 * ip + v % 2 >= m.in; };
    // The window of 8 exponent MSB values (high byte without the sign) holding the most weights.
    int64_t hist[128] = {};
    for (int64_t ip = 0; ip < pairs; ++ip)
      for (int64_t v = 0; v < 2 * kPanel; ++v)
        if (!padding(ip, v)) ++hist[(panel[ip * 2 * kPanel + v] >> 8) & 0x7f];
    int64_t base = 0, best = -1;
    for (int64_t b = 0; b + 8 <= 128; ++b) {
      int64_t n = 0;
      for (int64_t k = 0; k < 8; ++k) n += hist[b + k];
      if (n > best) best = n, base = b;
    }
    for (int64_t code = 0; code < 16; ++code)
      c->tables[static_cast<size_t>(p * 16 + code)] = static_cast<uint8_t>((code & 8) << 4 | (base + (code & 7)));
    c->raw_start[static_cast<size_t>(p)] = static_cast<int64_t>(c->raw.size()) / kPanel;
    for (int64_t ip = 0; ip < pairs; ++ip) {
      const uint16_t* v = panel + ip * 2 * kPanel;
      const size_t row = static_cast<size_t>(p * pairs + ip);
      uint8_t* low = c->low + row * 128;
      uint8_t* codes = c->codes + row * 64;
      bool escaped = false;
      for (int64_t g = 0; g < 2; ++g)
        for (int64_t q = 0; q < 64; ++q) {
          const int64_t src = g * 64 + compact_source(q);
          const uint16_t b = padding(ip, src) ? static_cast<uint16_t>(base << 8) : v[src];
          const int64_t e = (b >> 8) & 0x7f;
          escaped = escaped || e < base || e >= base + 8;
          const auto code = static_cast<uint8_t>((b >> 15) << 3 | ((e - base) & 7));
          low[g * 64 + q] = static_cast<uint8_t>(b & 0xff);
          codes[q] = g == 0 ? code : static_cast<uint8_t>(codes[q] | code << 4);
        }
      if (escaped) {
        c->escapes[static_cast<size_t>(p * words + ip / 64)] |= uint64_t{1} << (ip % 64);
        const auto* wv = reinterpret_cast<const uint32_t*>(v);
        c->raw.insert(c->raw.end(), wv, wv + kPanel);
        ++c->escaped_rows;
      }
    }
  }
  if (static_cast<double>(c->escaped_rows) > max_escaped * static_cast<double>(c->rows)) return nullptr;
  c->view = {c->low, c->codes, c->tables.data(), c->escapes.data(), c->raw.data(), c->raw_start.data()};
  return c;
}

void pool_compact(const std::vector<PackedMatrix*>& ms) {
  size_t total = 0;  // each part a multiple of 64 bytes, so every part stays aligned
  for (const auto* m : ms)
    if (m->compact) total += m->compact->storage_bytes();
  if (total == 0) return;
  std::shared_ptr<uint8_t> pool(alloc_bytes(total).release(), AlignedFree{});
  uint8_t* at = pool.get();
  for (auto* m : ms) {
    if (!m->compact) continue;
    CompactMatrix& c = *m->compact;
    const auto rows = static_cast<size_t>(c.rows);
    std::memcpy(at, c.low, rows * 128);
    std::memcpy(at + rows * 128, c.codes, rows * 64);
    c.storage = pool;
    c.low = at;
    c.codes = at + rows * 128;
    c.view.low = c.low;
    c.view.codes = c.codes;
    at += c.storage_bytes();
  }
}

// ---- portable implementations ------------------------------------------------------------------------

namespace portable {

void matmul(const MatView& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y, int64_t ldy,
            bool accumulate, int64_t p0, int64_t p1) {
  float acc[kPanel];
  for (int64_t p = p0; p < p1; ++p) {
    const uint8_t* wp = w.data + p * w.panel_bytes;
    const int64_t valid = std::min(kPanel, w.out - p * kPanel);
    for (int64_t r = 0; r < n; ++r) {
      std::fill(acc, acc + kPanel, 0.0f);
      if (w.bf16) {
        const auto* wq = reinterpret_cast<const uint16_t*>(wp);
        const uint16_t* xr = xb + r * w.in_padded;
        for (int64_t ip = 0; ip < w.in_padded / 2; ++ip) {
          const float x0 = bf16_to_float(xr[2 * ip]), x1 = bf16_to_float(xr[2 * ip + 1]);
          const uint16_t* wr = wq + ip * kPanel * 2;
          for (int64_t o = 0; o < kPanel; ++o)
            acc[o] += x1 * bf16_to_float(wr[2 * o + 1]) + x0 * bf16_to_float(wr[2 * o]);
        }
      } else {
        const auto* wf = reinterpret_cast<const float*>(wp);
        const float* xr = x + r * ldx;
        for (int64_t i = 0; i < w.in; ++i)
          for (int64_t o = 0; o < kPanel; ++o) acc[o] += xr[i] * wf[i * kPanel + o];
      }
      float* yr = y + r * ldy + p * kPanel;
      for (int64_t o = 0; o < valid; ++o) yr[o] = accumulate ? yr[o] + acc[o] : acc[o];
    }
  }
}

void to_bf16_rows(const float* x, int64_t ldx, int64_t n, int64_t in, int64_t in_padded, uint16_t* out) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < in_padded; ++i) out[r * in_padded + i] = i < in ? bf16_round(x[r * ldx + i]) : 0;
}

float rmsnorm(const float* x, const float* w, int64_t d, float eps, float* out) {
  float ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
  for (int64_t i = 0; i < d; ++i) out[i] = w[i] * (x[i] * inv);
  return inv;
}

void attend(const float* q, int64_t G, int64_t hd, const void* k0, const void* v0, int64_t shared_blocks,
            const void* k1, const void* v1, bool kv_bf16, int64_t len, float* scratch, float* out) {
  auto at = [&](const void* base, int64_t idx) {
    return kv_bf16 ? bf16_to_float(static_cast<const uint16_t*>(base)[idx]) : static_cast<const float*>(base)[idx];
  };
  for (int64_t g = 0; g < G; ++g) {
    float* s = scratch + g * len;
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; ++j) {
      const void* k = j / kKeyBlock < shared_blocks ? k0 : k1;
      float dot = 0;
      for (int64_t c = 0; c < hd; ++c) dot += q[g * hd + c] * at(k, key_offset(j, c, hd, kv_bf16));
      s[j] = dot;
      mx = std::max(mx, dot);
    }
    float sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += (s[j] = std::exp(s[j] - mx));
    float* o = out + g * hd;
    std::fill(o, o + hd, 0.0f);
    for (int64_t j = 0; j < len; ++j) {
      const void* v = j / kKeyBlock < shared_blocks ? v0 : v1;
      for (int64_t c = 0; c < hd; ++c) o[c] += s[j] * at(v, value_offset(j, c, hd, kv_bf16));
    }
    for (int64_t c = 0; c < hd; ++c) o[c] /= sum;
  }
}

void log_softmax_stats(const float* x, int64_t n, float scale, float* max, float* lse) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>((x[i] - mx) * scale));
  *max = mx;
  *lse = static_cast<float>(std::log(s));
}

float softmax_weights(const float* x, int64_t n, float max, float scale, float* out) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += (out[i] = std::exp((x[i] - max) * scale));
  return s;
}

void silu_mul(const float* g, const float* u, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

}  // namespace portable

// ---- dispatch ------------------------------------------------------------------------------------------

void force_portable(bool on) { g_force_portable.store(on); }

std::string implementation() { return fast() ? "avx512-bf16" : "portable"; }

void matmul(const PackedMatrix& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y,
            int64_t ldy, bool accumulate, int64_t p0, int64_t p1) {
  const MatView v = w.view();
  if (fast())
    avx512::matmul(v, x, ldx, xb, n, y, ldy, accumulate, p0, p1);
  else
    portable::matmul(v, x, ldx, xb, n, y, ldy, accumulate, p0, p1);
}

void to_bf16_rows(const float* x, int64_t ldx, int64_t n, int64_t in, int64_t in_padded, uint16_t* out) {
  if (fast())
    avx512::to_bf16_rows(x, ldx, n, in, in_padded, out);
  else
    portable::to_bf16_rows(x, ldx, n, in, in_padded, out);
}

float rmsnorm(const float* x, const float* w, int64_t d, float eps, float* out) {
  return fast() ? avx512::rmsnorm(x, w, d, eps, out) : portable::rmsnorm(x, w, d, eps, out);
}

// n = x * inv, g = dout * w: dx = inv * (g - n * mean(g * n)); dw += dout * n.
void rmsnorm_backward(const float* x, const float* w, int64_t d, float inv, const float* dout, float* dx, float* dw) {
  float gn = 0;
  for (int64_t i = 0; i < d; ++i) gn += dout[i] * w[i] * (x[i] * inv);
  const float mean_gn = gn / static_cast<float>(d);
  for (int64_t i = 0; i < d; ++i) {
    const float n = x[i] * inv;
    dx[i] = inv * (dout[i] * w[i] - n * mean_gn);
    dw[i] += dout[i] * n;
  }
}

void attend(const float* q, int64_t G, int64_t hd, const void* k0, const void* v0, int64_t shared_blocks,
            const void* k, const void* v, bool kv_bf16, int64_t len, float* scratch, float* out) {
  if (fast())
    avx512::attend(q, G, hd, k0, v0, shared_blocks, k, v, kv_bf16, len, scratch, out);
  else
    portable::attend(q, G, hd, k0, v0, shared_blocks, k, v, kv_bf16, len, scratch, out);
}

void log_softmax_stats(const float* x, int64_t n, float scale, float* max, float* lse) {
  if (fast())
    avx512::log_softmax_stats(x, n, scale, max, lse);
  else
    portable::log_softmax_stats(x, n, scale, max, lse);
}

float softmax_weights(const float* x, int64_t n, float max, float scale, float* out) {
  return fast() ? avx512::softmax_weights(x, n, max, scale, out) : portable::softmax_weights(x, n, max, scale, out);
}

// Small elementwise steps: one implementation, left to the compiler's vectoriser.

void rope(float* x, int64_t heads, int64_t hd, const float* cos, const float* sin, float scale) {
  const int64_t half = hd / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * hd;
    for (int64_t i = 0; i < half; ++i) {
      const float a = v[i], b = v[i + half];
      v[i] = (a * cos[i] - b * sin[i]) * scale;
      v[i + half] = (b * cos[i] + a * sin[i]) * scale;
    }
  }
}

void silu_mul(const float* g, const float* u, int64_t n, float* out) {
  if (fast())
    avx512::silu_mul(g, u, n, out);
  else
    portable::silu_mul(g, u, n, out);
}

int64_t argmax(const float* x, int64_t n) { return fast() ? avx512::argmax(x, n) : portable::argmax(x, n); }

void store_key(const float* x, int64_t hd, void* head, int64_t pos, bool kv_bf16) {
  for (int64_t c = 0; c < hd; ++c) {
    if (kv_bf16)
      static_cast<uint16_t*>(head)[key_offset(pos, c, hd, true)] = bf16_round(x[c]);
    else
      static_cast<float*>(head)[key_offset(pos, c, hd, false)] = x[c];
  }
}

void store_value(const float* x, int64_t hd, void* head, int64_t pos, bool kv_bf16) {
  if (kv_bf16) {
    for (int64_t c = 0; c < hd; ++c) static_cast<uint16_t*>(head)[value_offset(pos, c, hd, true)] = bf16_round(x[c]);
  } else {
    std::memcpy(static_cast<float*>(head) + pos * hd, x, static_cast<size_t>(hd) * sizeof(float));
  }
}

void bf16_to_float(const uint16_t* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(x[i]);
}

int64_t cumulative_search(const float* w, int64_t n, double target) {
  constexpr int64_t kChunk = 64;
  double acc = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t c1 = std::min(n, c0 + kChunk);
    float chunk = 0;
    for (int64_t i = c0; i < c1; ++i) chunk += w[i];
    if (acc + chunk > target) {
      for (int64_t i = c0; i < c1; ++i) {
        acc += w[i];
        if (acc > target) return i;
      }
      return c1 - 1;  // rounding between the chunk sum and the element sums
    }
    acc += chunk;
  }
  return n - 1;
}

}  // namespace srl::model::kern
