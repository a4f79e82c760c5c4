// Batched sampling with a preallocated KV cache: greedy, temperature, top-k, top-p, per-sequence seeds,
// stop tokens, max new tokens. Prompts of different lengths share one batch (left padding + masks).
// Returns each sampled token's log-prob, which online RL needs as the behaviour policy's log-prob.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/llama.hpp"
#include "text/tokenizer.hpp"

namespace srl::model {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  int64_t max_new_tokens = 128;
  uint64_t seed = 0;  // sequence i uses a stream derived from (seed, i): results don't depend on batch mates
  std::vector<int64_t> stop_ids;
  // Only ids below this are sampled (0 = the whole output layer). The model's vocab_size may exceed the
  // tokenizer's (padded shapes); those extra rows are never valid tokens.
  int64_t vocab_limit = 0;
};

struct Generation {
  std::vector<int64_t> tokens;  // sampled tokens, including the stop token when one ended the sequence
  // log p(token) under the model's distribution at this temperature (log_softmax(logits / T)), before
  // top-k/top-p truncation; at temperature 0 the plain log_softmax.
  std::vector<float> logprobs;
  std::string finish_reason;  // "stop" or "length"
};

// Chat replies with `tok`: stop at the chat format's stop tokens, never sample ids beyond the tokenizer.
void set_chat_stops(SamplingParams& p, const text::Tokenizer& tok);

// Samples one continuation per prompt. On CPU it runs on the inference engine (engine.hpp), in bf16 when
// the weights are bf16 or bf16 autocast is on; elsewhere (CUDA, or SRL_ENGINE=torch) on generate_torch.
// A prompt that is empty or leaves no room in the context is srl::fail naming its index.
std::vector<Generation> generate(Llama& model, const std::vector<std::vector<int64_t>>& prompts,
                                 const SamplingParams& params);
// The libtorch path: the model's own forward with a KV cache, under inference mode in the model's dtype
// (and autocast when on). The reference the engine is tested against.
std::vector<Generation> generate_torch(Llama& model, const std::vector<std::vector<int64_t>>& prompts,
                                       const SamplingParams& params);

// The seed of sequence `index`'s random stream (both generate paths draw from it).
uint64_t stream_seed(uint64_t seed, uint64_t index);

// Picks one token from a row of logits (V floats); exposed for tests. Defined with the engine's draws and
// the finish bookkeeping in sampling.cpp. `u` is a uniform draw in [0, 1).
int64_t sample_token(const float* logits, int64_t V, const SamplingParams& p, double u, float* logprob);

}  // namespace srl::model
