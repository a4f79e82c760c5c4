// The layer forward of one engine step: embeddings, every layer (norm, q|k|v product, RoPE and the KV
// cache writes, attention, o product, norm, gate|up product, SiLU·up, down product) and the output layer's
// logits for each sequence's last row, on one thread team as StepPlan says.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

#include "model/engine_plan.hpp"
#include "model/engine_slots.hpp"
#include "model/engine_weights.hpp"

namespace srl::model {

// Where a step's time goes (SRL_ENGINE_PROFILE=1 prints it when the engine ends): matrix products,
// attention, sampling, everything else.
struct EngineProfile {
  using Clock = std::chrono::steady_clock;
  static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
  double matmul = 0, attention = 0, sample = 0, total = 0;  // seconds
  int64_t steps = 0, rows = 0;
};

// Letters: N rows of the step, S sequences, D hidden, H query heads, KV kv heads, hd head dim,
// QKV = (H + 2 KV) hd, F intermediate, V vocabulary, W = max(D, F, H hd) the widest product input,
// M = max(N, S), T team threads. Grown as steps need, never shrunk.
struct StepBuffers {
  std::vector<float> x;       // (N, D) residual stream of the step's rows
  std::vector<float> h;       // (M, D) normed rows, when the team splits the norm
  std::vector<float> qkv;     // (N, QKV) q | k | v per row; q (scaled) and k rotated in place
  std::vector<float> att;     // (N, H hd) attention outputs
  std::vector<float> gu;      // (N, 2 F) gate | up per row
  std::vector<float> act;     // (N, F) silu(gate) * up, when the team splits it
  std::vector<float> logits;  // (S, V) of each sequence's last row
  std::vector<uint16_t> xb;   // (M, W + 1) product inputs rounded to bf16, when the team splits them
  // Per team thread: the product inputs it computes for itself (M, W), their bf16 rounding (M, W + 1), and
  // attention scratch (G (cap_store + kKeyBlock)) with G = H / KV.
  std::vector<std::vector<float>> own_in, own_scratch;
  std::vector<std::vector<uint16_t>> own_xb;

  // Makes room for `plan` on a model `c` with KV slots of `cap_store` positions.
  void grow(const LlamaConfig& c, const StepPlan& plan, int64_t cap_store);
};

// Runs the layers over plan.rows, writes their keys and values into their slots and leaves each
// sequence's logits in buf.logits. Adds its matmul and attention time to `prof`.
void forward_step(const EngineWeights& w, EngineSlots& slots, const StepPlan& plan, StepBuffers& buf,
                  EngineProfile& prof);

}  // namespace srl::model
