// The CPU inference engine: Llama decoding without libtorch in the token loop. Weights are packed once per
// model state (LoRA folded in), the KV cache is preallocated per sequence slot, and each step runs one
// fused pass over all rows of all running sequences: prompt tokens of sequences that just joined (batched
// prefill) and the last sampled token of the others (decode). Sequences join and leave between steps
// (continuous batching), each with its own sampling parameters, stop tokens and random stream.
//
// A sequence's numbers never depend on its batch mates (kernels.hpp), so it gets the same tokens alone or
// in any batch. The libtorch forward (llama.hpp) stays the reference and the path for training and CUDA.
// Design and roofline: docs/PERFORMANCE.md.
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/generate.hpp"
#include "model/llama.hpp"

namespace srl::model {

enum class EnginePrecision {
  f32,   // fp32 weights and activations: the reference numbers within float rounding
  bf16,  // bf16 weights and matmul inputs, fp32 accumulation, norms and softmax (autocast's numbers); bf16 KV cache
};

struct EngineWeights;  // packed snapshot of one model state

// The packed weights of `model` as it is now (adapters as switched). Snapshots are cached per model
// state, so alternating policy and reference (adapters on/off) does not repack every call.
std::shared_ptr<const EngineWeights> engine_weights(Llama& model, EnginePrecision precision);

class DecodeEngine {
 public:
  // Up to `max_sequences` run at once, each with room for `capacity` tokens (prompt + generated).
  DecodeEngine(std::shared_ptr<const EngineWeights> weights, int64_t max_sequences, int64_t capacity);
  ~DecodeEngine();
  DecodeEngine(const DecodeEngine&) = delete;
  DecodeEngine& operator=(const DecodeEngine&) = delete;

  // Queues a sequence; it joins at the next step with a free slot. `stream` picks its random stream
  // (with params.seed): generate() passes the prompt's index, as the libtorch path does. Returns its id.
  // A prompt that is empty, has ids outside the vocabulary or leaves no room is srl::fail.
  int64_t submit(const std::vector<int64_t>& prompt, const SamplingParams& params, uint64_t stream);
  // One step: prefill for sequences that join, one new token for every running one. Returns the ids that
  // finished in this step (their results stay until take()).
  std::vector<int64_t> step();
  bool busy() const;
  bool finished(int64_t id) const;
  Generation take(int64_t id);  // a finished sequence's result; forgets it

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether generate() can use the engine for this model (CPU weights; SRL_ENGINE=torch turns it off).
bool engine_enabled(Llama& model);
// The precision generate() runs the engine in: bf16 when the weights are bf16 or bf16 autocast is on.
EnginePrecision engine_precision(Llama& model);

// generate() on the engine: all prompts join at once. Same contract as generate().
std::vector<Generation> generate_with_engine(Llama& model, const std::vector<std::vector<int64_t>>& prompts,
                                             const SamplingParams& params, EnginePrecision precision);

}  // namespace srl::model
