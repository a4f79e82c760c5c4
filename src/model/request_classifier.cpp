#include "model/request_classifier.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "core/error.hpp"
#include "core/strings.hpp"
#include "model/safetensors.hpp"

namespace srl::model {

namespace {

constexpr const char* kFormat = "supportrl-request-classifier";
constexpr const char* kVersion = "1";

void check_shape(const RequestClassifierShape& s, const RequestLabels& l, const std::string& where) {
  const auto& f = s.features;
  if (f.buckets < 1 || s.dim < 1 || s.hidden < 1)
    fail(where, "buckets, dim and hidden must be at least 1");
  if (f.char_min < 1 || f.char_max < f.char_min) fail(where, "need 1 <= char_min <= char_max");
  if (l.intents.empty()) fail(where, "no intent labels");
  if (l.risks.size() < 2 || l.risks[0] != "none") fail(where, "risk labels must start with \"none\" and have another");
}

torch::Tensor normal(int64_t rows, int64_t cols) {
  return torch::randn({rows, cols}) * (1.0 / std::sqrt(static_cast<double>(cols)));
}

std::string meta(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
  auto it = m.find(key);
  if (it == m.end()) fail(path, "metadata has no \"" + key + "\" (not a request classifier file?)");
  return it->second;
}

double meta_number(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
  const auto s = meta(m, key, path);
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  fail(path, "metadata \"" + key + "\" is not a finite number: " + s);
}

std::vector<std::string> meta_list(const std::map<std::string, std::string>& m, const std::string& key,
                                   const std::string& path) {
  try {
    return nlohmann::json::parse(meta(m, key, path)).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    fail(path, "metadata \"" + key + "\" is not a JSON list of strings");
  }
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

torch::Tensor tensor_of(std::map<std::string, torch::Tensor>& t, const std::string& name,
                        std::vector<int64_t> shape, const std::string& path) {
  auto it = t.find(name);
  if (it == t.end()) fail(path, "missing tensor \"" + name + "\"");
  if (it->second.scalar_type() != torch::kFloat32) fail(path, "tensor \"" + name + "\" is not F32");
  if (it->second.sizes().vec() != shape)
    fail(path, "tensor \"" + name + "\" has shape " + c10::str(it->second.sizes()) + ", expected " +
                   c10::str(c10::IntArrayRef(shape)));
  return it->second.contiguous();
}

}  // namespace

RequestClassifier::RequestClassifier(RequestClassifierShape shape, RequestLabels labels)
    : shape_(std::move(shape)), labels_(std::move(labels)) {
  check_shape(shape_, labels_, "request classifier");
  const int64_t d = shape_.dim, h = shape_.hidden;
  const auto ni = static_cast<int64_t>(labels_.intents.size()), nr = static_cast<int64_t>(labels_.risks.size());
  embedding_ = (torch::rand({shape_.features.buckets, d}) * 2 - 1) / static_cast<double>(d);
  hidden_w_ = normal(h, d);
  hidden_b_ = torch::zeros({h});
  intent_w_ = normal(ni, h);
  intent_b_ = torch::zeros({ni});
  risk_w_ = normal(nr, h);
  risk_b_ = torch::zeros({nr});
  for (auto& [name, t] : named_parameters()) t.set_requires_grad(true);
}

std::vector<std::pair<std::string, torch::Tensor>> RequestClassifier::named_parameters() const {
  return {{"embedding", embedding_}, {"hidden.weight", hidden_w_}, {"hidden.bias", hidden_b_},
          {"intent.weight", intent_w_}, {"intent.bias", intent_b_}, {"risk.weight", risk_w_},
          {"risk.bias", risk_b_}};
}

RequestClassifier::Logits RequestClassifier::forward(const std::vector<std::vector<int64_t>>& features) const {
  std::vector<int64_t> ids, offsets;
  offsets.reserve(features.size());
  for (const auto& f : features) {
    if (f.empty()) fail_internal("RequestClassifier::forward", "empty feature list");
    offsets.push_back(static_cast<int64_t>(ids.size()));
    ids.insert(ids.end(), f.begin(), f.end());
  }
  namespace F = torch::nn::functional;
  auto x = F::embedding_bag(torch::tensor(ids, torch::kInt64), embedding_,
                            F::EmbeddingBagFuncOptions().offsets(torch::tensor(offsets, torch::kInt64)).mode(torch::kMean));
  auto h = torch::relu(torch::addmm(hidden_b_, x, hidden_w_.t()));
  return {torch::addmm(intent_b_, h, intent_w_.t()), torch::addmm(risk_b_, h, risk_w_.t())};
}

std::vector<int64_t> RequestClassifier::features(const std::string& text) const {
  return text::ticket_features(text, shape_.features);
}

std::vector<RequestPrediction> RequestClassifier::predict(const std::vector<std::string>& texts) const {
  std::vector<RequestPrediction> out;
  if (texts.empty()) return out;
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> feats;
  feats.reserve(texts.size());
  for (const auto& t : texts) feats.push_back(features(t));
  auto logits = forward(feats);
  auto pi = torch::softmax(logits.intent / cal_.intent_temperature, 1).to(torch::kFloat64).contiguous();
  auto pr = torch::softmax(logits.risk / cal_.risk_temperature, 1).to(torch::kFloat64).contiguous();
  const auto ni = static_cast<int64_t>(labels_.intents.size()), nr = static_cast<int64_t>(labels_.risks.size());
  for (size_t b = 0; b < texts.size(); ++b) {
    RequestPrediction p;
    const double* a = pi.data_ptr<double>() + b * ni;
    const double* r = pr.data_ptr<double>() + b * nr;
    p.intent_probs.assign(a, a + ni);
    p.risk_probs.assign(r, r + nr);
    int64_t best = 0, second = ni > 1 ? 1 : 0;
    for (int64_t k = 0; k < ni; ++k) {
      if (a[k] > a[best]) second = best, best = k;
      else if (k != best && (second == best || a[k] > a[second])) second = k;
    }
    p.intent = labels_.intents[best], p.intent_p = a[best];
    p.second_intent = labels_.intents[second], p.second_p = ni > 1 ? a[second] : 0.0;
    int64_t risky = 1;
    for (int64_t k = 2; k < nr; ++k)
      if (r[k] > r[risky]) risky = k;
    p.risk = labels_.risks[risky], p.risk_p = r[risky];
    p.p_risk = 1.0 - r[0];
    p.flagged = p.p_risk >= cal_.threshold;
    out.push_back(std::move(p));
  }
  return out;
}

RequestPrediction RequestClassifier::predict(const std::string& text) const { return predict(std::vector{text})[0]; }

int64_t RequestClassifier::intent_index(const std::string& intent) const {
  for (size_t k = 0; k < labels_.intents.size(); ++k)
    if (labels_.intents[k] == intent) return static_cast<int64_t>(k);
  return -1;
}

int64_t RequestClassifier::risk_index(const std::string& risk) const {
  for (size_t k = 0; k < labels_.risks.size(); ++k)
    if (labels_.risks[k] == risk) return static_cast<int64_t>(k);
  return -1;
}

void RequestClassifier::save(const std::string& path) const {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, t] : named_parameters()) tensors[name] = t.detach();
  const auto& f = shape_.features;
  std::map<std::string, std::string> m = {
      {"format", kFormat}, {"version", kVersion},
      {"intents", nlohmann::json(labels_.intents).dump()}, {"risks", nlohmann::json(labels_.risks).dump()},
      {"buckets", std::to_string(f.buckets)}, {"char_min", std::to_string(f.char_min)},
      {"char_max", std::to_string(f.char_max)}, {"word_bigrams", f.word_bigrams ? "1" : "0"},
      {"dim", std::to_string(shape_.dim)}, {"hidden", std::to_string(shape_.hidden)},
      {"intent_temperature", number(cal_.intent_temperature)}, {"risk_temperature", number(cal_.risk_temperature)},
      {"threshold", number(cal_.threshold)}, {"target_recall", number(cal_.target_recall)}};
  safetensors::save(path, tensors, m);
}

RequestClassifier RequestClassifier::load(const std::string& path) {
  auto file = safetensors::load(path);
  const auto& m = file.metadata;
  if (meta(m, "format", path) != kFormat) fail(path, "metadata \"format\" is not " + std::string(kFormat));
  if (meta(m, "version", path) != kVersion) fail(path, "unsupported version " + meta(m, "version", path));
  RequestClassifierShape s;
  auto integer = [&](const char* key) {
    double v = meta_number(m, key, path);
    if (v != std::floor(v) || v < 0 || v > 1e9) fail(path, std::string("metadata \"") + key + "\" is not a count");
    return static_cast<int64_t>(v);
  };
  s.features.buckets = integer("buckets");
  s.features.char_min = static_cast<int>(integer("char_min"));
  s.features.char_max = static_cast<int>(integer("char_max"));
  s.features.word_bigrams = integer("word_bigrams") != 0;
  s.dim = integer("dim");
  s.hidden = integer("hidden");
  RequestLabels l{meta_list(m, "intents", path), meta_list(m, "risks", path)};
  check_shape(s, l, path);
  torch::NoGradGuard no_grad;
  RequestClassifier c(s, l);
  const auto ni = static_cast<int64_t>(l.intents.size()), nr = static_cast<int64_t>(l.risks.size());
  auto& t = file.tensors;
  c.embedding_ = tensor_of(t, "embedding", {s.features.buckets, s.dim}, path);
  c.hidden_w_ = tensor_of(t, "hidden.weight", {s.hidden, s.dim}, path);
  c.hidden_b_ = tensor_of(t, "hidden.bias", {s.hidden}, path);
  c.intent_w_ = tensor_of(t, "intent.weight", {ni, s.hidden}, path);
  c.intent_b_ = tensor_of(t, "intent.bias", {ni}, path);
  c.risk_w_ = tensor_of(t, "risk.weight", {nr, s.hidden}, path);
  c.risk_b_ = tensor_of(t, "risk.bias", {nr}, path);
  for (const auto& [name, w] : c.named_parameters())
    if (!torch::isfinite(w).all().item<bool>()) fail(path, "tensor \"" + name + "\" holds a NaN or infinity");
  c.cal_.intent_temperature = meta_number(m, "intent_temperature", path);
  c.cal_.risk_temperature = meta_number(m, "risk_temperature", path);
  c.cal_.threshold = meta_number(m, "threshold", path);
  c.cal_.target_recall = meta_number(m, "target_recall", path);
  if (c.cal_.intent_temperature <= 0 || c.cal_.risk_temperature <= 0) fail(path, "temperatures must be positive");
  if (c.cal_.threshold < 0 || c.cal_.threshold > 1) fail(path, "threshold must be in [0, 1]");
  for (auto& [name, w] : c.named_parameters()) w.set_requires_grad(true);  // trainable again (resume)
  return c;
}

std::string resolve_classifier_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return path;
  const std::string inside = path + "/classifier.safetensors";
  if (std::filesystem::is_regular_file(inside, ec)) return inside;
  if (!std::filesystem::exists(path, ec)) fail(path, "no such file or directory (expected a guardrail run)");
  fail(path, "not a guardrail run: no classifier.safetensors (train one with `supportrl train-guardrail`)");
}

}  // namespace srl::model
