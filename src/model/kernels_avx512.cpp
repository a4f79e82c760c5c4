// AVX-512 versions of the engine's kernels (see kernels.hpp), compiled with AVX-512 flags and only called
// when the CPU has AVX512F/BW/VL and AVX512-BF16. This file includes no C++ library header: an inline
// template instantiated here with AVX-512 code could be picked by the linker for the portable path too.
#include <immintrin.h>

#include <cstdint>

#include "model/kernels_raw.hpp"

namespace srl::model::kern::avx512 {

namespace {

constexpr int kV = 16;  // floats per vector

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// exp(x) for x <= 0 within ~2e-7 relative: x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial for
// e^r, scaled by 2^n.
inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 load_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
}

inline __m512 load_kv(const void* base, int64_t idx, bool bf16) {
  return bf16 ? load_bf16(static_cast<const uint16_t*>(base) + idx) : _mm512_loadu_ps(static_cast<const float*>(base) + idx);
}

inline void store_out(float* y, __m512 c, __mmask16 m, bool accumulate) {
  if (accumulate) c = _mm512_add_ps(c, _mm512_maskz_loadu_ps(m, y));
  _mm512_mask_storeu_ps(y, m, c);
}

// Asks for `lines` cache lines from p on (non-temporal hint; T0 and T2 measured the same here).
inline void prefetch_lines(const void* p, int lines) {
  for (int l = 0; l < lines; ++l) _mm_prefetch(static_cast<const char*>(p) + 64 * l, _MM_HINT_NTA);
}

inline __mmask16 lane_mask(int64_t valid, int j) {
  const int64_t v = valid - j * kV;
  if (v >= kV) return 0xFFFF;
  if (v <= 0) return 0;
  return static_cast<__mmask16>((1u << v) - 1u);
}

// R rows x one panel of 64 outputs, bf16 weights in pairs: 4 accumulators per row. The first row tile of
// a block prefetches the weights one chunk ahead (kPrefetchSteps pairs or fp32 inputs: 32 KB, the chunk
// of matmul below), which the later tiles then find in cache. Measured on the base preset: bf16 batch 8
// +8%, batch 16 +4-9%, rollouts of 64 unchanged; fp32 batch 1 +7-14%, batch 16 +5-15%.
constexpr int64_t kPrefetchSteps = 128;
template <int R>
void panel_bf16(const uint32_t* wp, int64_t npairs, const uint32_t* const* xr, float* const* yr, int64_t valid,
                bool accumulate, bool prefetch) {
  __m512 c[R][4];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) c[r][j] = _mm512_setzero_ps();
  for (int64_t ip = 0; ip < npairs; ++ip) {
    const uint32_t* w = wp + ip * kPanel;
    if (prefetch) prefetch_lines(w + kPrefetchSteps * kPanel, 4);  // one step: 64 outputs x 4 bytes
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w), w1 = (__m512bh)_mm512_loadu_si512(w + 16),
                   w2 = (__m512bh)_mm512_loadu_si512(w + 32), w3 = (__m512bh)_mm512_loadu_si512(w + 48);
    for (int r = 0; r < R; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(xr[r][ip]));
      c[r][0] = _mm512_dpbf16_ps(c[r][0], x, w0);
      c[r][1] = _mm512_dpbf16_ps(c[r][1], x, w1);
      c[r][2] = _mm512_dpbf16_ps(c[r][2], x, w2);
      c[r][3] = _mm512_dpbf16_ps(c[r][3], x, w3);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) {
      const __mmask16 m = lane_mask(valid, j);
      if (m) store_out(yr[r] + j * kV, c[r][j], m, accumulate);
    }
}

// The same over a compact panel (kernels_raw.hpp): each pair row's four weight vectors are decoded from
// 128 low bytes and 64 code bytes (two nibble halves, a table shuffle for the high bytes, a byte unpack),
// or read from the escape list. The dot products and their order are panel_bf16's.
//
// Rows 1 to 4 leave the weights as the only large stream, so memory decides the speed. The hardware
// prefetchers run only a few lines ahead and stop at 4 KB page edges; asking for the rows kPrefetchPairs
// ahead (36 KB: 9 pages) keeps more lines in flight. Measured on the base preset at batch 1: +7-9% tokens/s
// in interleaved runs, the same for the NTA, T0 and T2 hints and for 128-256 pairs ahead; 512 ahead loses it.
// Prefetches past the matrix's end are harmless (they never fault).
constexpr int64_t kPrefetchPairs = 192;
template <int R>
void panel_compact(const uint8_t* low, const uint8_t* codes, __m512i table, const uint64_t* escapes, int64_t ip0,
                   int64_t npairs, const uint32_t*& raw, const uint32_t* const* xr, float* const* yr, int64_t valid,
                   bool accumulate) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  __m512 c[R][4];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) c[r][j] = _mm512_setzero_ps();
  for (int64_t i = 0; i < npairs; ++i) {
    const int64_t ip = ip0 + i;
    __m512i w[4];
    if (__builtin_expect((escapes[ip >> 6] >> (ip & 63)) & 1, 0)) {
      for (int j = 0; j < 4; ++j) w[j] = _mm512_loadu_si512(raw + 16 * j);
      raw += kPanel;
    } else {
      prefetch_lines(codes + (i + kPrefetchPairs) * 64, 1);
      prefetch_lines(low + (i + kPrefetchPairs) * 128, 2);
      const __m512i code = _mm512_load_si512(codes + i * 64);
      const __m512i lo0 = _mm512_load_si512(low + i * 128), lo1 = _mm512_load_si512(low + i * 128 + 64);
      const __m512i hi0 = _mm512_shuffle_epi8(table, _mm512_and_si512(code, nibble));
      const __m512i hi1 = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(code, 4), nibble));
      w[0] = _mm512_unpacklo_epi8(lo0, hi0);
      w[1] = _mm512_unpackhi_epi8(lo0, hi0);
      w[2] = _mm512_unpacklo_epi8(lo1, hi1);
      w[3] = _mm512_unpackhi_epi8(lo1, hi1);
    }
    for (int r = 0; r < R; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(xr[r][i]));
      for (int j = 0; j < 4; ++j) c[r][j] = _mm512_dpbf16_ps(c[r][j], x, (__m512bh)w[j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) {
      const __mmask16 m = lane_mask(valid, j);
      if (m) store_out(yr[r] + j * kV, c[r][j], m, accumulate);
    }
}

// The same with fp32 weights, one input per step; the same prefetching.
template <int R>
void panel_f32(const float* wp, int64_t in, const float* const* xr, float* const* yr, int64_t valid, bool accumulate,
               bool prefetch) {
  __m512 c[R][4];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) c[r][j] = _mm512_setzero_ps();
  for (int64_t i = 0; i < in; ++i) {
    const float* w = wp + i * kPanel;
    if (prefetch) prefetch_lines(w + kPrefetchSteps * kPanel, 4);  // one step: 64 outputs x 4 bytes
    const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32),
                 w3 = _mm512_loadu_ps(w + 48);
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(xr[r][i]);
      c[r][0] = _mm512_fmadd_ps(x, w0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(x, w1, c[r][1]);
      c[r][2] = _mm512_fmadd_ps(x, w2, c[r][2]);
      c[r][3] = _mm512_fmadd_ps(x, w3, c[r][3]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) {
      const __mmask16 m = lane_mask(valid, j);
      if (m) store_out(yr[r] + j * kV, c[r][j], m, accumulate);
    }
}

constexpr int kTileRows = 4;       // rows sharing each loaded weight vector

// Calls f(Rows<r>{}) for a row count r in 1..kTileRows: the panel kernels are instantiated per count.
template <int R>
struct Rows {
  static constexpr int value = R;
};
template <class F>
inline void with_rows(int64_t r, F&& f) {
  static_assert(kTileRows == 4, "with_rows dispatches 1 to 4 rows");
  switch (r) {
    case 4: f(Rows<4>{}); break;
    case 3: f(Rows<3>{}); break;
    case 2: f(Rows<2>{}); break;
    default: f(Rows<1>{}); break;
  }
}
constexpr int64_t kRowBlock = 64;  // rows kept hot in cache while the panels stream past
// Inputs per pass over a panel: 128 bf16 pairs or 128 fp32 inputs = 32 KB of weights, which stay in L1
// while every row tile of the block uses them. Later chunks add onto the stored partial sums; the chunk
// boundaries depend only on the input size, so the order of every sum stays independent of the rows.
constexpr int64_t kChunk = 128;

}  // namespace

void matmul(const MatView& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y, int64_t ldy,
            bool accumulate, int64_t p0, int64_t p1) {
  const bool bf16 = w.bf16;
  const int64_t steps = bf16 ? w.in_padded / 2 : w.in;  // pairs or inputs
  static_assert(kCompactRows <= kTileRows, "panel_compact is instantiated for 1 to kTileRows rows");
  if (w.compact && n >= 1 && n <= kCompactRows) {
    // Same chunks and stores as below, so the sums are the raw path's bit for bit.
    const CompactView& cv = *w.compact;
    const int64_t words = (steps + 63) / 64;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t valid = min64(kPanel, w.out - p * kPanel);
      const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)(cv.tables + p * 16)));
      const uint32_t* raw = cv.raw + cv.raw_start[p] * kPanel;
      const uint8_t* low = cv.low + p * steps * 128;
      const uint8_t* codes = cv.codes + p * steps * 64;
      float* yr[kCompactRows];
      const uint32_t* xr[kCompactRows];
      for (int64_t c0 = 0; c0 < steps; c0 += kChunk) {
        const int64_t cn = min64(kChunk, steps - c0);
        const bool acc = accumulate || c0 > 0;
        for (int t = 0; t < n; ++t) {
          yr[t] = y + t * ldy + p * kPanel;
          xr[t] = reinterpret_cast<const uint32_t*>(xb + t * w.in_padded) + c0;
        }
        const uint8_t* lc = low + c0 * 128;
        const uint8_t* cc = codes + c0 * 64;
        const uint64_t* esc = cv.escapes + p * words;
        with_rows(n, [&](auto r) { panel_compact<decltype(r)::value>(lc, cc, table, esc, c0, cn, raw, xr, yr, valid, acc); });
      }
    }
    return;
  }
  for (int64_t r0 = 0; r0 < n; r0 += kRowBlock) {
    const int64_t r1 = min64(n, r0 + kRowBlock);
    for (int64_t p = p0; p < p1; ++p) {
      const uint8_t* wp = w.data + p * w.panel_bytes;
      const int64_t valid = min64(kPanel, w.out - p * kPanel);
      for (int64_t c0 = 0; c0 < steps; c0 += kChunk) {
        const int64_t cn = min64(kChunk, steps - c0);
        const bool acc = accumulate || c0 > 0;
        for (int64_t r = r0; r < r1; r += kTileRows) {
          const int rows = static_cast<int>(min64(kTileRows, r1 - r));
          float* yr[kTileRows];
          for (int t = 0; t < rows; ++t) yr[t] = y + (r + t) * ldy + p * kPanel;
          if (bf16) {
            const uint32_t* xr[kTileRows];
            for (int t = 0; t < rows; ++t) xr[t] = reinterpret_cast<const uint32_t*>(xb + (r + t) * w.in_padded) + c0;
            const auto* wq = reinterpret_cast<const uint32_t*>(wp) + c0 * kPanel;
            with_rows(rows, [&](auto t) { panel_bf16<decltype(t)::value>(wq, cn, xr, yr, valid, acc, r == r0); });
          } else {
            const float* xr[kTileRows];
            for (int t = 0; t < rows; ++t) xr[t] = x + (r + t) * ldx + c0;
            const auto* wf = reinterpret_cast<const float*>(wp) + c0 * kPanel;
            with_rows(rows, [&](auto t) { panel_f32<decltype(t)::value>(wf, cn, xr, yr, valid, acc, r == r0); });
          }
        }
      }
    }
  }
}

void to_bf16_rows(const float* x, int64_t ldx, int64_t n, int64_t in, int64_t in_padded, uint16_t* out) {
  for (int64_t r = 0; r < n; ++r) {
    const float* src = x + r * ldx;
    uint16_t* dst = out + r * in_padded;
    int64_t i = 0;
    for (; i + kV <= in; i += kV)
      _mm256_storeu_si256((__m256i*)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    if (i < in) {
      const __mmask16 m = static_cast<__mmask16>((1u << (in - i)) - 1u);
      _mm256_mask_storeu_epi16(dst + i, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i)));
      i = in;
    }
    for (; i < in_padded; ++i) dst[i] = 0;
  }
}

float rmsnorm(const float* x, const float* w, int64_t d, float eps, float* out) {
  __m512 s = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kV <= d; i += kV) {
    const __m512 v = _mm512_loadu_ps(x + i);
    s = _mm512_fmadd_ps(v, v, s);
  }
  float ss = _mm512_reduce_add_ps(s);
  for (; i < d; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / __builtin_sqrtf(ss / static_cast<float>(d) + eps);
  const __m512 vi = _mm512_set1_ps(inv);
  for (i = 0; i + kV <= d; i += kV)
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(_mm512_loadu_ps(x + i), vi)));
  for (; i < d; ++i) out[i] = w[i] * (x[i] * inv);
  return inv;
}

namespace {

// One query head's scores (len valid, padded to whole key blocks) -> unnormalised exp(s - max), lanes past
// len set to 0; returns 1 / their sum.
inline float softmax_scores(float* s, int64_t len) {
  constexpr int64_t kB = kKeyBlock;
  const int64_t blocks = (len + kB - 1) / kB;
  const __mmask16 tail = static_cast<__mmask16>(len % kB == 0 ? 0xFFFF : (1u << (len % kB)) - 1u);
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  for (int64_t b = 0; b < blocks; ++b)
    m = _mm512_max_ps(m, _mm512_mask_loadu_ps(_mm512_set1_ps(-__builtin_inff()), b + 1 == blocks ? tail : 0xFFFF, s + b * kB));
  const __m512 vmx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const __m512 e = _mm512_maskz_mov_ps(b + 1 == blocks ? tail : 0xFFFF, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(s + b * kB), vmx)));
    _mm512_storeu_ps(s + b * kB, e);
    sum = _mm512_add_ps(sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// Attention with the head count and head size fixed at compile time, so every accumulator lives in a
// register. Independent accumulator chains (4 key blocks at once for scores, even/odd rows for values)
// keep the FMA pipes busy instead of waiting on one chain's latency.
template <int G, int NV>
void attend_fixed(const float* q, const void* k0, const void* v0, int64_t shared_blocks, const void* k1,
                  const void* v1, bool kv_bf16, int64_t len, float* scratch, float* out) {
  constexpr int64_t hd = NV * kV, kB = kKeyBlock, kU = 4;
  const int64_t blocks = (len + kB - 1) / kB, lp = blocks * kB;
  for (int64_t b0 = 0; b0 < blocks; b0 += kU) {
    const int64_t nb = min64(kU, blocks - b0);
    __m512 acc[kU][G];
    const void* kb[kU];
    for (int u = 0; u < kU; ++u) {
      kb[u] = b0 + u < shared_blocks ? k0 : k1;
      for (int g = 0; g < G; ++g) acc[u][g] = _mm512_setzero_ps();
    }
    if (nb == kU) {
      for (int64_t c = 0; c < hd; ++c) {
        __m512 qv[G];
        for (int g = 0; g < G; ++g) qv[g] = _mm512_set1_ps(q[g * hd + c]);
        for (int u = 0; u < kU; ++u) {
          const __m512 kr = load_kv(kb[u], ((b0 + u) * hd + c) * kB, kv_bf16);
          for (int g = 0; g < G; ++g) acc[u][g] = _mm512_fmadd_ps(qv[g], kr, acc[u][g]);
        }
      }
    } else {
      for (int64_t c = 0; c < hd; ++c)
        for (int64_t u = 0; u < nb; ++u) {
          const __m512 kr = load_kv(kb[u], ((b0 + u) * hd + c) * kB, kv_bf16);
          for (int g = 0; g < G; ++g) acc[u][g] = _mm512_fmadd_ps(_mm512_set1_ps(q[g * hd + c]), kr, acc[u][g]);
        }
    }
    for (int64_t u = 0; u < nb; ++u)
      for (int g = 0; g < G; ++g) _mm512_storeu_ps(scratch + g * lp + (b0 + u) * kB, acc[u][g]);
  }
  float inv[G];
  for (int g = 0; g < G; ++g) inv[g] = softmax_scores(scratch + g * lp, len);
  // Weighted sum of value rows, each loaded once for all G heads; even and odd rows in separate sums.
  __m512 o[2][G][NV];
  for (int e = 0; e < 2; ++e)
    for (int g = 0; g < G; ++g)
      for (int c = 0; c < NV; ++c) o[e][g][c] = _mm512_setzero_ps();
  const int64_t split = shared_blocks * kB;
  auto row = [&](int e, int64_t j) {
    const void* v = j < split ? v0 : v1;
    __m512 vr[NV];
    for (int c = 0; c < NV; ++c) vr[c] = load_kv(v, j * hd + c * kV, kv_bf16);
    for (int g = 0; g < G; ++g) {
      const __m512 p = _mm512_set1_ps(scratch[g * lp + j]);
      for (int c = 0; c < NV; ++c) o[e][g][c] = _mm512_fmadd_ps(p, vr[c], o[e][g][c]);
    }
  };
  int64_t j = 0;
  for (; j + 2 <= len; j += 2) {
    row(0, j);
    row(1, j + 1);
  }
  if (j < len) row(0, j);
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < NV; ++c)
      _mm512_storeu_ps(out + g * hd + c * kV, _mm512_mul_ps(_mm512_add_ps(o[0][g][c], o[1][g][c]), _mm512_set1_ps(inv[g])));
}

// The bf16 cache (kernels_raw.hpp layouts): scores and the weighted value sum as AVX512-BF16 dot
// products over pairs (of dimensions for keys, of positions for values), with the query and the
// probabilities rounded to bf16 as libtorch's bf16 attention does; accumulation and softmax in fp32.
template <int G, int NV>
void attend_bf16(const float* q, const void* k0, const void* v0, int64_t shared_blocks, const void* k1, const void* v1,
                 int64_t len, float* scratch, float* out) {
  constexpr int64_t hd = NV * kV, kB = kKeyBlock, kU = 4, hp = hd / 2;
  const int64_t blocks = (len + kB - 1) / kB, lp = blocks * kB;
  uint32_t qp[G][hp];
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < NV; ++c)
      _mm256_storeu_si256((__m256i*)(reinterpret_cast<uint16_t*>(qp[g]) + c * kV),
                          (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(q + g * hd + c * kV)));
  for (int64_t b0 = 0; b0 < blocks; b0 += kU) {
    const int64_t nb = min64(kU, blocks - b0);
    __m512 acc[kU][G];
    const uint16_t* kb[kU];
    for (int u = 0; u < kU; ++u) {
      kb[u] = static_cast<const uint16_t*>(b0 + u < shared_blocks ? k0 : k1) + (b0 + u) * kB * hd;
      for (int g = 0; g < G; ++g) acc[u][g] = _mm512_setzero_ps();
    }
    for (int64_t cp = 0; cp < hp; ++cp) {
      __m512i qv[G];
      for (int g = 0; g < G; ++g) qv[g] = _mm512_set1_epi32(static_cast<int>(qp[g][cp]));
      for (int64_t u = 0; u < nb; ++u) {
        const __m512bh kr = (__m512bh)_mm512_loadu_si512(kb[u] + cp * kB * 2);
        for (int g = 0; g < G; ++g) acc[u][g] = _mm512_dpbf16_ps(acc[u][g], (__m512bh)qv[g], kr);
      }
    }
    for (int64_t u = 0; u < nb; ++u)
      for (int g = 0; g < G; ++g) _mm512_storeu_ps(scratch + g * lp + (b0 + u) * kB, acc[u][g]);
  }
  float inv[G];
  for (int g = 0; g < G; ++g) {
    float* s = scratch + g * lp;
    inv[g] = softmax_scores(s, len);
    // The probabilities as bf16, in place at the start of the row (writes stay behind reads): positions
    // j, j+1 then form the 32-bit pair the value dot product broadcasts; lanes past len are 0.
    auto* pb = reinterpret_cast<uint16_t*>(s);
    for (int64_t b = 0; b < blocks; ++b)
      _mm256_storeu_si256((__m256i*)(pb + b * kB), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s + b * kB)));
  }
  __m512 o[2][G][NV];
  for (int e = 0; e < 2; ++e)
    for (int g = 0; g < G; ++g)
      for (int c = 0; c < NV; ++c) o[e][g][c] = _mm512_setzero_ps();
  const int64_t split = shared_blocks * kB;
  // One pair of positions (j, j+1); `last` = j+1 is beyond len: its lanes are zeroed (they may hold
  // anything, and 0 x NaN is NaN).
  auto pair = [&](int e, int64_t j, bool last) {
    const uint16_t* v = static_cast<const uint16_t*>(j < split ? v0 : v1) + (j / 2) * hd * 2;
    __m512i vr[NV];
    for (int c = 0; c < NV; ++c) {
      vr[c] = _mm512_loadu_si512(v + c * kV * 2);
      if (last) vr[c] = _mm512_and_si512(vr[c], _mm512_set1_epi32(0xFFFF));
    }
    for (int g = 0; g < G; ++g) {
      const auto* pb = reinterpret_cast<const uint32_t*>(scratch + g * lp);
      const __m512bh pv = (__m512bh)_mm512_set1_epi32(static_cast<int>(pb[j / 2]));
      for (int c = 0; c < NV; ++c) o[e][g][c] = _mm512_dpbf16_ps(o[e][g][c], pv, (__m512bh)vr[c]);
    }
  };
  int64_t j = 0;
  for (; j + 4 <= len; j += 4) {
    pair(0, j, false);
    pair(1, j + 2, false);
  }
  for (; j + 2 <= len; j += 2) pair(0, j, false);
  if (j < len) pair(1, j, true);
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < NV; ++c)
      _mm512_storeu_ps(out + g * hd + c * kV, _mm512_mul_ps(_mm512_add_ps(o[0][g][c], o[1][g][c]), _mm512_set1_ps(inv[g])));
}

template <int G>
bool attend_g(int64_t hd, const float* q, const void* k0, const void* v0, int64_t sb, const void* k1, const void* v1,
              bool bf16, int64_t len, float* scratch, float* out) {
  if (bf16) {
    switch (hd) {
      case 16: attend_bf16<G, 1>(q, k0, v0, sb, k1, v1, len, scratch, out); return true;
      case 32: attend_bf16<G, 2>(q, k0, v0, sb, k1, v1, len, scratch, out); return true;
      case 64: attend_bf16<G, 4>(q, k0, v0, sb, k1, v1, len, scratch, out); return true;
      default: return false;
    }
  }
  switch (hd) {
    case 16: attend_fixed<G, 1>(q, k0, v0, sb, k1, v1, bf16, len, scratch, out); return true;
    case 32: attend_fixed<G, 2>(q, k0, v0, sb, k1, v1, bf16, len, scratch, out); return true;
    case 64: attend_fixed<G, 4>(q, k0, v0, sb, k1, v1, bf16, len, scratch, out); return true;
    default: return false;
  }
}

}  // namespace

void attend(const float* q, int64_t G, int64_t hd, const void* k0, const void* v0, int64_t shared_blocks,
            const void* k1, const void* v1, bool kv_bf16, int64_t len, float* scratch, float* out) {
  bool done = false;
  switch (G) {
    case 1: done = attend_g<1>(hd, q, k0, v0, shared_blocks, k1, v1, kv_bf16, len, scratch, out); break;
    case 2: done = attend_g<2>(hd, q, k0, v0, shared_blocks, k1, v1, kv_bf16, len, scratch, out); break;
    case 4: done = attend_g<4>(hd, q, k0, v0, shared_blocks, k1, v1, kv_bf16, len, scratch, out); break;
    default: break;
  }
  if (!done) portable::attend(q, G, hd, k0, v0, shared_blocks, k1, v1, kv_bf16, len, scratch, out);
}

void silu_mul(const float* g, const float* u, int64_t n, float* out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + kV <= n; i += kV) {
    const __m512 gv = _mm512_loadu_ps(g + i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)), _mm512_loadu_ps(u + i)));
  }
  for (; i < n; ++i) out[i] = g[i] / (1.0f + __builtin_expf(-g[i])) * u[i];
}

int64_t argmax(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + kV <= n; i += kV) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  float mx = _mm512_reduce_max_ps(m);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const __m512 vm = _mm512_set1_ps(mx);
  for (i = 0; i + kV <= n; i += kV) {
    const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), vm, _CMP_EQ_OQ);
    if (eq) return i + __builtin_ctz(eq);
  }
  for (; i < n; ++i)
    if (x[i] == mx) return i;
  return 0;  // all NaN
}

void log_softmax_stats(const float* x, int64_t n, float scale, float* max, float* lse) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + kV <= n; i += kV) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  float mx = _mm512_reduce_max_ps(m);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const __m512 vmx = _mm512_set1_ps(mx), vs = _mm512_set1_ps(scale);
  __m512 sum = _mm512_setzero_ps();
  for (i = 0; i + kV <= n; i += kV)
    sum = _mm512_add_ps(sum, exp_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmx), vs)));
  float s = _mm512_reduce_add_ps(sum);
  for (; i < n; ++i) s += __builtin_expf((x[i] - mx) * scale);
  *max = mx;
  *lse = __builtin_logf(s);
}

float softmax_weights(const float* x, int64_t n, float max, float scale, float* out) {
  const __m512 vmx = _mm512_set1_ps(max), vs = _mm512_set1_ps(scale);
  __m512 sum = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kV <= n; i += kV) {
    const __m512 e = exp_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmx), vs));
    _mm512_storeu_ps(out + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  float s = _mm512_reduce_add_ps(sum);
  for (; i < n; ++i) s += (out[i] = __builtin_expf((x[i] - max) * scale));
  return s;
}

}  // namespace srl::model::kern::avx512
