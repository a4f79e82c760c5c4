#include "train/rollout_logps.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "train/rl_core.hpp"
#include "train/sequence_logps.hpp"

namespace srl::train {

namespace {

void check_seq(const std::vector<int64_t>& s, const std::string& where, int64_t vocab) {
  if (s.empty()) fail(where, "empty sequence");
  for (auto id : s)
    if (id < 0 || id >= vocab)
      fail(where, "token id " + std::to_string(id) + " outside the vocabulary [0, " + std::to_string(vocab) + ")");
}

void validate(model::Llama& m, const RolloutBatch& b, const RolloutLogpOptions& o) {
  const auto& cfg = m->config();
  if (b.prompts.empty() || b.responses.empty()) fail("rollout_logps", "empty batch");
  if (b.prompt_index.size() != b.responses.size())
    fail("rollout_logps", std::to_string(b.responses.size()) + " responses but " +
                              std::to_string(b.prompt_index.size()) + " prompt indices");
  if (!(o.temperature > 0)) fail("rollout_logps", "temperature must be positive");
  for (size_t i = 0; i < b.prompts.size(); ++i)
    check_seq(b.prompts[i], "rollout_logps prompt " + std::to_string(i), cfg.vocab_size);
  for (size_t r = 0; r < b.responses.size(); ++r) {
    const std::string row = "rollout_logps response " + std::to_string(r);
    const int64_t p = b.prompt_index[r];
    if (p < 0 || p >= static_cast<int64_t>(b.prompts.size()))
      fail(row, "prompt index " + std::to_string(p) + " outside [0, " + std::to_string(b.prompts.size()) + ")");
    check_seq(b.responses[r], row, cfg.vocab_size);
    const size_t len = b.prompts[p].size() + b.responses[r].size();
    if (static_cast<int64_t>(len) > cfg.max_position_embeddings)
      fail(row, "prompt + response of " + std::to_string(len) + " tokens exceeds the model's context of " +
                    std::to_string(cfg.max_position_embeddings));
  }
}

int64_t longest_response(const RolloutBatch& b) {
  size_t y = 0;
  for (const auto& r : b.responses) y = std::max(y, r.size());
  return static_cast<int64_t>(y);
}

// From predictor states h (N, D) at (rows, cols) of an (R, Y) response grid with targets (N,): the padded
// per-token log-probs (and entropies).
TokenLogps scatter(model::Llama& m, const torch::Tensor& h, const std::vector<int64_t>& rows,
                   const std::vector<int64_t>& cols, const std::vector<int64_t>& targets, int64_t R, int64_t Y,
                   const RolloutLogpOptions& o) {
  const auto device = h.device();
  auto rt = torch::tensor(rows, torch::kLong).to(device), ct = torch::tensor(cols, torch::kLong).to(device);
  auto tt = torch::tensor(targets, torch::kLong).to(device);
  auto logits = m->logits(h).to(torch::kFloat);
  if (o.temperature != 1.0) logits = logits / o.temperature;
  auto lp = torch::log_softmax(logits, -1);  // (N, V)
  auto tok = lp.gather(1, tt.unsqueeze(1)).squeeze(1);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(device);
  TokenLogps out;
  out.logps = torch::zeros({R, Y}, fopt).index_put({rt, ct}, tok);
  out.mask = torch::zeros({R, Y}, fopt).index_put_({rt, ct}, torch::ones({static_cast<int64_t>(rows.size())}, fopt));
  if (o.entropy) {
    torch::Tensor ent;
    if (o.entropy_grad) {
      ent = entropy_from_logp(lp);
    } else {
      torch::NoGradGuard ng;
      ent = entropy_from_logp(lp.detach());
    }
    out.entropy = torch::zeros({R, Y}, fopt).index_put({rt, ct}, ent);
  }
  return out;
}

}  // namespace

TokenLogps rollout_logps_unshared(model::Llama& m, const RolloutBatch& b, const RolloutLogpOptions& o) {
  validate(m, b, o);
  const int64_t R = static_cast<int64_t>(b.responses.size()), Y = longest_response(b);
  const auto device = m->parameters().front().device();
  int64_t T = 0;
  for (int64_t r = 0; r < R; ++r)
    T = std::max<int64_t>(T, static_cast<int64_t>(b.prompts[b.prompt_index[r]].size() + b.responses[r].size()));
  auto ids = torch::zeros({R, T}, torch::kLong);
  std::vector<int64_t> rows, cols, hcols, targets;  // hcols: predictor position; the target follows it
  {
    auto ia = ids.accessor<int64_t, 2>();
    for (int64_t r = 0; r < R; ++r) {
      const auto& p = b.prompts[b.prompt_index[r]];
      const auto& y = b.responses[r];
      const int64_t P = static_cast<int64_t>(p.size());
      for (int64_t j = 0; j < P; ++j) ia[r][j] = p[j];
      for (int64_t j = 0; j < static_cast<int64_t>(y.size()); ++j) {
        ia[r][P + j] = y[j];
        rows.push_back(r);
        cols.push_back(j);
        hcols.push_back(P + j - 1);
        targets.push_back(y[j]);
      }
    }
  }
  ids = ids.to(device);
  auto pos = torch::arange(T, ids.options()).unsqueeze(0).expand({R, T});
  auto hidden = m->forward(ids, pos);  // (R, T, D)
  auto h = hidden.index({torch::tensor(rows, torch::kLong).to(device), torch::tensor(hcols, torch::kLong).to(device)});
  return scatter(m, h, rows, cols, targets, R, Y, o);
}

TokenLogps rollout_logps(model::Llama& m, const RolloutBatch& b, const RolloutLogpOptions& o) {
  validate(m, b, o);
  const int64_t R = static_cast<int64_t>(b.responses.size());
  const auto device = m->parameters().front().device();
  const int64_t Y = longest_response(b);
  std::vector<const std::vector<int64_t>*> responses;
  for (const auto& y : b.responses) responses.push_back(&y);
  // Column j predicts response token j (the last token is only a target).
  auto predictors = prefix_shared_forward(m, b.prompts, responses, b.prompt_index, false);

  // Only response positions reach the output projection.
  std::vector<int64_t> rows, cols, targets;
  for (int64_t r = 0; r < R; ++r)
    for (size_t j = 0; j < b.responses[r].size(); ++j) {
      rows.push_back(r);
      cols.push_back(static_cast<int64_t>(j));
      targets.push_back(b.responses[r][j]);
    }
  auto h = predictors.index({torch::tensor(rows, torch::kLong).to(device), torch::tensor(cols, torch::kLong).to(device)});
  return scatter(m, h, rows, cols, targets, R, Y, o);
}

}  // namespace srl::train
