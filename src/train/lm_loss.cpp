#include "train/lm_loss.hpp"

#include "train/target_logprobs.hpp"

namespace srl::train {

TokenBatch make_batch(const std::vector<const TokenExample*>& rows, int64_t pad_id, torch::Device device) {
  int64_t T = 0;
  for (auto* r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(r->ids.size()));
  const int64_t B = static_cast<int64_t>(rows.size());
  auto ids = torch::full({B, T}, pad_id, torch::kLong);
  auto w = torch::zeros({B, T}, torch::kFloat);
  auto ia = ids.accessor<int64_t, 2>();
  auto wa = w.accessor<float, 2>();
  TokenBatch b;
  for (int64_t i = 0; i < B; ++i) {
    const auto& r = *rows[i];
    for (size_t t = 0; t < r.ids.size(); ++t) {
      ia[i][t] = r.ids[t];
      wa[i][t] = r.weights[t];
    }
    b.real_tokens += static_cast<int64_t>(r.ids.size());
  }
  b.ids = ids.to(device);
  b.weights = w.to(device);
  return b;
}

std::pair<torch::Tensor, double> weighted_nll_sum(model::Llama& m, const TokenBatch& b) {
  const int64_t B = b.ids.size(0), T = b.ids.size(1);
  auto pos = torch::arange(T, b.ids.options()).unsqueeze(0).expand({B, T});
  auto hidden = m->forward(b.ids, pos);                          // (B, T, D)
  auto tw = b.weights.narrow(1, 1, T - 1);                       // weight of target t+1
  auto sel = (tw > 0).nonzero();                                 // (N, 2): row, position
  auto rows = sel.select(1, 0), cols = sel.select(1, 1);
  auto h = hidden.index({rows, cols});                           // (N, D): hidden at t predicts t+1
  auto targets = b.ids.index({rows, cols + 1});                  // (N,)
  auto nll = -target_logprobs(m->logits(h), targets);             // (N,), fp32 whatever the logits' dtype
  auto w = tw.index({rows, cols});
  return {(nll * w).sum(), w.sum().item<double>()};
}

}  // namespace srl::train
