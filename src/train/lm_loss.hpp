// Token batches and the weighted next-token loss shared by SFT and evaluation. Only positions that carry
// weight reach the output projection (model->logits), which saves the vocabulary matmul on prompt tokens.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/llama.hpp"

namespace srl::train {

struct TokenExample {
  std::vector<int> ids;
  std::vector<float> weights;  // weights[i] > 0: ids[i] is a target
};

struct TokenBatch {
  torch::Tensor ids;      // (B, T) int64, right-padded with pad_id
  torch::Tensor weights;  // (B, T) float, 0 on padding
  int64_t real_tokens = 0;
};

TokenBatch make_batch(const std::vector<const TokenExample*>& rows, int64_t pad_id, torch::Device device);

// Sum over targets of weight * -log p(target | prefix), and the total weight (a plain double).
std::pair<torch::Tensor, double> weighted_nll_sum(model::Llama& m, const TokenBatch& b);

}  // namespace srl::train
