#include "train/sequence_logps.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "model/kv_cache.hpp"
#include "train/target_logprobs.hpp"

namespace srl::train {

namespace {

void check_seq(const std::vector<int64_t>& s, const std::string& where, int64_t vocab) {
  if (s.empty()) fail(where, "empty sequence");
  for (auto id : s)
    if (id < 0 || id >= vocab)
      fail(where, "token id " + std::to_string(id) + " outside the vocabulary [0, " + std::to_string(vocab) + ")");
}

void validate(model::Llama& m, const PairedSequences& b) {
  const auto& cfg = m->config();
  const size_t B = b.prompts.size();
  if (B == 0) fail("sequence_logps", "empty batch");
  if (b.chosen.size() != B || b.rejected.size() != B)
    fail("sequence_logps", "batch has " + std::to_string(B) + " prompts, " + std::to_string(b.chosen.size()) +
                               " chosen and " + std::to_string(b.rejected.size()) + " rejected responses");
  for (size_t i = 0; i < B; ++i) {
    const std::string row = "sequence_logps row " + std::to_string(i);
    check_seq(b.prompts[i], row + " prompt", cfg.vocab_size);
    check_seq(b.chosen[i], row + " chosen", cfg.vocab_size);
    check_seq(b.rejected[i], row + " rejected", cfg.vocab_size);
    const size_t longest = b.prompts[i].size() + std::max(b.chosen[i].size(), b.rejected[i].size());
    if (static_cast<int64_t>(longest) > cfg.max_position_embeddings)
      fail(row, "prompt + response of " + std::to_string(longest) + " tokens exceeds the model's context of " +
                    std::to_string(cfg.max_position_embeddings));
  }
}

// The 2B responses in order: chosen rows 0..B-1, then rejected rows.
const std::vector<int64_t>& response(const PairedSequences& b, int64_t r) {
  const int64_t B = static_cast<int64_t>(b.prompts.size());
  return r < B ? b.chosen[r] : b.rejected[r - B];
}

// Sums log p(target) per row from predictor hidden states (N, D), targets (N,) and row ids (N,).
torch::Tensor row_sums(model::Llama& m, const torch::Tensor& h, const torch::Tensor& targets,
                       const torch::Tensor& rows, int64_t n_rows) {
  auto tok = target_logprobs(m->logits(h), targets);  // (N,)
  return torch::zeros({n_rows}, tok.options()).index_add(0, rows, tok);
}

SequenceLogps split_result(const torch::Tensor& sums, const PairedSequences& b, torch::Device device) {
  const int64_t B = static_cast<int64_t>(b.prompts.size());
  auto counts = torch::empty({2 * B}, torch::kFloat);
  for (int64_t r = 0; r < 2 * B; ++r) counts[r] = static_cast<float>(response(b, r).size());
  counts = counts.to(device);
  return {sums.narrow(0, 0, B), sums.narrow(0, B, B), counts.narrow(0, 0, B), counts.narrow(0, B, B)};
}

}  // namespace

SequenceLogps sequence_logps_unshared(model::Llama& m, const PairedSequences& b) {
  validate(m, b);
  const int64_t B = static_cast<int64_t>(b.prompts.size()), R = 2 * B;
  const auto device = m->parameters().front().device();
  int64_t T = 0;
  for (int64_t r = 0; r < R; ++r)
    T = std::max<int64_t>(T, static_cast<int64_t>(b.prompts[r % B].size() + response(b, r).size()));
  auto ids = torch::zeros({R, T}, torch::kLong);
  std::vector<int64_t> rows, cols;  // predictor (row, position); the target is at position + 1
  {
    auto ia = ids.accessor<int64_t, 2>();
    for (int64_t r = 0; r < R; ++r) {
      const auto& p = b.prompts[r % B];
      const auto& y = response(b, r);
      const int64_t P = static_cast<int64_t>(p.size()), Y = static_cast<int64_t>(y.size());
      for (int64_t j = 0; j < P; ++j) ia[r][j] = p[j];
      for (int64_t j = 0; j < Y; ++j) {
        ia[r][P + j] = y[j];
        rows.push_back(r);
        cols.push_back(P + j - 1);
      }
    }
  }
  ids = ids.to(device);
  auto pos = torch::arange(T, ids.options()).unsqueeze(0).expand({R, T});
  auto hidden = m->forward(ids, pos);  // (R, T, D)
  auto rt = torch::tensor(rows, torch::kLong).to(device), ct = torch::tensor(cols, torch::kLong).to(device);
  auto h = hidden.index({rt, ct});
  auto targets = ids.index({rt, ct + 1});
  return split_result(row_sums(m, h, targets, rt, R), b, device);
}

torch::Tensor prefix_shared_forward(model::Llama& m, const std::vector<std::vector<int64_t>>& prompts,
                                    const std::vector<const std::vector<int64_t>*>& responses,
                                    const std::vector<int64_t>& prompt_index, bool through_last_token) {
  const auto& cfg = m->config();
  const int64_t B = static_cast<int64_t>(prompts.size()), R = static_cast<int64_t>(responses.size());
  const auto device = m->parameters().front().device();
  const auto dtype = m->parameters().front().scalar_type();
  const auto lopt = torch::TensorOptions().dtype(torch::kLong);

  // 1. Prompts once, left-padded to the longest; positions restart at 0 on each row's first real token.
  int64_t Pmax = 0, Ymax = 0;
  for (const auto& p : prompts) Pmax = std::max<int64_t>(Pmax, static_cast<int64_t>(p.size()));
  for (int64_t r = 0; r < R; ++r) Ymax = std::max<int64_t>(Ymax, static_cast<int64_t>(responses[r]->size()));
  // For log-probs the last response token is only a target, never an input: Ymax - 1 columns.
  const int64_t Tc = through_last_token ? Ymax : Ymax - 1, S = Pmax + Tc;
  auto pids = torch::zeros({B, Pmax}, lopt), ppos = torch::zeros({B, Pmax}, lopt);
  auto valid = torch::ones({B, Pmax}, torch::kBool);
  bool padded = false;
  {
    auto ia = pids.accessor<int64_t, 2>();
    auto pa = ppos.accessor<int64_t, 2>();
    auto va = valid.accessor<bool, 2>();
    for (int64_t i = 0; i < B; ++i) {
      const auto& p = prompts[i];
      const int64_t P = static_cast<int64_t>(p.size()), pad = Pmax - P;
      for (int64_t j = 0; j < pad; ++j) va[i][j] = false;
      for (int64_t j = 0; j < P; ++j) {
        ia[i][pad + j] = p[j];
        pa[i][pad + j] = j;
      }
      if (pad > 0) padded = true;
    }
  }
  auto cache = model::KVCache::allocate(cfg, B, Pmax, dtype, device);
  cache.key_valid.copy_(valid);
  cache.has_padding = padded;
  // The in-place writes into the (zero, grad-free) cache buffers are recorded by autograd (CopySlices),
  // so the cached keys/values carry the prompt computation's graph.
  auto prompt_hidden = m->forward(pids.to(device), ppos.to(device), &cache);  // (B, Pmax, D)

  // 2. Duplicate the cache rows for the R responses. index_select + cat make fresh tensors, so the
  // continuation's in-place writes never touch buffers the prompt forward saved for backward.
  auto dup_t = torch::tensor(prompt_index, torch::kLong).to(device);
  // Predictor of response token 0: each prompt's last hidden state (left padding puts it at Pmax - 1).
  auto first_h = prompt_hidden.select(1, Pmax - 1).index_select(0, dup_t);  // (R, D)

  torch::Tensor cont_hidden;  // (R, Tc, D): column j predicts response token j + 1
  if (Tc > 0) {
    model::KVCache c2;
    for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
      auto grow = [&](const torch::Tensor& t) {
        auto sel = t.index_select(0, dup_t);
        auto tail = torch::zeros({R, sel.size(1), Tc, sel.size(3)}, sel.options().requires_grad(false));
        return torch::cat({sel, tail}, 2);
      };
      c2.k.push_back(grow(cache.k[l]));
      c2.v.push_back(grow(cache.v[l]));
    }
    c2.key_valid = torch::ones({R, S}, torch::TensorOptions().dtype(torch::kBool).device(device));
    c2.key_valid.narrow(1, 0, Pmax).copy_(cache.key_valid.index_select(0, dup_t));
    c2.len = Pmax;
    c2.has_padding = padded;
    // Right-padded responses: a padded column only follows real ones, so causality hides it from them.
    auto rids = torch::zeros({R, Tc}, lopt), rpos = torch::zeros({R, Tc}, lopt);
    {
      auto ia = rids.accessor<int64_t, 2>();
      auto pa = rpos.accessor<int64_t, 2>();
      for (int64_t r = 0; r < R; ++r) {
        const auto& y = *responses[r];
        const int64_t P = static_cast<int64_t>(prompts[prompt_index[r]].size());
        for (int64_t j = 0; j < Tc; ++j) {
          if (j < static_cast<int64_t>(y.size())) ia[r][j] = y[j];
          pa[r][j] = std::min<int64_t>(P + j, cfg.max_position_embeddings - 1);
        }
      }
    }
    cont_hidden = m->forward(rids.to(device), rpos.to(device), &c2);
  }

  return Tc > 0 ? torch::cat({first_h.unsqueeze(1), cont_hidden}, 1) : first_h.unsqueeze(1);
}

torch::Tensor prefix_shared_hidden(model::Llama& m, const PairedSequences& b, bool through_last_token) {
  validate(m, b);
  const int64_t B = static_cast<int64_t>(b.prompts.size()), R = 2 * B;
  std::vector<const std::vector<int64_t>*> responses(R);
  std::vector<int64_t> prompt_index(R);
  for (int64_t r = 0; r < R; ++r) {
    responses[r] = &response(b, r);
    prompt_index[r] = r % B;
  }
  return prefix_shared_forward(m, b.prompts, responses, prompt_index, through_last_token);
}

SequenceLogps sequence_logps(model::Llama& m, const PairedSequences& b) {
  const int64_t B = static_cast<int64_t>(b.prompts.size()), R = 2 * B;
  auto predictors = prefix_shared_hidden(m, b, false);
  const auto device = predictors.device();
  // 3. Only response positions reach the output projection.
  std::vector<int64_t> rows, cols, targets;  // cols: 0 = first_h, j >= 1 = cont_hidden column j - 1
  for (int64_t r = 0; r < R; ++r) {
    const auto& y = response(b, r);
    for (size_t j = 0; j < y.size(); ++j) {
      rows.push_back(r);
      cols.push_back(static_cast<int64_t>(j));
      targets.push_back(y[j]);
    }
  }
  auto rt = torch::tensor(rows, torch::kLong).to(device), ct = torch::tensor(cols, torch::kLong).to(device);
  auto h = predictors.index({rt, ct});
  auto sums = row_sums(m, h, torch::tensor(targets, torch::kLong).to(device), rt, R);
  return split_result(sums, b, device);
}

torch::Tensor last_token_hidden(model::Llama& m, const PairedSequences& b) {
  const int64_t B = static_cast<int64_t>(b.prompts.size()), R = 2 * B;
  auto h = prefix_shared_hidden(m, b, true);  // column j: after j response tokens
  std::vector<int64_t> cols(R);
  for (int64_t r = 0; r < R; ++r) cols[r] = static_cast<int64_t>(response(b, r).size());
  auto ct = torch::tensor(cols, torch::kLong).to(h.device());
  return h.index({torch::arange(R, ct.options()), ct});
}

torch::Tensor last_token_hidden_unshared(model::Llama& m, const PairedSequences& b) {
  validate(m, b);
  const int64_t B = static_cast<int64_t>(b.prompts.size()), R = 2 * B;
  const auto device = m->parameters().front().device();
  int64_t T = 0;
  for (int64_t r = 0; r < R; ++r)
    T = std::max<int64_t>(T, static_cast<int64_t>(b.prompts[r % B].size() + response(b, r).size()));
  auto ids = torch::zeros({R, T}, torch::kLong);
  std::vector<int64_t> last(R);
  {
    auto ia = ids.accessor<int64_t, 2>();
    for (int64_t r = 0; r < R; ++r) {
      const auto& p = b.prompts[r % B];
      const auto& y = response(b, r);
      int64_t t = 0;
      for (auto id : p) ia[r][t++] = id;
      for (auto id : y) ia[r][t++] = id;
      last[r] = t - 1;
    }
  }
  ids = ids.to(device);
  auto pos = torch::arange(T, ids.options()).unsqueeze(0).expand({R, T});
  auto hidden = m->forward(ids, pos);
  auto lt = torch::tensor(last, torch::kLong).to(device);
  return hidden.index({torch::arange(R, lt.options()), lt});
}

}  // namespace srl::train
