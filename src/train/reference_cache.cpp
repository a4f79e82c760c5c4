#include "train/reference_cache.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "core/strings.hpp"
#include "model/safetensors.hpp"
#include "train/sequence_logps.hpp"

namespace srl::train {

namespace {

void hash_ids(Hasher& h, const std::vector<int64_t>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  h.update(std::string_view(reinterpret_cast<const char*>(&n), sizeof n));
  h.update(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
}

const char* kParts[] = {"data", "weights", "tokenizer", "dtype", "device"};

const std::string& part(const ReferenceCacheKey& k, const std::string& name) {
  if (name == "data") return k.data;
  if (name == "weights") return k.weights;
  if (name == "tokenizer") return k.tokenizer;
  if (name == "dtype") return k.dtype;
  return k.device;
}


// The stored cache if usable; else nothing, with *why saying what was wrong.
std::optional<ReferenceLogps> read_cache(const std::string& st_path, const std::string& key_path,
                                         const ReferenceCacheKey& key, size_t n, std::string* why) {
  if (!fs::exists(st_path) || !fs::exists(key_path)) {
    *why = "no cache yet";
    return std::nullopt;
  }
  try {
    nlohmann::json stored;
    try {
      stored = nlohmann::json::parse(fs::read_file(key_path));
    } catch (const nlohmann::json::exception&) {
      *why = key_path + " is not valid JSON";
      return std::nullopt;
    }
    if (!stored.is_object() || stored.value("format", "") != kReferenceCacheFormat || !stored.contains("parts")) {
      *why = key_path + " is not a " + std::string(kReferenceCacheFormat) + " key file";
      return std::nullopt;
    }
    auto diff = key.differing_parts(stored["parts"]);
    if (!diff.empty()) {
      *why = "key differs (" + join(diff) + " changed)";
      return std::nullopt;
    }
    auto f = model::safetensors::load(st_path);
    auto it = f.metadata.find("key");
    if (it == f.metadata.end() || it->second != key.digest()) {
      *why = st_path + " does not carry the key of " + key_path + " (interrupted write?)";
      return std::nullopt;
    }
    ReferenceLogps out;
    for (auto [name, dst] : {std::pair{"chosen", &out.chosen}, std::pair{"rejected", &out.rejected}}) {
      auto t = f.tensors.find(name);
      if (t == f.tensors.end() || t->second.scalar_type() != torch::kFloat || t->second.dim() != 1 ||
          t->second.size(0) != static_cast<int64_t>(n) || !torch::isfinite(t->second).all().item<bool>()) {
        *why = st_path + ": tensor '" + name + "' missing, of the wrong shape or not finite";
        return std::nullopt;
      }
      *dst = t->second;
    }
    return out;
  } catch (const Error& e) {  // unreadable or corrupt file: recompute
    *why = e.what();
    return std::nullopt;
  }
}

}  // namespace

ReferenceModeGuard::ReferenceModeGuard(model::Llama& m)
    : m_(m), adapters_(m->adapters_enabled()), training_(m->is_training()) {
  m_->set_adapters_enabled(false);
  m_->eval();
}

ReferenceModeGuard::~ReferenceModeGuard() {
  m_->set_adapters_enabled(adapters_);
  m_->train(training_);
}

std::string ReferenceCacheKey::digest() const {
  Hasher h;
  h.update(kReferenceCacheFormat);
  for (const char* p : kParts) h.update(std::string("\n") + p + "=" + part(*this, p));
  return h.hex();
}

nlohmann::json ReferenceCacheKey::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const char* p : kParts) j[p] = part(*this, p);
  return j;
}

std::vector<std::string> ReferenceCacheKey::differing_parts(const nlohmann::json& stored) const {
  std::vector<std::string> out;
  for (const char* p : kParts) {
    const bool same = stored.is_object() && stored.contains(p) && stored[p].is_string() &&
                      stored[p].get<std::string>() == part(*this, p);
    if (!same) out.push_back(p);
  }
  return out;
}

std::string pairs_hash(const std::vector<TokenizedPair>& pairs) {
  Hasher h;
  const int64_t n = static_cast<int64_t>(pairs.size());
  h.update(std::string_view(reinterpret_cast<const char*>(&n), sizeof n));
  for (const auto& p : pairs) {
    hash_ids(h, p.prompt);
    hash_ids(h, p.chosen());
    hash_ids(h, p.rejected());
  }
  return h.hex();
}

std::string base_weights_hash(model::Llama& m) {
  Hasher h;
  h.update(m->config().to_json().dump());
  for (auto& [name, t] : m->base_tensors()) {  // std::map: name order
    auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    h.update("\n" + name);
    for (auto s : c.sizes()) h.update(":" + std::to_string(s));
    h.update(std::string_view(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(float)));
  }
  return h.hex();
}

ReferenceCacheKey reference_cache_key(model::Llama& m, const text::Tokenizer& tok,
                                      const std::vector<TokenizedPair>& pairs, const Compute& cmp) {
  ReferenceCacheKey k;
  k.data = pairs_hash(pairs);
  k.weights = base_weights_hash(m);
  k.tokenizer = tok.hash();
  k.dtype = cmp.bf16 ? "bf16" : "fp32";
  k.device = cmp.device.str();
  return k;
}

ReferenceLogps compute_reference_logps(model::Llama& m, const std::vector<TokenizedPair>& pairs, const Compute& cmp,
                                       int64_t batch_size) {
  if (batch_size < 1) fail_internal("compute_reference_logps", "batch_size must be positive");
  const int64_t N = static_cast<int64_t>(pairs.size());
  // Longest first, so each batch pads little.
  std::vector<int64_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  auto len = [&](int64_t i) {
    const auto& p = pairs[i];
    return p.prompt.size() + std::max(p.response_a.size(), p.response_b.size());
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len(a) > len(b); });

  ReferenceLogps out{torch::zeros({N}, torch::kFloat), torch::zeros({N}, torch::kFloat)};
  torch::NoGradGuard ng;
  ReferenceModeGuard ref(m);
  for (int64_t s = 0; s < N; s += batch_size) {
    const int64_t e = std::min(N, s + batch_size);
    PairedSequences b;
    for (int64_t j = s; j < e; ++j) {
      const auto& p = pairs[order[j]];
      b.prompts.push_back(p.prompt);
      b.chosen.push_back(p.chosen());
      b.rejected.push_back(p.rejected());
    }
    SequenceLogps lp;
    {
      AutocastGuard ac(cmp.bf16, cmp.device);
      lp = sequence_logps(m, b);
    }
    auto idx = torch::tensor(std::vector<int64_t>(order.begin() + s, order.begin() + e), torch::kLong);
    out.chosen.index_copy_(0, idx, lp.chosen.to(torch::kCPU, torch::kFloat));
    out.rejected.index_copy_(0, idx, lp.rejected.to(torch::kCPU, torch::kFloat));
  }
  if (!torch::isfinite(out.chosen).all().item<bool>() || !torch::isfinite(out.rejected).all().item<bool>())
    fail_internal("reference log-probs", "non-finite values from the reference model (NaN in its weights?)");
  return out;
}

CachedReference load_or_compute_reference_logps(model::Llama& m, const text::Tokenizer& tok,
                                                const std::vector<TokenizedPair>& pairs, const std::string& cache_dir,
                                                const std::string& split, const Compute& cmp, int64_t batch_size) {
  const auto key = reference_cache_key(m, tok, pairs, cmp);
  CachedReference res;
  res.path = cache_dir + "/" + split + ".safetensors";
  const std::string key_path = cache_dir + "/" + split + ".json";
  if (auto cached = read_cache(res.path, key_path, key, pairs.size(), &res.why)) {
    res.logps = *cached;
    res.hit = true;
    spdlog::info("dpo: reference log-probs for {} ({} pairs) read from {}", split, pairs.size(), res.path);
    return res;
  }
  spdlog::info("dpo: computing reference log-probs for {} ({} pairs) into {}: {}", split, pairs.size(), res.path,
               res.why);
  res.logps = compute_reference_logps(m, pairs, cmp, batch_size);
  fs::make_dirs(cache_dir);
  const std::string digest = key.digest();
  model::safetensors::save(res.path, {{"chosen", res.logps.chosen}, {"rejected", res.logps.rejected}},
                           {{"format", kReferenceCacheFormat}, {"key", digest}});
  nlohmann::json j = {{"format", kReferenceCacheFormat}, {"key", digest},          {"parts", key.to_json()},
                      {"split", split},                  {"pairs", pairs.size()}, {"dtype_stored", "float32"}};
  fs::write_file_atomic(key_path, j.dump(2) + "\n");
  return res;
}

}  // namespace srl::train
