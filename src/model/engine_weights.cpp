// engine_weights(): packs a model state for the engine once and keeps a few snapshots per process.
#include "model/engine_weights.hpp"

#include <cmath>
#include <cstdio>
#include <list>
#include <mutex>

namespace srl::model {

namespace {

std::vector<float> to_floats(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

kern::PackedMatrix pack_tensor(const torch::Tensor& w, EnginePrecision p) {
  auto c = w.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
  return kern::pack(c.data_ptr<float>(), c.size(0), c.size(1),
                    p == EnginePrecision::bf16 ? kern::WType::bf16 : kern::WType::f32);
}

// Every product's matrix of a snapshot, layer by layer, the output layer last.
template <class W, class F>
void for_each_matrix(W& w, F&& fn) {
  for (auto& L : w.layers)
    for (auto* m : {&L.qkv, &L.o, &L.gate_up, &L.down}) fn(*m);
  fn(w.lm_head);
}

// RoPE angles as the libtorch model computes them: inv_freq_i = theta^(-2i/hd) in double.
void fill_rope(const LlamaConfig& c, std::vector<float>& cos_table, std::vector<float>& sin_table) {
  const int64_t hd = c.head_dim(), half = hd / 2;
  cos_table.resize(static_cast<size_t>(c.max_position_embeddings * half));
  sin_table.resize(cos_table.size());
  for (int64_t pos = 0; pos < c.max_position_embeddings; ++pos)
    for (int64_t i = 0; i < half; ++i) {
      const double inv = std::pow(c.rope_theta, -static_cast<double>(2 * i) / static_cast<double>(hd));
      const double a = static_cast<double>(pos) * inv;
      cos_table[pos * half + i] = static_cast<float>(std::cos(a));
      sin_table[pos * half + i] = static_cast<float>(std::sin(a));
    }
}

std::shared_ptr<EngineWeights> pack_weights(Llama& model, EnginePrecision precision) {
  c10::InferenceMode guard;
  auto w = std::make_shared<EngineWeights>();
  const auto& c = model->config();
  w->cfg = c;
  w->precision = precision;
  w->embed = to_floats(model->embedding_weight());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto t = model->inference_layer(l);
    w->layers.push_back({pack_tensor(t.qkv, precision), pack_tensor(t.o, precision), pack_tensor(t.gate_up, precision),
                         pack_tensor(t.down, precision), to_floats(t.input_norm), to_floats(t.post_norm)});
  }
  w->final_norm = to_floats(model->final_norm_weight());
  w->lm_head = pack_tensor(model->output_weight(), precision);
  std::vector<kern::PackedMatrix*> all;
  for_each_matrix(*w, [&](kern::PackedMatrix& m) { all.push_back(&m); });
  kern::pool_compact(all);
  for_each_matrix(*w, [&](const kern::PackedMatrix& m) { w->macs_per_row += static_cast<double>(m.in * m.out); });
  fill_rope(c, w->rope_cos, w->rope_sin);
  return w;
}

}  // namespace

std::string EngineWeights::describe_storage() const {
  double packed = 0, compact = 0, rows = 0, escaped = 0;
  for_each_matrix(*this, [&](const kern::PackedMatrix& m) {
    packed += static_cast<double>(m.panels * m.panel_bytes());
    if (!m.compact) return;
    compact += static_cast<double>(m.compact->bytes());
    rows += static_cast<double>(m.compact->rows);
    escaped += static_cast<double>(m.compact->escaped_rows);
  });
  char line[160];
  std::snprintf(line, sizeof line, "weights %.1f MB packed, %.1f MB compact (%.2f%% of pair rows escaped)",
                packed / 1e6, compact / 1e6, rows > 0 ? 100.0 * escaped / rows : 0.0);
  return line;
}

std::shared_ptr<const EngineWeights> engine_weights(Llama& model, EnginePrecision precision) {
  // A few snapshots per process: RL alternates the policy (adapters on) and the reference (off).
  static std::mutex mu;
  struct Entry {
    uint64_t key;
    std::shared_ptr<const EngineWeights> w;
  };
  static std::list<Entry> cache;
  const uint64_t key = model->state_key() ^ (precision == EnginePrecision::bf16 ? 0x5bd1e995ULL : 0);
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = cache.begin(); it != cache.end(); ++it)
    if (it->key == key) {
      cache.splice(cache.begin(), cache, it);
      return cache.front().w;
    }
  auto w = pack_weights(model, precision);
  cache.push_front({key, w});
  if (cache.size() > 4) cache.pop_back();
  return w;
}

}  // namespace srl::model
