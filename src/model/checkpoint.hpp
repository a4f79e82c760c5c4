// Model checkpoints on disk (docs/checkpoint_format.md): config.json (HF LlamaConfig), model.safetensors
// (HF tensor names), tokenizer.model, and with LoRA the PEFT pair adapter_model.safetensors +
// adapter_config.json. A COMPLETE marker is written last, so a half-written directory is never loaded.
#pragma once
#include <optional>
#include <string>

#include "model/llama.hpp"
#include "text/tokenizer.hpp"

namespace srl::model {

struct LoadedModel {
  Llama model{nullptr};
  text::Tokenizer tokenizer;
  std::string dir;  // the checkpoint directory actually read
};

// Writes the model files into `dir` (created), each atomically. Does not write COMPLETE: callers add
// their own files (trainer state) first and then call mark_complete(dir).
void save_model_files(const std::string& dir, Llama& model, const text::Tokenizer& tok,
                      const std::string& base_model_name = "");
void mark_complete(const std::string& dir);

// `path` is a run directory (its `final` link or newest complete checkpoint is used) or a checkpoint
// directory. LoRA adapters found there are attached (not merged). Any problem is srl::fail naming the file.
LoadedModel load_model(const std::string& path);

// Attaches the PEFT LoRA adapter in `dir` (adapter_config.json + adapter_model.safetensors) to `m`.
void load_adapter(Llama& m, const std::string& dir);

// A fresh randomly initialised model for a tokenizer; the config's vocab must cover the tokenizer's.
Llama init_model(const LlamaConfig& config, const text::Tokenizer& tok, uint64_t seed);

}  // namespace srl::model
