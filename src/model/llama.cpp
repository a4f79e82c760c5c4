#include "model/llama.hpp"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <atomic>
#include <cmath>

#include "core/error.hpp"
#include "model/kernels.hpp"

namespace srl::model {

namespace {
// silu(g) * u. With gradients, as g * sigmoid(g) * u: libtorch 1.13's bf16 SiLU kernels are slow on CPU
// (forward + backward measured 4.7 ms against 3.0 ms for this form on 2048 x 704).
torch::Tensor silu_mul(const torch::Tensor& g, const torch::Tensor& u) {
  if (!torch::GradMode::is_enabled()) return torch::silu(g) * u;
  return g * torch::sigmoid(g) * u;
}

// Query rows per block of the blocked causal attention (training and prefill).
constexpr int64_t kCausalBlock = 64;
using torch::indexing::Slice;

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

namespace {
// out = rmsnorm(x) * w over fp32 rows; returns 1/rms per row.
torch::Tensor rmsnorm_rows(const torch::Tensor& xc, const torch::Tensor& wc, double eps, torch::Tensor& out) {
  const int64_t D = xc.size(-1), N = xc.numel() / D;
  out = torch::empty_like(xc);
  auto inv = torch::empty({N}, torch::kFloat);
  const float* xp = xc.data_ptr<float>();
  const float* wp = wc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  float* ip = inv.data_ptr<float>();
  at::parallel_for(0, N, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) ip[r] = kern::rmsnorm(xp + r * D, wp, D, static_cast<float>(eps), op + r * D);
  });
  return inv;
}

// RMSNorm on fp32 rows as one autograd node: the composite form is 8 passes forward and about as many
// backward, each over the whole activation (docs/PERFORMANCE.md).
struct FusedRMSNorm : public torch::autograd::Function<FusedRMSNorm> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               double eps) {
    auto xc = x.contiguous();
    auto wc = w.contiguous();
    torch::Tensor out;
    auto inv = rmsnorm_rows(xc, wc, eps, out);
    ctx->save_for_backward({xc, wc, inv});
    return out;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list g) {
    auto s = ctx->get_saved_variables();
    const auto& x = s[0];
    const auto& w = s[1];
    const auto& inv = s[2];
    auto dout = g[0].to(torch::kFloat).contiguous();
    const int64_t D = x.size(-1), N = x.numel() / D;
    auto dx = torch::empty_like(x);
    const int nt = at::get_num_threads();
    auto dw_parts = torch::zeros({nt, D}, torch::kFloat);  // one row per thread, summed below
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* ip = inv.data_ptr<float>();
    const float* gp = dout.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* dwp = dw_parts.data_ptr<float>();
    at::parallel_for(0, N, 64, [&](int64_t r0, int64_t r1) {
      float* dw = dwp + at::get_thread_num() * D;
      for (int64_t r = r0; r < r1; ++r) kern::rmsnorm_backward(xp + r * D, wp, D, ip[r], gp + r * D, dxp + r * D, dw);
    });
    return {dx, dw_parts.sum(0), torch::Tensor()};
  }
};
}  // namespace

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat && weight.scalar_type() == torch::kFloat && x.dim() >= 1) {
    if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
      return FusedRMSNorm::apply(x, weight, eps);
    torch::Tensor out;
    rmsnorm_rows(x.contiguous(), weight.contiguous(), eps, out);
    return out;
  }
  // Statistics in fp32 whatever the activation dtype, as HF does.
  auto xf = x.to(at::promote_types(x.scalar_type(), torch::kFloat));
  auto normed = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

// ---- Llama -------------------------------------------------------------------------------------------------

LlamaImpl::LlamaImpl(const LlamaConfig& c) : config_(c) {
  static std::atomic<uint64_t> instances{0};
  instance_ = ++instances;
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
  // Per position and head (q heads, then k heads), so forward() needs one lookup: the q rows carry the
  // 1/sqrt(hd) attention scale (RoPE is linear, so scaling before or after rotating is the same).
  auto scale = torch::ones({1, H + KV, 1}, torch::kDouble);
  scale.narrow(1, 0, H).fill_(1.0 / std::sqrt(static_cast<double>(hd)));
  rope_cos_ = register_buffer("rope_cos", (emb.cos().unsqueeze(1) * scale).to(torch::kFloat));
  rope_sin_ = register_buffer("rope_sin", (emb.sin().unsqueeze(1) * scale).to(torch::kFloat));
  // rotate_half as a matrix: x @ R = cat(-x2, x1). One small matmul instead of split + neg + cat.
  auto R = torch::zeros({hd, hd});
  for (int64_t j = 0; j < hd / 2; ++j) {
    R[j + hd / 2][j] = -1.0;
    R[j][j + hd / 2] = 1.0;
  }
  rope_rot_ = register_buffer("rope_rot", R);
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

uint64_t LlamaImpl::weights_key() {
  uint64_t h = adapters_enabled() ? 1469598103934665603ULL : 1099511628211ULL;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
  for (auto& L : layers_)
    for (auto* lin : {&L.q, &L.k, &L.v, &L.gate, &L.up})
      for (auto* t : {&(*lin)->weight, &(*lin)->lora_A, &(*lin)->lora_B}) {
        if (!t->defined()) continue;
        mix(reinterpret_cast<uintptr_t>(t->data_ptr()));
        mix(static_cast<uint64_t>(t->scalar_type()));
        mix(t->is_inference() ? 0 : static_cast<uint64_t>(t->_version()));
      }
  return h;
}

uint64_t LlamaImpl::state_key() {
  uint64_t h = adapters_enabled() ? 1469598103934665603ULL : 1099511628211ULL;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
  mix(instance_);
  for (auto& p : parameters()) {
    mix(reinterpret_cast<uintptr_t>(p.data_ptr()));
    mix(static_cast<uint64_t>(p.scalar_type()));
    mix(p.is_inference() ? 0 : static_cast<uint64_t>(p._version()));
  }
  return h;
}

LlamaImpl::LayerTensors LlamaImpl::inference_layer(int64_t li) {
  torch::NoGradGuard ng;
  auto& L = layers_.at(static_cast<size_t>(li));
  return {torch::cat({effective_weight(L.q), effective_weight(L.k), effective_weight(L.v)}, 0), effective_weight(L.o),
          torch::cat({effective_weight(L.gate), effective_weight(L.up)}, 0), effective_weight(L.down),
          L.input_layernorm->weight, L.post_attention_layernorm->weight};
}

// Effective weight of a projection: W, plus the LoRA product when adapters are on.
torch::Tensor LlamaImpl::effective_weight(LoraLinear& lin) {
  if (!lin->has_lora() || !adapters_enabled()) return lin->weight;
  return lin->weight + torch::matmul(lin->lora_B, lin->lora_A) * lin->scaling;
}

const std::vector<LlamaImpl::Fused>& LlamaImpl::fused_weights() {
  const uint64_t key = weights_key();
  if (key != fused_key_ || fused_.size() != layers_.size()) {
    torch::NoGradGuard ng;
    fused_.clear();
    for (auto& L : layers_)
      fused_.push_back({torch::cat({effective_weight(L.q), effective_weight(L.k), effective_weight(L.v)}, 0),
                        torch::cat({effective_weight(L.gate), effective_weight(L.up)}, 0)});
    fused_key_ = key;
  }
  return fused_;
}

torch::Tensor LlamaImpl::attention(Layer& L, const Fused* fused, int64_t li, const torch::Tensor& x,
                                   const Rope& rope, const torch::Tensor& mask, KVCache* cache) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = config_.num_attention_heads, KV = config_.num_key_value_heads, hd = config_.head_dim();
  const int64_t G = H / KV;
  // One (B, T, H + 2KV, hd) projection: q heads, then k heads, then v heads.
  torch::Tensor qkv;
  const bool adapted = has_lora() && adapters_enabled() && (L.q->has_lora() || L.k->has_lora() || L.v->has_lora());
  if (fused) {
    qkv = torch::nn::functional::linear(x, fused->qkv);
  } else if (!adapted) {
    qkv = torch::nn::functional::linear(x, torch::cat({L.q->weight, L.k->weight, L.v->weight}, 0));
  } else {
    qkv = torch::cat({L.q(x), L.k(x), L.v(x)}, -1);
  }
  qkv = qkv.view({B, T, H + 2 * KV, hd});
  // split (not narrow): its backward concatenates the gradients instead of zero-filling full-size buffers.
  auto qk_v = qkv.split_with_sizes({H + KV, KV}, 2);
  // RoPE on q and k together; the q rows of the tables carry the 1/sqrt(hd) attention scale.
  auto rot = torch::addcmul(qk_v[0] * rope.cos, torch::matmul(qk_v[0], rope.rot), rope.sin);  // (B,T,H+KV,hd)
  auto q_k = rot.split_with_sizes({H, KV}, 2);
  const auto& q = q_k[0];
  const auto& k = q_k[1];
  const auto& v = qk_v[1];
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
  const int64_t S = K.size(2), past = S - T;
  // Query heads sharing a kv head (head h uses kv head h / G) are stacked as rows (t-major: row = t*G + g)
  // instead of repeating K and V.
  auto qg = q.view({B, T, KV, G, hd}).permute({0, 2, 1, 3, 4}).reshape({B * KV, T * G, hd});
  auto Kt = K.reshape({B * KV, S, hd}).transpose(1, 2).to(qg.scalar_type());  // (B*KV, hd, S)
  auto Vb = V.reshape({B * KV, S, hd});
  // Softmax in the activation dtype for bf16 (libtorch's CPU kernel accumulates bf16 in fp32 and the
  // probabilities feed a bf16 matmul anyway), else in at least fp32.
  const auto acc = qg.scalar_type() == torch::kBFloat16 ? torch::kBFloat16 : at::promote_types(qg.scalar_type(), torch::kFloat);
  torch::Tensor out;  // (B*KV, T*G, hd)
  const bool pure_causal = !(cache && cache->has_padding);
  if (pure_causal && T >= 2 * kCausalBlock) {
    // Causal attention in query blocks: block j only reads keys up to its own last position, so the
    // masked upper triangle is (mostly) never computed; only each block's diagonal square is masked.
    std::vector<torch::Tensor> outs;
    const int64_t bq = kCausalBlock;
    auto lopt = torch::TensorOptions().dtype(torch::kLong).device(q.device());
    auto diag = (torch::arange(bq, lopt).view({1, bq}) > torch::arange(bq * G, lopt).view({bq * G, 1}).div(G, "floor"));
    for (int64_t t0 = 0; t0 < T; t0 += bq) {
      const int64_t n = std::min(bq, T - t0), keys = past + t0 + n;
      auto sc = torch::bmm(qg.narrow(1, t0 * G, n * G), Kt.narrow(2, 0, keys));  // (B*KV, n*G, keys)
      sc.narrow(2, past + t0, n).masked_fill_(diag.narrow(0, 0, n * G).narrow(1, 0, n), -INFINITY);
      auto probs = torch::softmax(sc, -1, acc).to(Vb.scalar_type());
      outs.push_back(torch::bmm(probs, Vb.narrow(1, 0, keys)));
    }
    out = torch::cat(outs, 1);
  } else {
    auto scores = torch::bmm(qg, Kt);  // (B*KV, T*G, S)
    if (mask.defined())
      scores = scores.view({B, KV, T, G, S}).masked_fill(mask.unsqueeze(3), -INFINITY).view({B * KV, T * G, S});
    out = torch::bmm(torch::softmax(scores, -1, acc).to(Vb.scalar_type()), Vb);
  }
  out = out.view({B, KV, T, G, hd}).permute({0, 2, 1, 3, 4}).reshape({B, T, H * hd});
  return L.o(out);
}

torch::Tensor LlamaImpl::mlp(Layer& L, const Fused* fused, const torch::Tensor& h) {
  const int64_t F = config_.intermediate_size;
  const bool adapted = has_lora() && adapters_enabled() && (L.gate->has_lora() || L.up->has_lora());
  torch::Tensor gu;
  if (fused) {
    gu = torch::nn::functional::linear(h, fused->gate_up);
  } else if (!adapted) {
    gu = torch::nn::functional::linear(h, torch::cat({L.gate->weight, L.up->weight}, 0));
  } else {
    return L.down(silu_mul(L.gate(h), L.up(h)));
  }
  auto g_u = gu.split(F, -1);
  return L.down(silu_mul(g_u[0], g_u[1]));
}

torch::Tensor LlamaImpl::forward(const torch::Tensor& ids, const torch::Tensor& positions, KVCache* cache) {
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t H = config_.num_attention_heads, KV = config_.num_key_value_heads, hd = config_.head_dim();
  if (cache && cache->len + T > cache->capacity())
    fail("generate", "sequence of " + std::to_string(cache->len + T) + " tokens exceeds the KV cache capacity " +
                         std::to_string(cache->capacity()));
  auto x = torch::embedding(embed_, ids);  // (B, T, D)
  // Activation dtype of the projections: bf16 under autocast, else the weights' own dtype.
  const bool autocast = ids.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  const auto act = autocast ? torch::kBFloat16 : x.scalar_type();
  // Rope tables for q and k heads at these positions, (B, T, H+KV, hd); q rows pre-scaled by 1/sqrt(hd).
  Rope rope;
  {
    auto flat = positions.reshape({-1});
    rope.cos = rope_cos_.index_select(0, flat).view({B, T, H + KV, hd}).to(act);
    rope.sin = rope_sin_.index_select(0, flat).view({B, T, H + KV, hd}).to(act);
    rope.rot = rope_rot_.to(act);
  }

  // Attention mask (B|1, 1, T, S), true = blocked; undefined when plain causal masking is not needed.
  torch::Tensor mask;
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
    mask = allowed.logical_not().unsqueeze(1);
  }
  const std::vector<Fused>* fused = torch::GradMode::is_enabled() ? nullptr : &fused_weights();
  for (size_t li = 0; li < layers_.size(); ++li) {
    auto& L = layers_[li];
    const Fused* f = fused ? &(*fused)[li] : nullptr;
    x = x + attention(L, f, static_cast<int64_t>(li), L.input_layernorm(x), rope, mask, cache);
    x = x + mlp(L, f, L.post_attention_layernorm(x));
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
