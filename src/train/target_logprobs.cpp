#include "train/target_logprobs.hpp"

#include <ATen/Parallel.h>

#include "core/error.hpp"
#include "model/kernels.hpp"

namespace srl::train {

namespace {

// Row r of x as fp32: in place for fp32, converted into `buf` for bf16.
const float* row_f32(const torch::Tensor& x, int64_t r, std::vector<float>& buf) {
  const int64_t V = x.size(1);
  if (x.scalar_type() == torch::kFloat) return x.data_ptr<float>() + r * V;
  const auto* src = reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>()) + r * V;
  buf.resize(static_cast<size_t>(V));
  model::kern::bf16_to_float(src, V, buf.data());
  return buf.data();
}

// log p(target) per row; the per-row normaliser (max + log-sum-exp) into `norm`.
torch::Tensor forward_rows(const torch::Tensor& x, const torch::Tensor& t, torch::Tensor& norm) {
  const int64_t N = x.size(0), V = x.size(1);
  auto out = torch::empty({N}, torch::kFloat);
  norm = torch::empty({N}, torch::kFloat);  // max + log-sum-exp per row: log p = x - norm
  const int64_t* tp = t.data_ptr<int64_t>();
  float* op = out.data_ptr<float>();
  float* np = norm.data_ptr<float>();
  for (int64_t r = 0; r < N; ++r)
    if (tp[r] < 0 || tp[r] >= V) fail_internal("target_logprobs", "target id outside the vocabulary");
  at::parallel_for(0, N, 8, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf;
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = row_f32(x, r, buf);
      float mx, lse;
      model::kern::log_softmax_stats(row, V, 1.0f, &mx, &lse);
      np[r] = mx + lse;
      op[r] = row[tp[r]] - np[r];
    }
  });
  return out;
}

struct TargetLogprobs : public torch::autograd::Function<TargetLogprobs> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets) {
    auto x = logits.contiguous();
    auto t = targets.to(torch::kLong).contiguous();
    torch::Tensor norm;
    auto out = forward_rows(x, t, norm);
    ctx->save_for_backward({x, t, norm});
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& t = saved[1];
    const auto& norm = saved[2];
    auto g = grads[0].to(torch::kFloat).contiguous();
    const int64_t N = x.size(0), V = x.size(1);
    auto dx = torch::empty_like(x);
    const bool bf16 = x.scalar_type() == torch::kBFloat16;
    const int64_t* tp = t.data_ptr<int64_t>();
    const float* np = norm.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    at::parallel_for(0, N, 8, [&](int64_t r0, int64_t r1) {
      std::vector<float> buf, p(static_cast<size_t>(V));
      for (int64_t r = r0; r < r1; ++r) {
        // d log p(t) / dx_j = [j == t] - softmax_j
        const float* row = row_f32(x, r, buf);
        model::kern::softmax_weights(row, V, np[r], 1.0f, p.data());
        const float gr = gp[r];
        for (int64_t j = 0; j < V; ++j) p[j] *= -gr;
        p[tp[r]] += gr;
        if (bf16)
          model::kern::to_bf16_rows(p.data(), V, 1, V, V, reinterpret_cast<uint16_t*>(dx.data_ptr<at::BFloat16>()) + r * V);
        else
          std::copy(p.begin(), p.end(), dx.data_ptr<float>() + r * V);
      }
    });
    return {dx, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor target_logprobs(const torch::Tensor& logits, const torch::Tensor& targets) {
  const bool fused = logits.device().is_cpu() && logits.dim() == 2 &&
                     (logits.scalar_type() == torch::kFloat || logits.scalar_type() == torch::kBFloat16);
  if (!fused) {
    auto lp = torch::log_softmax(logits.to(torch::kFloat), -1);
    return lp.gather(1, targets.to(torch::kLong).unsqueeze(1)).squeeze(1);
  }
  if (!torch::GradMode::is_enabled() || !logits.requires_grad()) {
    torch::Tensor norm;
    return forward_rows(logits.contiguous(), targets.to(torch::kLong).contiguous(), norm);
  }
  return TargetLogprobs::apply(logits, targets);
}

}  // namespace srl::train
