// The engine's packed weights: one snapshot of a model state (LoRA folded in), laid out for the kernels
// (kernels.hpp), with the RoPE tables. Built by engine_weights() (engine.hpp), read by the layer forward.
// Private to the engine; callers hold it only as the opaque EngineWeights of engine.hpp.
#pragma once
#include <cstdint>
#include <vector>

#include "model/engine.hpp"
#include "model/kernels.hpp"
#include "model/llama_config.hpp"

namespace srl::model {

// Letters: V vocabulary, D hidden, H query heads, KV key/value heads, hd head dim, F intermediate.
struct EngineWeights {
  LlamaConfig cfg;
  EnginePrecision precision = EnginePrecision::f32;
  struct Layer {
    kern::PackedMatrix qkv;      // ((H + 2 KV) hd, D): q | k | v
    kern::PackedMatrix o;        // (D, H hd)
    kern::PackedMatrix gate_up;  // (2 F, D): gate | up
    kern::PackedMatrix down;     // (D, F)
    std::vector<float> input_norm, post_norm;  // (D) each
  };
  std::vector<float> embed;  // (V, D) fp32
  std::vector<Layer> layers;
  std::vector<float> final_norm;          // (D)
  kern::PackedMatrix lm_head;             // (V, D)
  std::vector<float> rope_cos, rope_sin;  // (max_pos, hd/2)
  double macs_per_row = 0;                // of all products, per row of a step

  // One line on what a few-row step reads (the compact form where a matrix has one), for the profile.
  std::string describe_storage() const;
};

}  // namespace srl::model
