// Sequence log-probabilities of (prompt, response) pairs: the contract DPO, RL and evaluation use.
// For each row, sum over response tokens of log p(token | prompt + earlier response tokens), under the
// model's full output distribution (log_softmax over the whole vocabulary, fp32), differentiable.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/llama.hpp"

namespace srl::train {

// One row per pair: a shared prompt and two responses. Every prompt and response must be non-empty, ids
// inside the vocabulary, and prompt + each response within the model's context.
struct PairedSequences {
  std::vector<std::vector<int64_t>> prompts, chosen, rejected;
};

// (B,) float tensors on the model's device: summed response log-probs and response token counts.
struct SequenceLogps {
  torch::Tensor chosen, rejected;
  torch::Tensor chosen_tokens, rejected_tokens;
};

// Reference: each (prompt + response) as its own right-padded row, one full causal forward.
SequenceLogps sequence_logps_unshared(model::Llama& m, const PairedSequences& b);

// Prefix-shared: each prompt is run ONCE (left-padded, into a KV cache of batch B); the cache rows are
// then duplicated (index_select, so gradients of both responses flow back into the one prompt
// computation) and both responses continue from it in one batch of 2B (right-padded). Only response
// positions reach the output projection. Same numbers and gradients as sequence_logps_unshared.
SequenceLogps sequence_logps(model::Llama& m, const PairedSequences& b);

// The prefix-shared forward for any number of responses per prompt (RL groups use it too): each prompt
// runs once (left-padded) into a KV cache whose rows are duplicated for the responses (response r
// continues prompts[prompt_index[r]]), gradients flowing back into the one prompt computation. Returns
// (R, 1 + Tc, D) final-norm hidden states; column j is the state after the prompt and the first j tokens
// of the response (right padding beyond its length); Tc as below. Inputs are assumed validated (ids in
// the vocabulary, non-empty, within the context).
torch::Tensor prefix_shared_forward(model::Llama& m, const std::vector<std::vector<int64_t>>& prompts,
                                    const std::vector<const std::vector<int64_t>*>& responses,
                                    const std::vector<int64_t>& prompt_index, bool through_last_token);

// The pair case of prefix_shared_forward: (2B, 1 + Tc, D) final-norm hidden states, rows = chosen 0..B-1 then
// rejected; column j is the state after the prompt and the first j response tokens (right padding
// beyond a row's length). Tc = longest response - 1 for log-probs (the last token is only a target), or
// the longest response when through_last_token (reward-model pooling needs the state after it).
torch::Tensor prefix_shared_hidden(model::Llama& m, const PairedSequences& b, bool through_last_token);

// Reward-model pooling: (2B, D) hidden state at each row's true last token (the last response token,
// whatever the padding of its batch mates), prompts run once. `_unshared` is the plain right-padded
// reference computation.
torch::Tensor last_token_hidden(model::Llama& m, const PairedSequences& b);
torch::Tensor last_token_hidden_unshared(model::Llama& m, const PairedSequences& b);

}  // namespace srl::train
