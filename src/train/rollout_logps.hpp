// Per-token log-probabilities of RL rollouts: G responses to each of P prompts. The RL trainer needs the
// log-prob of every sampled response token under the current policy (differentiable), the policy before
// the update and the reference (adapters off), at the sampling temperature: log_softmax(logits / T) over
// the whole output layer, in fp32 — the distribution model::generate sampled from and reported.
//
// rollout_logps runs each prompt ONCE (left-padded, into a KV cache of batch P); the cache rows are then
// duplicated for the prompt's responses (index_select, so the gradients of all G responses flow back into
// the one prompt computation) and all R responses continue in one right-padded batch. Only response
// positions reach the output projection. Same approach as sequence_logps.cpp, generalised from 2
// responses to any number per prompt, and per token instead of summed. rollout_logps_unshared is the plain
// reference (each prompt + response its own row); both give the same values and gradients.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/llama.hpp"

namespace srl::train {

struct RolloutBatch {
  std::vector<std::vector<int64_t>> prompts;    // P prompts, each non-empty
  std::vector<std::vector<int64_t>> responses;  // R responses, each non-empty
  std::vector<int64_t> prompt_index;            // R entries: the prompt each response continues
};

struct RolloutLogpOptions {
  double temperature = 1.0;  // > 0; logits are divided by it (as the sampler did)
  bool entropy = false;      // also return each position's entropy of the (tempered) distribution
  bool entropy_grad = false; // let the entropy carry the graph (an entropy bonus); else it is detached
};

struct TokenLogps {
  torch::Tensor logps;    // (R, Tmax) fp32 on the model's device; 0 on padding; carries the graph in grad mode
  torch::Tensor mask;     // (R, Tmax) fp32, 1 on response tokens
  torch::Tensor entropy;  // (R, Tmax) fp32 (same graph rules), undefined unless asked; 0 on padding
};

// Prompt ids, response ids, the index list and prompt + response lengths (within the model's context) are
// checked: a violation is srl::fail naming the row.
TokenLogps rollout_logps(model::Llama& m, const RolloutBatch& b, const RolloutLogpOptions& o);
TokenLogps rollout_logps_unshared(model::Llama& m, const RolloutBatch& b, const RolloutLogpOptions& o);

}  // namespace srl::train
