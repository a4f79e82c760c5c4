// Preallocated key/value cache for batched decoding: one [B, KV, capacity, hd] buffer per layer, written in
// place (no per-step concatenation). Rows are left-padded to a common length; `key_valid` marks real tokens.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/llama_config.hpp"

namespace srl::model {

struct KVCache {
  std::vector<torch::Tensor> k, v;  // per layer (B, KV, capacity, hd)
  torch::Tensor key_valid;          // (B, capacity) bool: false for left padding
  int64_t len = 0;                  // filled positions, the same for every row
  bool has_padding = false;         // any false in key_valid[:, :len] (forces an attention mask)

  int64_t capacity() const { return key_valid.size(1); }

  static KVCache allocate(const LlamaConfig& c, int64_t batch, int64_t capacity, torch::Dtype dtype,
                          torch::Device device) {
    KVCache kc;
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      kc.k.push_back(torch::zeros({batch, c.num_key_value_heads, capacity, c.head_dim()}, opts));
      kc.v.push_back(torch::zeros({batch, c.num_key_value_heads, capacity, c.head_dim()}, opts));
    }
    kc.key_valid = torch::ones({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(device));
    return kc;
  }
};

}  // namespace srl::model
