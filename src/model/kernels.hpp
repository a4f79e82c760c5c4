// CPU kernels of the inference engine (engine.hpp): packed matrix products and the fused elementwise
// steps of a Llama layer. Plain pointers, no libtorch, so the token loop has no per-op dispatch.
//
// Every output element is computed in one fixed order whatever the number of rows in the call (the
// reduction runs over the input dimension, never across rows), so a sequence's numbers do not depend on
// its batch mates: the property continuous batching needs to give a sequence the tokens it gets alone.
//
// Two implementations behind one interface: AVX-512 (with AVX512-BF16 dot products for bf16 weights),
// chosen at run time when the CPU has them, and portable C++ otherwise. docs/PERFORMANCE.md has the design.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/kernels_raw.hpp"

namespace srl::model::kern {

enum class WType { f32, bf16 };

struct AlignedFree {
  void operator()(void* p) const;
};

using AlignedBytes = std::unique_ptr<uint8_t[], AlignedFree>;

// Uninitialised bytes aligned to 64 or, from 2 MB up, to 2 MB with their whole 2 MB pages backed by
// transparent huge pages (asked for with madvise, as this kernel's THP mode requires). The engine streams
// its KV cache and weights from memory every step; with 4 KB pages the TLB misses every 64 cache lines and
// the hardware prefetchers stop at each page boundary. Measured: rollouts --preset base --batch 64 +2-6%.
AlignedBytes alloc_bytes(size_t bytes);

// Storage of a CompactView (kernels_raw.hpp).
struct CompactMatrix {
  std::shared_ptr<uint8_t> storage;  // holds low and codes; pool_compact makes one shared by many matrices
  uint8_t* low = nullptr;            // rows * 128 bytes
  uint8_t* codes = nullptr;          // rows * 64 bytes
  std::vector<uint8_t> tables;
  std::vector<uint64_t> escapes;
  std::vector<uint32_t> raw;
  std::vector<int64_t> raw_start;
  int64_t escaped_rows = 0, rows = 0;  // pair rows stored raw, of all
  CompactView view{};
  size_t storage_bytes() const { return static_cast<size_t>(rows) * (128 + 64); }  // low + codes
  int64_t bytes() const;
};

struct PackedMatrix {
  WType type = WType::f32;
  int64_t out = 0, in = 0;        // logical shape of W (out, in), HF layout
  int64_t in_padded = 0;          // in rounded up to even (bf16 pairs)
  int64_t panels = 0;             // ceil(out / kPanel)
  AlignedBytes data;
  std::unique_ptr<CompactMatrix> compact;  // bf16 only, where the AVX-512 kernels can use it
  int64_t panel_bytes() const { return (type == WType::f32 ? 4 : 2) * in_padded * kPanel; }
  MatView view() const {
    return {type == WType::bf16, data.get(), out, in, in_padded, panel_bytes(), compact ? &compact->view : nullptr};
  }
};

// Packs W (out x in, row-major fp32) for matmul. bf16 rounds to nearest even, as a cast would. bf16
// matrices also get their compact form (kernels_raw.hpp) when the CPU runs the AVX-512 kernels and few
// pair rows need escaping; products of up to kCompactRows rows read it instead of the raw panels.
PackedMatrix pack(const float* w, int64_t out, int64_t in, WType type);

// Builds the compact form of a packed bf16 matrix (null when more than `max_escaped` of its pair rows would
// be stored raw). Exposed for the tests.
std::unique_ptr<CompactMatrix> compact_form(const PackedMatrix& m, double max_escaped);

// Moves the compact forms of `ms` (those that have one) into one allocation. Most matrices are smaller
// than a 2 MB page, so on their own they sit on 4 KB pages (alloc_bytes); together they fill huge pages,
// and the few-row products, which stream all of them every token, miss the TLB 512 times less often.
// Measured on the base preset at batch 1: +4-7% tokens/s.
void pool_compact(const std::vector<PackedMatrix*>& ms);

// y[r, o] (+)= sum_i x[r, i] * W[o, i] for rows r < n and output panels [p0, p1). x has row stride ldx, y
// row stride ldy. With bf16 weights x must be given as bf16 (`xb`, row stride in_padded, see to_bf16_rows):
// the activations are rounded to bf16 like autocast does, products accumulate in fp32.
void matmul(const PackedMatrix& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y,
            int64_t ldy, bool accumulate, int64_t p0, int64_t p1);

// Rounds n rows of `in` floats (stride ldx) to bf16 rows of `in_padded` (zero-padded).
void to_bf16_rows(const float* x, int64_t ldx, int64_t n, int64_t in, int64_t in_padded, uint16_t* out);

// out[i] = x[i] / rms(x) * w[i] (statistics in fp32), for one row of d. Returns 1 / rms(x).
float rmsnorm(const float* x, const float* w, int64_t d, float eps, float* out);

// Gradient of one rmsnorm row (inv = the forward's 1 / rms(x)): dx from dout, and dout * x * inv added
// to dw.
void rmsnorm_backward(const float* x, const float* w, int64_t d, float inv, const float* dout, float* dx, float* dw);

// Rotates `heads` heads of hd (rotate_half convention) in place with the cos/sin rows of one position
// (hd/2 values each), then scales them.
void rope(float* x, int64_t heads, int64_t hd, const float* cos, const float* sin, float scale);

// out[i] = silu(g[i]) * u[i].
void silu_mul(const float* g, const float* u, int64_t n, float* out);

// One query row's attention over `len` cached positions of one kv head: G query heads (each hd, already
// scaled), blocked keys and row-major values (fp32 or bf16), writes G outputs of hd. The first
// `shared_blocks` key blocks (and their value rows) are read from `k0`/`v0` (a prompt prefix shared with
// other sequences), the rest from `k`/`v`; both are indexed by position. `scratch` holds
// G * round_up(len, kKeyBlock) floats.
void attend(const float* q, int64_t G, int64_t hd, const void* k0, const void* v0, int64_t shared_blocks,
            const void* k, const void* v, bool kv_bf16, int64_t len, float* scratch, float* out);

// Stores one position's key or value (hd floats) into a kv head's cache, in the cache's type and layout.
void store_key(const float* x, int64_t hd, void* head, int64_t pos, bool kv_bf16);
void store_value(const float* x, int64_t hd, void* head, int64_t pos, bool kv_bf16);

// max and log(sum(exp((x - max) * scale))) of a row: the pieces of log_softmax(x * scale).
void log_softmax_stats(const float* x, int64_t n, float scale, float* max, float* lse);

// out[i] = exp((x[i] - max) * scale) for i < n; returns their sum.
float softmax_weights(const float* x, int64_t n, float max, float scale, float* out);

// bf16 values (their bits) to fp32.
void bf16_to_float(const uint16_t* x, int64_t n, float* out);

// Index of the largest of the first n values (the lowest index among ties).
int64_t argmax(const float* x, int64_t n);

// Index of the first w[i] at which the running sum of w exceeds target (n - 1 if none does). Sums run in
// chunks of 64 (fp32 within a chunk, double across chunks).
int64_t cumulative_search(const float* w, int64_t n, double target);

// Which implementation runs ("avx512-bf16" or "portable").
std::string implementation();

// Tests run both paths: forces the portable one while set.
void force_portable(bool on);

}  // namespace srl::model::kern
