// Llama hyper-parameters, read from and written to a Hugging Face `LlamaConfig`-compatible config.json.
// The presets `tiny`, `small`, `base` have exactly the shapes of shared/bench/presets.json.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace srl::model {

struct LlamaConfig {
  int64_t vocab_size = 2048;
  int64_t hidden_size = 128;
  int64_t intermediate_size = 352;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t max_position_embeddings = 512;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = true;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  std::string torch_dtype = "float32";

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Checks shapes are consistent (heads divide hidden, kv heads divide heads, even head_dim, ...).
  void validate(const std::string& where) const;
  int64_t num_parameters() const;

  // Unknown HF keys are ignored (HF configs carry many); missing required ones are errors naming `where`.
  static LlamaConfig from_json(const nlohmann::json& j, const std::string& where);
  static LlamaConfig load(const std::string& path);
  nlohmann::json to_json() const;
  static LlamaConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();
};

}  // namespace srl::model
