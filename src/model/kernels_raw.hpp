// The kernels' two implementations (AVX-512 and portable) behind kernels.hpp, on plain pointers. This
// header includes no C++ library header, so the AVX-512 file instantiates no shared inline code (which
// the linker could otherwise pick for machines without AVX-512).
#pragma once
#include <cstdint>

namespace srl::model::kern {

// Output rows are grouped in panels of kPanel; a panel's weights are contiguous, ordered by input index
// (f32: [in][kPanel]; bf16: [in/2][kPanel][2], the pair layout of the AVX512-BF16 dot product).
constexpr int64_t kPanel = 64;

// Keys are cached in blocks of kKeyBlock positions, transposed within a block ([hd][kKeyBlock]), so
// a block's scores are kKeyBlock-wide vector products with no horizontal sums; values stay [pos][hd].
constexpr int64_t kKeyBlock = 16;

// Element (pos, c) of one kv head's keys or values in the cache. fp32: keys [block][hd][kKeyBlock], values
// [pos][hd]. bf16, in pairs for the AVX512-BF16 dot product: keys [block][hd/2][kKeyBlock][2] (pairs of
// dimensions), values [pos/2][hd][2] (pairs of positions).
inline int64_t key_offset(int64_t pos, int64_t c, int64_t hd, bool bf16) {
  const int64_t b = pos / kKeyBlock, j = pos % kKeyBlock;
  return b * kKeyBlock * hd + (bf16 ? ((c / 2) * kKeyBlock + j) * 2 + c % 2 : c * kKeyBlock + j);
}
inline int64_t value_offset(int64_t pos, int64_t c, int64_t hd, bool bf16) {
  return bf16 ? ((pos / 2) * hd + c) * 2 + pos % 2 : pos * hd + c;
}

// A bf16 matrix in an exact 12-bit form, for products of a few rows, which are bound by reading the
// weights. A bf16 value is a low byte (exponent LSB, 7 mantissa bits), kept as is, and a high byte (sign,
// 7 exponent MSBs); within one panel the exponent MSBs of almost all weights fall in a window of 8, so the
// high byte becomes a 4-bit code (sign, offset in the window) and a 16-entry table per panel turns it back
// (one byte shuffle). A pair row (the 128 weights of one input pair, 64 outputs) holding a weight outside
// the window is stored raw instead and flagged. Decoding gives the packed bf16 words bit for bit, so
// products are identical to the raw layout's. docs/PERFORMANCE.md measures it.
struct CompactView {
  const uint8_t* low;         // [panel][pair][2 groups][64]: low bytes, in the byte-interleave order below
  const uint8_t* codes;       // [panel][pair][64]: byte k = code of group 0 value k | code of group 1 value k << 4
  const uint8_t* tables;      // [panel][16]: code -> high byte
  const uint64_t* escapes;    // [panel][ceil(pairs / 64)]: bit per pair row stored raw
  const uint32_t* raw;        // escaped pair rows (kPanel packed words each), in panel and pair order
  const int64_t* raw_start;   // [panel]: index in `raw` (in pair rows) of the panel's first escaped row
};

// Stored position q (0..63) of a group's byte holds the value with index compact_source(q) among the
// group's 64 bf16 values (a pair row's 128 values are the packed words' halves, group = value / 64): the
// AVX-512 byte unpack interleaves within 128-bit lanes.
inline int64_t compact_source(int64_t q) { return (q / 8) % 2 * 32 + q / 16 * 8 + q % 8; }

// Products of at most this many rows (one register tile) read the compact form. Measured on the base
// preset, bf16: 1 row +37%, 2 rows +37%, 4 rows +20-45% tokens/s; beyond a tile the decoding would repeat per
// tile while the weights are reused enough per load to leave memory idle.
constexpr int64_t kCompactRows = 4;

struct MatView {
  bool bf16;
  const uint8_t* data;
  int64_t out, in, in_padded, panel_bytes;
  const CompactView* compact;  // null when the matrix has no compact form
};

#define SRL_KERNEL_SET                                                                                        \
  void matmul(const MatView& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y,        \
              int64_t ldy, bool accumulate, int64_t p0, int64_t p1);                                          \
  void to_bf16_rows(const float* x, int64_t ldx, int64_t n, int64_t in, int64_t in_padded, uint16_t* out);    \
  float rmsnorm(const float* x, const float* w, int64_t d, float eps, float* out);                           \
  void attend(const float* q, int64_t G, int64_t hd, const void* k0, const void* v0, int64_t shared_blocks,  \
              const void* k, const void* v, bool kv_bf16, int64_t len, float* scratch, float* out);           \
  void log_softmax_stats(const float* x, int64_t n, float scale, float* max, float* lse);                     \
  float softmax_weights(const float* x, int64_t n, float max, float scale, float* out);                      \
  void silu_mul(const float* g, const float* u, int64_t n, float* out);                                       \
  int64_t argmax(const float* x, int64_t n);

namespace portable {
SRL_KERNEL_SET
}
namespace avx512 {
SRL_KERNEL_SET
}
#undef SRL_KERNEL_SET

}  // namespace srl::model::kern
