#include "model/llama.hpp"

#include <cmath>

#include "core/error.hpp"

namespace srl::model {

namespace {
using torch::indexing::Slice;

// HF rotate_half: (x1, x2) -> (-x2, x1) over the two halves of the head dimension.
torch::Tensor rotate_half(const torch::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return torch::cat({-halves[1], halves[0]}, -1);
}

std::shared_ptr<torch::nn::Module> child(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}
}  // namespace

// ---- LoraLinear ----------------------------------------------------------------------------------------

LoraLinearImpl::LoraLinearImpl(int64_t in, int64_t out) {
  weight = register_parameter("weight", torch::empty({out, in}));
}

torch::Tensor LoraLinearImpl::forward(const torch::Tensor& x) {
  auto y = torch::nn::functional::linear(x, weight);
  if (lora_A.defined() && switch_ && switch_->enabled) {
    auto h = (dropout > 0 && is_training()) ? torch::dropout(x, dropout, true) : x;
    y = y + torch::nn::functional::linear(torch::nn::functional::linear(h, lora_A), lora_B) * scaling;
  }
  return y;
}

void LoraLinearImpl::add_lora(int64_t r, double alpha, double drop, std::shared_ptr<AdapterSwitch> sw) {
  const int64_t out = weight.size(0), in = weight.size(1);
  // PEFT's initialisation: A ~ kaiming-uniform(a=sqrt(5)), B = 0, so the adapted model starts equal to the base.
  auto A = torch::empty({r, in});
  torch::nn::init::kaiming_uniform_(A, std::sqrt(5.0));
  lora_A = register_parameter("lora_A", A);
  lora_B = register_parameter("lora_B", torch::zeros({out, r}));
  scaling = alpha / static_cast<double>(r);
  dropout = drop;
  switch_ = std::move(sw);
}

void LoraLinearImpl::merge_lora() {
  if (!lora_A.defined()) return;
  torch::NoGradGuard ng;
  weight.add_(torch::matmul(lora_B, lora_A) * scaling);
  // Parameters cannot be unregistered; zeroing B makes the branch a no-op, and the caller drops the config.
  lora_B.zero_();
}

// ---- RMSNorm ---------------------------------------------------------------------------------------------

RMSNormImpl::RMSNormImpl(int64_t d, double e) : eps(e) { weight = register_parameter("weight", torch::ones({d})); }

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // Statistics in fp32 whatever the activation dtype, as HF does.
  auto xf = x.to(at::promote_types(x.scalar_type(), torch::kFloat));
  auto normed = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

// ---- Llama -------------------------------------------------------------------------------------------------

LlamaImpl::LlamaImpl(const LlamaConfig& c) : config_(c) {
  c.validate("config");
  const int64_t d = c.hidden_size, hd = c.head_dim(), H = c.num_attention_heads, KV = c.num_key_value_heads;
  auto model = child(*this, "model");
  auto embed_tokens = child(*model, "embed_tokens");
  embed_ = embed_tokens->register_parameter("weight", torch::empty({c.vocab_size, d}));
  auto layers = child(*model, "layers");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    auto layer = child(*layers, std::to_string(i));
    auto attn = child(*layer, "self_attn");
    auto mlp = child(*layer, "mlp");
    Layer L{RMSNorm(d, c.rms_norm_eps), RMSNorm(d, c.rms_norm_eps), LoraLinear(d, H * hd), LoraLinear(d, KV * hd),
            LoraLinear(d, KV * hd), LoraLinear(H * hd, d), LoraLinear(d, c.intermediate_size),
            LoraLinear(d, c.intermediate_size), LoraLinear(c.intermediate_size, d)};
    layer->register_module("input_layernorm", L.input_layernorm);
    layer->register_module("post_attention_layernorm", L.post_attention_layernorm);
    attn->register_module("q_proj", L.q);
    attn->register_module("k_proj", L.k);
    attn->register_module("v_proj", L.v);
    attn->register_module("o_proj", L.o);
    mlp->register_module("gate_proj", L.gate);
    mlp->register_module("up_proj", L.up);
    mlp->register_module("down_proj", L.down);
    layers_.push_back(L);
  }
  norm_ = model->register_module("norm", RMSNorm(d, c.rms_norm_eps));
  if (!c.tie_word_embeddings) {
    auto head = child(*this, "lm_head");
    lm_head_ = head->register_parameter("weight", torch::empty({c.vocab_size, d}));
  }
  // RoPE tables: inv_freq_i = theta^(-2i/hd); angle = pos * inv_freq, duplicated over both halves.
  auto inv = torch::pow(c.rope_theta, -torch::arange(0, hd, 2, torch::kDouble) / static_cast<double>(hd));
  auto ang = torch::outer(torch::arange(c.max_position_embeddings, torch::kDouble), inv);
  auto emb = torch::cat({ang, ang}, -1);
  rope_cos_ = register_buffer("rope_cos", emb.cos().to(torch::kFloat));
  rope_sin_ = register_buffer("rope_sin", emb.sin().to(torch::kFloat));
  init_weights(0);
}

void LlamaImpl::init_weights(uint64_t seed, double std) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& p : named_parameters()) {
    const auto& name = p.key();
    if (name.find("lora_") != std::string::npos) continue;
    if (name.find("norm") != std::string::npos) {
      p.value().fill_(1.0);
    } else {
      auto t = at::normal(0.0, std, p.value().sizes(), gen);
      p.value().copy_(t);
    }
  }
}

std::map<std::string, LoraLinear> LlamaImpl::projections() {
  std::map<std::string, LoraLinear> out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto p = "model.layers." + std::to_string(i) + ".";
    auto& L = layers_[i];
    out.emplace(p + "self_attn.q_proj", L.q);
    out.emplace(p + "self_attn.k_proj", L.k);
    out.emplace(p + "self_attn.v_proj", L.v);
    out.emplace(p + "self_attn.o_proj", L.o);
    out.emplace(p + "mlp.gate_proj", L.gate);
    out.emplace(p + "mlp.up_proj", L.up);
    out.emplace(p + "mlp.down_proj", L.down);
  }
  return out;
}

void LlamaImpl::add_lora(const LoraConfig& lora) {
  if (lora.r <= 0) fail("lora.r", "LoRA rank must be positive");
  if (has_lora()) fail("lora", "the model already has LoRA adapters");
  if (lora.targets.empty()) fail("lora.targets", "no target modules given");
  for (const auto& t : lora.targets) {
    static const std::vector<std::string> known = {"q", "k", "v", "o", "gate", "up", "down"};
    if (std::find(known.begin(), known.end(), t) == known.end())
      fail("lora.targets", "unknown target '" + t + "' (expected any of q,k,v,o,gate,up,down)");
  }
  lora_ = lora;
  for (auto& [name, lin] : projections()) {
    auto leaf = name.substr(name.rfind('.') + 1);  // q_proj
    auto short_name = leaf.substr(0, leaf.size() - 5);
    if (std::find(lora.targets.begin(), lora.targets.end(), short_name) != lora.targets.end())
      lin->add_lora(lora.r, lora.alpha, lora.dropout, switch_);
  }
}

void LlamaImpl::merge_lora() {
  for (auto& [name, lin] : projections()) lin->merge_lora();
}

std::map<std::string, torch::Tensor> LlamaImpl::base_tensors() {
  std::map<std::string, torch::Tensor> out;
  for (auto& p : named_parameters())
    if (p.key().find("lora_") == std::string::npos) out[p.key()] = p.value();
  return out;
}

std::map<std::string, torch::Tensor> LlamaImpl::lora_tensors() {
  std::map<std::string, torch::Tensor> out;
  for (auto& [name, lin] : projections()) {
    if (!lin->has_lora()) continue;
    out["base_model.model." + name + ".lora_A.weight"] = lin->lora_A;
    out["base_model.model." + name + ".lora_B.weight"] = lin->lora_B;
  }
  return out;
}

namespace {
void copy_named(std::map<std::string, torch::Tensor> dst, const std::map<std::string, torch::Tensor>& src,
                const std::string& where) {
  torch::NoGradGuard ng;
  for (auto& [name, t] : dst) {
    auto it = src.find(name);
    if (it == src.end()) fail(where, "missing tensor '" + name + "'");
    if (it->second.sizes() != t.sizes())
      fail(where, "tensor '" + name + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
                      c10::str(t.sizes()));
    if (!it->second.is_floating_point()) fail(where, "tensor '" + name + "' is not floating point");
    t.copy_(it->second);
  }
}
}  // namespace

void LlamaImpl::load_base_tensors(const std::map<std::string, torch::Tensor>& t, const std::string& where) {
  copy_named(base_tensors(), t, where);
}

void LlamaImpl::load_lora_tensors(const std::map<std::string, torch::Tensor>& t, const std::string& where) {
  copy_named(lora_tensors(), t, where);
}

std::vector<std::pair<std::string, torch::Tensor>> LlamaImpl::trainable_parameters() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : named_parameters()) {
    bool is_lora = p.key().find("lora_") != std::string::npos;
    if (has_lora() == is_lora) out.emplace_back(p.key(), p.value());
  }
  return out;
}

torch::Tensor LlamaImpl::attention(Layer& L, int64_t li, const torch::Tensor& x, const torch::Tensor& cos,
                                   const torch::Tensor& sin, const torch::Tensor& bias, KVCache* cache) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = config_.num_attention_heads, KV = config_.num_key_value_heads, hd = config_.head_dim();
  const int64_t G = H / KV;
  auto q = L.q(x).view({B, T, H, hd});  // (B, T, H, hd)
  auto k = L.k(x).view({B, T, KV, hd});
  auto v = L.v(x).view({B, T, KV, hd});
  auto c = cos.to(q.scalar_type()), s = sin.to(q.scalar_type());  // (B, T, 1, hd)
  q = q * c + rotate_half(q) * s;
  k = k * c + rotate_half(k) * s;
  torch::Tensor K, V;  // (B, KV, S, hd)
  if (cache) {
    auto& ck = cache->k[li];
    auto& cv = cache->v[li];
    ck.narrow(2, cache->len, T).copy_(k.transpose(1, 2));
    cv.narrow(2, cache->len, T).copy_(v.transpose(1, 2));
    K = ck.narrow(2, 0, cache->len + T);
    V = cv.narrow(2, 0, cache->len + T);
  } else {
    K = k.transpose(1, 2);
    V = v.transpose(1, 2);
  }
  const int64_t S = K.size(2);
  // Group the query heads that share a kv head (head h uses kv head h / G) instead of repeating K and V.
  auto qg = q.transpose(1, 2).reshape({B, KV, G * T, hd});
  // Scores and softmax in at least fp32 whatever the activation dtype.
  auto scores = torch::matmul(qg, K.transpose(-1, -2).to(qg.scalar_type()));  // (B, KV, G*T, S)
  scores = scores.to(at::promote_types(scores.scalar_type(), torch::kFloat));
  scores = scores.mul_(1.0 / std::sqrt(static_cast<double>(hd)));
  if (bias.defined()) scores = (scores.view({B, KV, G, T, S}) + bias.unsqueeze(1)).view({B, KV, G * T, S});
  auto probs = torch::softmax(scores, -1).to(V.scalar_type());
  auto out = torch::matmul(probs, V);  // (B, KV, G*T, hd)
  out = out.view({B, H, T, hd}).transpose(1, 2).reshape({B, T, H * hd});
  return L.o(out);
}

torch::Tensor LlamaImpl::forward(const torch::Tensor& ids, const torch::Tensor& positions, KVCache* cache) {
  const int64_t B = ids.size(0), T = ids.size(1);
  if (cache && cache->len + T > cache->capacity())
    fail("generate", "sequence of " + std::to_string(cache->len + T) + " tokens exceeds the KV cache capacity " +
                         std::to_string(cache->capacity()));
  auto x = torch::embedding(embed_, ids);  // (B, T, D)
  auto cos = rope_cos_.index_select(0, positions.reshape({-1})).view({B, T, 1, -1});
  auto sin = rope_sin_.index_select(0, positions.reshape({-1})).view({B, T, 1, -1});

  // Additive attention bias (B, 1, T, S) or undefined when plain causal masking is not needed.
  torch::Tensor bias;
  const int64_t past = cache ? cache->len : 0, S = past + T;
  if (T > 1 || (cache && cache->has_padding)) {
    auto lopt = torch::TensorOptions().dtype(torch::kLong).device(ids.device());
    auto qpos = torch::arange(past, S, lopt).view({T, 1});
    auto kpos = torch::arange(0, S, lopt).view({1, S});
    auto allowed = (kpos <= qpos).unsqueeze(0);  // (1, T, S)
    if (cache && cache->has_padding) {
      auto valid = cache->key_valid.narrow(1, 0, S).unsqueeze(1);  // (B, 1, S)
      // A padding query may always see itself, so no row is fully masked (which would give NaN).
      allowed = (allowed & valid) | (kpos == qpos).unsqueeze(0);
    }
    bias = torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(torch::kFloat).device(ids.device()))
               .masked_fill_(allowed.logical_not(), -INFINITY);
    bias = bias.unsqueeze(1);  // (B|1, 1, T, S)
    if (bias.size(0) != B) bias = bias.expand({B, 1, T, S});
  }
  for (size_t li = 0; li < layers_.size(); ++li) {
    auto& L = layers_[li];
    x = x + attention(L, static_cast<int64_t>(li), L.input_layernorm(x), cos, sin, bias, cache);
    auto h = L.post_attention_layernorm(x);
    x = x + L.down(torch::silu(L.gate(h)) * L.up(h));
  }
  if (cache) cache->len += T;
  return norm_(x);
}

torch::Tensor LlamaImpl::logits(const torch::Tensor& hidden) {
  return torch::nn::functional::linear(hidden, lm_head_.defined() ? lm_head_ : embed_);
}

torch::Tensor LlamaImpl::full_logits(const torch::Tensor& ids) {
  auto pos = torch::arange(ids.size(1), ids.options().dtype(torch::kLong)).unsqueeze(0).expand({ids.size(0), ids.size(1)});
  return logits(forward(ids, pos));
}

}  // namespace srl::model
