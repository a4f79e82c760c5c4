// Sampling, shared by both generate paths: picking a token from a row of logits (sample_token in
// generate.hpp, and the engine's faster draws for the common cases, which give the same tokens) and the
// bookkeeping of one sequence from its prompt to its finish.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/generate.hpp"
#include "model/llama_config.hpp"

namespace srl::model {

// A prompt either path can run: not empty, ids inside the vocabulary, and shorter than `room` positions
// (the model's context, or an engine's smaller capacity). Else srl::fail at `where`.
void check_prompt(const std::string& where, const std::vector<int64_t>& prompt, int64_t room, const LlamaConfig& c);

// One sequence's output while it is sampled, and when it ends: at one of the stop tokens ("stop") or once
// its budget of new tokens is spent ("length").
struct SequenceOutput {
  Generation gen;
  int64_t budget = 0;  // new tokens allowed
  bool done = false;

  SequenceOutput() = default;
  // The budget is max_new_tokens, cut so that the prompt of `prompt_len` and the new tokens fit in `room`
  // positions. A sequence with no budget has ended ("length").
  SequenceOutput(const SamplingParams& p, int64_t prompt_len, int64_t room);
  // Records a sampled token and its log-prob (srl::fail_internal when the log-prob is not finite) and ends
  // the sequence at a stop token or when the budget is spent.
  void add(int64_t token, float logprob, const SamplingParams& p);
};

struct SampledToken {
  int64_t token;
  float logprob;
};

// The engine's draw from one row of V logits with the sequence's random stream: the tokens and log-probs
// of sample_token, with a uniform drawn from `rng` unless greedy. Greedy and plain temperature sampling
// take vectorised kernels; top-k/top-p go through sample_token. Safe to call on several threads at once
// (one row and stream each).
SampledToken sample_row(const float* row, int64_t V, const SamplingParams& p, std::mt19937_64& rng);

}  // namespace srl::model
