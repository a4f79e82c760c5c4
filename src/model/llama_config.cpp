#include "model/llama_config.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace srl::model {

void LlamaConfig::validate(const std::string& where) const {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) fail(where, what);
  };
  need(vocab_size > 0, "vocab_size must be positive");
  need(hidden_size > 0 && num_attention_heads > 0, "hidden_size and num_attention_heads must be positive");
  need(hidden_size % num_attention_heads == 0, "hidden_size must be divisible by num_attention_heads");
  need(num_key_value_heads > 0 && num_attention_heads % num_key_value_heads == 0,
       "num_attention_heads must be divisible by num_key_value_heads");
  need(head_dim() % 2 == 0, "head_dim (hidden_size / num_attention_heads) must be even for rotary embeddings");
  need(intermediate_size > 0, "intermediate_size must be positive");
  need(num_hidden_layers > 0, "num_hidden_layers must be positive");
  need(max_position_embeddings > 0, "max_position_embeddings must be positive");
  need(rope_theta > 0, "rope_theta must be positive");
  need(rms_norm_eps > 0, "rms_norm_eps must be positive");
}

int64_t LlamaConfig::num_parameters() const {
  const int64_t d = hidden_size, kv = num_key_value_heads * head_dim();
  int64_t per_layer = d * d * 2 + d * kv * 2 + 3 * d * intermediate_size + 2 * d;
  return vocab_size * d * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + d;
}

LlamaConfig LlamaConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "config must be a JSON object");
  LlamaConfig c;
  auto get_int = [&](const char* key, int64_t& out, bool required) {
    if (!j.contains(key) || j[key].is_null()) {
      if (required) fail(where, std::string("missing required key '") + key + "'");
      return;
    }
    if (!j[key].is_number_integer()) fail(where, std::string(key) + ": expected an integer");
    out = j[key].get<int64_t>();
  };
  auto get_num = [&](const char* key, double& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_number()) fail(where, std::string(key) + ": expected a number");
    out = j[key].get<double>();
  };
  get_int("vocab_size", c.vocab_size, true);
  get_int("hidden_size", c.hidden_size, true);
  get_int("intermediate_size", c.intermediate_size, true);
  get_int("num_hidden_layers", c.num_hidden_layers, true);
  get_int("num_attention_heads", c.num_attention_heads, true);
  c.num_key_value_heads = c.num_attention_heads;  // HF default when absent
  get_int("num_key_value_heads", c.num_key_value_heads, false);
  get_int("max_position_embeddings", c.max_position_embeddings, false);
  get_num("rope_theta", c.rope_theta);
  get_num("rms_norm_eps", c.rms_norm_eps);
  get_int("bos_token_id", c.bos_token_id, false);
  get_int("eos_token_id", c.eos_token_id, false);
  c.tie_word_embeddings = false;  // HF LlamaConfig default
  if (j.contains("tie_word_embeddings")) {
    if (!j["tie_word_embeddings"].is_boolean()) fail(where, "tie_word_embeddings: expected true or false");
    c.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
  }
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].get<std::string>();
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    fail(where, "rope_scaling is not supported");
  if (j.contains("hidden_act") && j["hidden_act"] != "silu") fail(where, "hidden_act must be 'silu'");
  c.validate(where);
  return c;
}

LlamaConfig LlamaConfig::load(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
  return from_json(j, path);
}

nlohmann::json LlamaConfig::to_json() const {
  return nlohmann::json{{"architectures", {"LlamaForCausalLM"}},
                        {"model_type", "llama"},
                        {"vocab_size", vocab_size},
                        {"hidden_size", hidden_size},
                        {"intermediate_size", intermediate_size},
                        {"num_hidden_layers", num_hidden_layers},
                        {"num_attention_heads", num_attention_heads},
                        {"num_key_value_heads", num_key_value_heads},
                        {"max_position_embeddings", max_position_embeddings},
                        {"rope_theta", rope_theta},
                        {"rms_norm_eps", rms_norm_eps},
                        {"tie_word_embeddings", tie_word_embeddings},
                        {"hidden_act", "silu"},
                        {"attention_bias", false},
                        {"bos_token_id", bos_token_id},
                        {"eos_token_id", eos_token_id},
                        {"torch_dtype", torch_dtype}};
}

namespace {
LlamaConfig make(int64_t v, int64_t d, int64_t l, int64_t h, int64_t kv, int64_t ff, int64_t pos) {
  LlamaConfig c;
  c.vocab_size = v; c.hidden_size = d; c.num_hidden_layers = l; c.num_attention_heads = h;
  c.num_key_value_heads = kv; c.intermediate_size = ff; c.max_position_embeddings = pos;
  c.rope_theta = 10000.0; c.rms_norm_eps = 1e-5; c.tie_word_embeddings = true;
  return c;
}
}  // namespace

// Same numbers as shared/bench/presets.json (a test checks they agree).
LlamaConfig LlamaConfig::preset(const std::string& name) {
  if (name == "tiny") return make(2048, 128, 2, 4, 2, 352, 512);
  if (name == "small") return make(4096, 256, 4, 8, 4, 704, 1024);
  if (name == "base") return make(8192, 512, 8, 8, 4, 1408, 2048);
  fail("--preset", "unknown preset '" + name + "' (expected tiny, small or base)");
}

std::vector<std::string> LlamaConfig::preset_names() { return {"tiny", "small", "base"}; }

}  // namespace srl::model
