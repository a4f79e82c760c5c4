// Llama decoder (Hugging Face conventions: RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU,
// optional tied embeddings) as libtorch modules. Submodules carry the HF names, so named_parameters()
// are exactly the safetensors tensor names. LoRA adapters live inside the projections and can be switched
// off at run time: the frozen reference model for DPO/KL is the same weights with adapters off.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "model/kv_cache.hpp"
#include "model/llama_config.hpp"

namespace srl::model {

struct LoraConfig {
  int64_t r = 0;  // 0 = no adapters
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targets = {"q", "k", "v", "o"};  // any of q,k,v,o,gate,up,down
};

// Shared switch read by every adapted projection.
struct AdapterSwitch {
  bool enabled = true;
};

// A bias-free Linear whose weight is [out, in] (HF layout), with an optional LoRA branch.
class LoraLinearImpl : public torch::nn::Module {
 public:
  LoraLinearImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  void add_lora(int64_t r, double alpha, double dropout, std::shared_ptr<AdapterSwitch> sw);
  void merge_lora();  // W += scaling * B A, then drops the adapter
  bool has_lora() const { return lora_A.defined(); }
  torch::Tensor weight, lora_A, lora_B;  // (out,in), (r,in), (out,r)
  double scaling = 0.0, dropout = 0.0;

 private:
  std::shared_ptr<AdapterSwitch> switch_;
};
TORCH_MODULE(LoraLinear);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t d, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

class Llama;

class LlamaImpl : public torch::nn::Module {
 public:
  explicit LlamaImpl(const LlamaConfig& config);

  // ids, positions: (B, T) int64. With a cache, the new keys/values are written at cache->len and
  // attention covers the cache; cache->len advances by T. Returns final-norm hidden states (B, T, D).
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& positions, KVCache* cache = nullptr);
  // Output projection only where callers need it: (..., D) -> (..., V).
  torch::Tensor logits(const torch::Tensor& hidden);
  // Convenience: full forward with positions 0..T-1 and logits everywhere (tests, logprobs command).
  torch::Tensor full_logits(const torch::Tensor& ids);

  const LlamaConfig& config() const { return config_; }
  void init_weights(uint64_t seed, double std = 0.02);

  // LoRA.
  void add_lora(const LoraConfig& lora);
  bool has_lora() const { return lora_.r > 0; }
  const LoraConfig& lora_config() const { return lora_; }
  void set_adapters_enabled(bool on) { switch_->enabled = on; }
  bool adapters_enabled() const { return switch_->enabled; }
  void merge_lora();
  // Base weights under HF names (no lm_head when tied); adapter weights under PEFT names.
  std::map<std::string, torch::Tensor> base_tensors();
  std::map<std::string, torch::Tensor> lora_tensors();
  // Copies tensors in by name; every expected tensor must be present with the right shape.
  void load_base_tensors(const std::map<std::string, torch::Tensor>& t, const std::string& where);
  void load_lora_tensors(const std::map<std::string, torch::Tensor>& t, const std::string& where);
  // For the decode engine (engine.hpp): a layer's weights with the current adapter state folded in, fused
  // as the engine runs them (q|k|v and gate|up rows), plus the tensors outside the layers.
  struct LayerTensors {
    torch::Tensor qkv, o, gate_up, down, input_norm, post_norm;
  };
  LayerTensors inference_layer(int64_t li);
  torch::Tensor embedding_weight() const { return embed_; }
  torch::Tensor output_weight() const { return lm_head_.defined() ? lm_head_ : embed_; }
  torch::Tensor final_norm_weight() const { return norm_->weight; }
  // Changes whenever any weight (data, dtype or in-place update) or the adapter switch changes.
  uint64_t state_key();
  // Parameters the optimizer trains: adapters (+ nothing else) with LoRA, everything without.
  std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters();

 private:
  struct Layer {
    RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
    LoraLinear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr}, gate{nullptr}, up{nullptr}, down{nullptr};
  };
  // Inference-only concatenated weights (q|k|v and gate|up, LoRA folded in when on), rebuilt whenever a
  // source weight changes (tracked through data pointers and version counters).
  struct Fused {
    torch::Tensor qkv, gate_up;
  };
  struct Rope {
    torch::Tensor cos, sin, rot;  // (B, T, H+KV, hd) tables and the (hd, hd) rotate_half matrix
  };
  torch::Tensor attention(Layer& L, const Fused* fused, int64_t li, const torch::Tensor& x, const Rope& rope,
                          const torch::Tensor& mask, KVCache* cache);
  torch::Tensor mlp(Layer& L, const Fused* fused, const torch::Tensor& h);
  std::map<std::string, LoraLinear> projections();
  uint64_t weights_key();
  torch::Tensor effective_weight(LoraLinear& lin);
  const std::vector<Fused>& fused_weights();

  LlamaConfig config_;
  LoraConfig lora_;
  std::shared_ptr<AdapterSwitch> switch_ = std::make_shared<AdapterSwitch>();
  torch::Tensor embed_;    // (V, D) "model.embed_tokens.weight"
  torch::Tensor lm_head_;  // (V, D) "lm_head.weight", undefined when tied
  RMSNorm norm_{nullptr};
  std::vector<Layer> layers_;
  torch::Tensor rope_cos_, rope_sin_;  // (max_pos, H+KV, hd) fp32 buffers, q rows pre-scaled
  torch::Tensor rope_rot_;             // (hd, hd)
  std::vector<Fused> fused_;
  uint64_t fused_key_ = 0;
  uint64_t instance_;  // distinguishes models whose tensors reuse a freed model's memory
};
TORCH_MODULE(Llama);

// Sets the adapter switch for a scope and restores it on exit: `AdapterGuard ref(m, false)` runs the
// frozen reference (the same weights without LoRA) for DPO and KL terms, even if an error unwinds.
class AdapterGuard {
 public:
  AdapterGuard(Llama& m, bool on) : m_(m), prev_(m->adapters_enabled()) { m_->set_adapters_enabled(on); }
  ~AdapterGuard() { m_->set_adapters_enabled(prev_); }
  AdapterGuard(const AdapterGuard&) = delete;
  AdapterGuard& operator=(const AdapterGuard&) = delete;

 private:
  Llama& m_;
  bool prev_;
};

}  // namespace srl::model
