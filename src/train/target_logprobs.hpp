// log p(target) of each row of a logits matrix, with its gradient, fused: one pass over each row of the
// vocabulary forward (max and log-sum-exp) and one backward (softmax minus the one-hot), in fp32 whatever
// the logits' dtype. Replaces log_softmax + gather (or cross_entropy) on bf16 logits, which converts the
// whole (N, V) matrix to fp32, keeps the fp32 log-probs for backward and makes three more passes.
#pragma once
#include <torch/torch.h>

namespace srl::train {

// logits (N, V) fp32 or bf16, targets (N,) int64 -> (N,) fp32. Differentiable in logits. CPU uses the fused
// kernels; other devices the libtorch composite (the reference the tests compare against).
torch::Tensor target_logprobs(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace srl::train
