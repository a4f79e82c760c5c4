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

struct MatView {
  bool bf16;
  const uint8_t* data;
  int64_t out, in, in_padded, panel_bytes;
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
