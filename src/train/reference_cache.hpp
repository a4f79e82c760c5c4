// Reference log-probs for DPO: the summed response log-probs of every pair under the reference model
// (the same weights with LoRA adapters OFF, eval mode, no grad), computed once per split and kept on disk
// so training never runs the reference again. A cache is only reused when its key matches:
//   data      the tokenized pairs (prompt, chosen, rejected ids in order): covers the data file's
//             content, the winner labels, ties/skips, truncation limits and the tokenizer's effect
//   weights   the reference model: config.json + every base tensor's bytes (after any LoRA merge)
//   tokenizer tokenizer.model bytes
//   dtype     fp32 | bf16 (autocast changes the numbers), and the device
// Files: <dir>/<split>.safetensors (float32 "chosen", "rejected", shape (N,), the key in its metadata) and
// <dir>/<split>.json (the key and its parts, for people and for saying what changed). Both are written
// atomically, the tensors first; a stale, partial or corrupt cache is recomputed with a log line saying
// why, never reused and never an error (it is derived data).
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "model/llama.hpp"
#include "text/tokenizer.hpp"
#include "train/compute.hpp"
#include "train/preference_tokens.hpp"

namespace srl::train {

inline constexpr const char* kReferenceCacheFormat = "srl-reference-logps-v1";

// Switches a model to its reference for the guard's lifetime: adapters off, eval mode (no dropout).
// Restores both on exit. Gradients are the caller's business (torch::NoGradGuard).
class ReferenceModeGuard {
 public:
  explicit ReferenceModeGuard(model::Llama& m);
  ~ReferenceModeGuard();
  ReferenceModeGuard(const ReferenceModeGuard&) = delete;
  ReferenceModeGuard& operator=(const ReferenceModeGuard&) = delete;

 private:
  model::Llama m_;
  bool adapters_, training_;
};

struct ReferenceCacheKey {
  std::string data, weights, tokenizer, dtype, device;
  std::string digest() const;  // one hash of all parts and the format name
  nlohmann::json to_json() const;
  // Names of the parts that differ from a stored key file's "parts" ("data", "weights", ...).
  std::vector<std::string> differing_parts(const nlohmann::json& stored_parts) const;
};

// Hash of the tokenized pairs exactly as the trainer uses them (chosen() and rejected()).
std::string pairs_hash(const std::vector<TokenizedPair>& pairs);
// Hash of config.json + the base tensors (names, shapes, fp32 bytes); LoRA adapters are not part of it.
std::string base_weights_hash(model::Llama& m);
ReferenceCacheKey reference_cache_key(model::Llama& m, const text::Tokenizer& tok,
                                      const std::vector<TokenizedPair>& pairs, const Compute& cmp);

// (N,) float32 CPU tensors in pair order.
struct ReferenceLogps {
  torch::Tensor chosen, rejected;
};

// The reference log-probs without any cache: pairs sorted by length into batches of `batch_size`,
// prefix-shared (sequence_logps), under bf16 autocast when cmp.bf16. The model's adapter switch and
// train/eval mode are restored afterwards.
ReferenceLogps compute_reference_logps(model::Llama& m, const std::vector<TokenizedPair>& pairs, const Compute& cmp,
                                       int64_t batch_size);

struct CachedReference {
  ReferenceLogps logps;
  bool hit = false;  // true: read from disk; false: computed (and written) now
  std::string path;  // the .safetensors file
  std::string why;   // for a miss: what made the stored cache unusable ("no cache yet", "data changed", ...)
};

// <cache_dir>/<split>.safetensors when its key matches reference_cache_key(...), else computed with
// compute_reference_logps and written there (with <split>.json). Logs one line either way.
CachedReference load_or_compute_reference_logps(model::Llama& m, const text::Tokenizer& tok,
                                                const std::vector<TokenizedPair>& pairs, const std::string& cache_dir,
                                                const std::string& split, const Compute& cmp, int64_t batch_size);

}  // namespace srl::train
