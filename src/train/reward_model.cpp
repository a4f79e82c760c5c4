#include "train/reward_model.hpp"

#include <cmath>
#include <map>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/run_dir.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"

namespace srl::train {

namespace {

constexpr const char* kHeadFile = "value_head.safetensors";
constexpr const char* kInfoFile = "reward_model.json";

// Eval mode and no autograd for one call; restores the previous mode.
class InferenceScope {
 public:
  explicit InferenceScope(model::Llama& m) : m_(m), was_training_(m->is_training()) { m_->eval(); }
  ~InferenceScope() { m_->train(was_training_); }
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

 private:
  model::Llama& m_;
  bool was_training_;
  torch::NoGradGuard ng_;
};

nlohmann::json opt_json(const std::optional<double>& x) { return x ? nlohmann::json(*x) : nlohmann::json(nullptr); }

std::optional<double> read_opt_number(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number() || !std::isfinite(j[key].get<double>()))
    fail(where, std::string("'") + key + "' must be a finite number or null");
  return j[key].get<double>();
}

}  // namespace

RewardModel::RewardModel(model::Llama policy, text::Tokenizer tok, uint64_t head_seed, PairTokenizeOptions tok_opt)
    : tokenize(tok_opt), policy_(std::move(policy)), tok_(std::move(tok)) {
  const int64_t D = policy_->config().hidden_size;
  auto gen = at::detail::createCPUGenerator(head_seed);
  weight_ = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(D + 1)), {1, D}, gen).to(torch::kFloat);
  bias_ = torch::zeros({1}, torch::kFloat);
  const auto device = policy_->parameters().front().device();
  weight_ = weight_.to(device);
  bias_ = bias_.to(device);
}

RewardModel RewardModel::load(const std::string& path) {
  const std::string dir = resolve_model_dir(path);
  if (!fs::exists(dir + "/" + kHeadFile))
    fail(dir, std::string("not a reward model: no ") + kHeadFile +
                  " (a policy checkpoint? train one with `supportrl train-reward-model`)");
  const std::string ipath = dir + "/" + kInfoFile;
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(fs::read_file(ipath));
  } catch (const nlohmann::json::parse_error& e) {
    fail(ipath, std::string("invalid JSON: ") + e.what());
  }
  if (!info.is_object() || info.value("type", "") != "reward_model") fail(ipath, "expected \"type\": \"reward_model\"");
  PairTokenizeOptions to;
  for (auto [key, field] : {std::pair{"max_prompt_len", &to.max_prompt_len}, {"max_seq_len", &to.max_seq_len}}) {
    if (!info.contains(key)) continue;
    if (!info[key].is_number_integer()) fail(ipath, std::string("'") + key + "' must be an integer");
    *field = info[key].get<int64_t>();
  }
  if (to.max_prompt_len < 2 || to.max_seq_len <= to.max_prompt_len)
    fail(ipath, "max_seq_len must exceed max_prompt_len, which must be at least 2");
  auto lm = model::load_model(dir);
  if (to.max_seq_len > lm.model->config().max_position_embeddings)
    fail(ipath, "max_seq_len " + std::to_string(to.max_seq_len) + " exceeds the model's context of " +
                    std::to_string(lm.model->config().max_position_embeddings));
  RewardModel rm(lm.model, lm.tokenizer, 0, to);
  rm.load_head(dir);
  rm.stats.mean = read_opt_number(info, "reward_mean", ipath);
  rm.stats.std = read_opt_number(info, "reward_std", ipath);
  if (info.contains("stats_responses") && info["stats_responses"].is_number_integer())
    rm.stats.responses = info["stats_responses"].get<int64_t>();
  for (auto& [k, v] : info.items())
    if (k != "type" && k != "reward_mean" && k != "reward_std" && k != "stats_responses" && k != "max_prompt_len" &&
        k != "max_seq_len" && k != "hidden_size" && k != "pooling" && k != "head")
      rm.info[k] = v;
  rm.policy_->eval();
  return rm;
}

torch::Tensor RewardModel::head(const torch::Tensor& hidden) const {
  return (hidden.to(torch::kFloat) * weight_).sum(-1) + bias_;
}

torch::Tensor RewardModel::rewards(const PairedSequences& b) { return head(last_token_hidden(policy_, b)); }

std::vector<std::pair<double, double>> RewardModel::score_pairs(const std::vector<ScorePair>& pairs, int64_t batch) {
  if (batch < 1) fail("score", "batch must be at least 1");
  InferenceScope scope(policy_);
  std::vector<std::pair<double, double>> out;
  out.reserve(pairs.size());
  for (size_t i = 0; i < pairs.size(); i += static_cast<size_t>(batch)) {
    PairedSequences b;
    const size_t end = std::min(pairs.size(), i + static_cast<size_t>(batch));
    for (size_t j = i; j < end; ++j) {
      auto [pa, ra] = tokenize_reply(pairs[j].conversation, pairs[j].response_a, tok_, tokenize);
      auto [pb, rb] = tokenize_reply(pairs[j].conversation, pairs[j].response_b, tok_, tokenize);
      (void)pb;  // the same prompt: tokenize_reply depends only on the conversation for it
      b.prompts.push_back(std::move(pa));
      b.chosen.push_back(std::move(ra));
      b.rejected.push_back(std::move(rb));
    }
    auto r = rewards(b).to(torch::kCPU).to(torch::kDouble);
    auto acc = r.accessor<double, 1>();
    const int64_t B = static_cast<int64_t>(end - i);
    for (int64_t j = 0; j < B; ++j) out.emplace_back(acc[j], acc[B + j]);
  }
  return out;
}

std::vector<double> RewardModel::score_batch(const std::vector<ScoreItem>& items, int64_t batch) {
  if (batch < 1) fail("score", "batch must be at least 1");
  InferenceScope scope(policy_);
  // Pair up responses to the same prompt (slot A, slot B) so each prompt runs once; a leftover response
  // fills both slots of its row.
  struct Row {
    std::vector<int64_t> prompt, a, b;
    size_t ia, ib;
  };
  std::vector<Row> rows;
  std::map<std::vector<int64_t>, size_t> open;  // prompt -> row waiting for its slot B
  for (size_t i = 0; i < items.size(); ++i) {
    auto [p, r] = tokenize_reply(items[i].conversation, items[i].response, tok_, tokenize);
    auto it = open.find(p);
    if (it != open.end()) {
      rows[it->second].b = std::move(r);
      rows[it->second].ib = i;
      open.erase(it);
    } else {
      open.emplace(p, rows.size());
      rows.push_back(Row{std::move(p), r, r, i, i});
    }
  }
  std::vector<double> out(items.size());
  const size_t per = static_cast<size_t>(std::max<int64_t>(1, batch / 2));
  for (size_t i = 0; i < rows.size(); i += per) {
    PairedSequences b;
    const size_t end = std::min(rows.size(), i + per);
    for (size_t j = i; j < end; ++j) {
      b.prompts.push_back(rows[j].prompt);
      b.chosen.push_back(rows[j].a);
      b.rejected.push_back(rows[j].b);
    }
    auto r = rewards(b).to(torch::kCPU).to(torch::kDouble);
    auto acc = r.accessor<double, 1>();
    const int64_t B = static_cast<int64_t>(end - i);
    for (int64_t j = 0; j < B; ++j) {
      out[rows[i + j].ia] = acc[j];
      out[rows[i + j].ib] = acc[B + j];  // the same value again for a leftover row
    }
  }
  return out;
}

double RewardModel::score(const std::vector<text::Message>& conversation, const std::string& response) {
  return score_batch({ScoreItem{conversation, response}}, 1).front();
}

double RewardModel::prob_a_beats_b(const std::vector<text::Message>& conversation, const std::string& a,
                                   const std::string& b) {
  auto [ra, rb] = score_pairs({ScorePair{conversation, a, b}}, 1).front();
  return 1.0 / (1.0 + std::exp(-(ra - rb)));
}

std::vector<std::pair<std::string, torch::Tensor>> RewardModel::head_parameters() const {
  return {{"score.weight", weight_}, {"score.bias", bias_}};
}

void RewardModel::to(torch::Device device) {
  policy_->to(device);
  // In place, so the optimizer keeps holding the same tensors.
  torch::NoGradGuard ng;
  if (weight_.device() != device) {
    weight_.set_data(weight_.to(device));
    bias_.set_data(bias_.to(device));
  }
}

void RewardModel::save_head_files(const std::string& dir) const {
  fs::make_dirs(dir);
  model::safetensors::save(dir + "/" + kHeadFile, {{"score.weight", weight_.detach()}, {"score.bias", bias_.detach()}},
                           {{"format", "pt"}});
  nlohmann::json j = info;
  j["type"] = "reward_model";
  j["head"] = "score";
  j["pooling"] = "last_token";
  j["hidden_size"] = policy_->config().hidden_size;
  j["max_prompt_len"] = tokenize.max_prompt_len;
  j["max_seq_len"] = tokenize.max_seq_len;
  j["reward_mean"] = opt_json(stats.mean);
  j["reward_std"] = opt_json(stats.std);
  j["stats_responses"] = stats.responses;
  fs::write_file_atomic(dir + "/" + kInfoFile, j.dump(2) + "\n");
}

void RewardModel::save(const std::string& dir) {
  model::save_model_files(dir, policy_, tok_);
  save_head_files(dir);
  model::mark_complete(dir);
}

void RewardModel::load_head(const std::string& dir) {
  const std::string path = dir + "/" + kHeadFile;
  auto f = model::safetensors::load(path);
  const int64_t D = policy_->config().hidden_size;
  auto get = [&](const char* name, std::vector<int64_t> shape) {
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) fail(path, std::string("missing tensor '") + name + "'");
    if (it->second.sizes() != c10::IntArrayRef(shape))
      fail(path, std::string("tensor '") + name + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
                     c10::str(c10::IntArrayRef(shape)));
    if (!it->second.is_floating_point()) fail(path, std::string("tensor '") + name + "' is not floating point");
    auto t = it->second.to(torch::kFloat);
    if (!torch::isfinite(t).all().item<bool>()) fail(path, std::string("tensor '") + name + "' has non-finite values");
    return t;
  };
  auto w = get("score.weight", {1, D}), b = get("score.bias", {1});
  if (f.tensors.size() != 2) fail(path, "expected exactly the tensors score.weight and score.bias");
  torch::NoGradGuard ng;
  weight_.copy_(w);
  bias_.copy_(b);
}

torch::Tensor reward_pair_losses(const torch::Tensor& r_a, const torch::Tensor& r_b, const torch::Tensor& target,
                                 double margin, double center_coef) {
  auto t = target.to(r_a.dtype());
  auto logit = r_a - r_b;
  if (margin != 0) logit = logit - margin * (2 * t - 1);  // 2t - 1 = +1 (A won), -1 (B won), 0 (tie)
  auto loss = torch::binary_cross_entropy_with_logits(logit, t, {}, {}, torch::Reduction::None);
  if (center_coef != 0) loss = loss + center_coef * (r_a + r_b).pow(2);
  return loss;
}

}  // namespace srl::train
