#include "model/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "model/kernels.hpp"

namespace srl::model {

void check_prompt(const std::string& where, const std::vector<int64_t>& prompt, int64_t room, const LlamaConfig& c) {
  if (prompt.empty()) fail(where, "empty prompt");
  const auto L = static_cast<int64_t>(prompt.size());
  if (L >= room)
    fail(where, "prompt of " + std::to_string(L) + " tokens leaves no room in the " +
                    (room < c.max_position_embeddings ? "engine's capacity of " : "model's context of ") + std::to_string(room));
  for (auto t : prompt)
    if (t < 0 || t >= c.vocab_size)
      fail(where, "token id " + std::to_string(t) + " outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
}

SequenceOutput::SequenceOutput(const SamplingParams& p, int64_t prompt_len, int64_t room)
    : budget(std::min<int64_t>(p.max_new_tokens, room - prompt_len)) {
  if (budget <= 0) {
    done = true;
    gen.finish_reason = "length";
  }
}

void SequenceOutput::add(int64_t token, float logprob, const SamplingParams& p) {
  if (!std::isfinite(logprob)) fail_internal("generate", "non-finite log-prob while sampling (NaN in the model?)");
  gen.tokens.push_back(token);
  gen.logprobs.push_back(logprob);
  if (std::find(p.stop_ids.begin(), p.stop_ids.end(), token) != p.stop_ids.end()) {
    done = true;
    gen.finish_reason = "stop";
  } else if (static_cast<int64_t>(gen.tokens.size()) >= budget) {
    done = true;
    gen.finish_reason = "length";
  }
}

int64_t sample_token(const float* logits, int64_t V, const SamplingParams& p, double u, float* logprob) {
  const bool greedy = p.temperature <= 0.0;
  const double inv_t = greedy ? 1.0 : 1.0 / p.temperature;
  // Candidates are ids below vocab_limit; the log-prob is normalised over the whole output layer, as the
  // trainer's log_softmax is. log-sum-exp in double for a stable log-prob.
  const int64_t Vs = p.vocab_limit > 0 ? std::min(p.vocab_limit, V) : V;
  double mx = -INFINITY;
  for (int64_t i = 0; i < V; ++i) mx = std::max<double>(mx, logits[i]);
  int64_t arg = 0;
  for (int64_t i = 1; i < Vs; ++i)
    if (logits[i] > logits[arg]) arg = i;
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp((logits[i] - mx) * inv_t);
  const double lse = std::log(sum);
  auto lp = [&](int64_t i) { return static_cast<float>((logits[i] - mx) * inv_t - lse); };
  if (greedy) {
    *logprob = lp(arg);
    return arg;
  }
  // Candidates sorted by logit (descending, ties by lower id), cut by top-k then by top-p on the scaled
  // distribution; the draw runs over the kept ones in that order.
  int64_t keep = p.top_k > 0 && p.top_k < Vs ? p.top_k : Vs;
  std::vector<int64_t> idx;
  if (keep < Vs || p.top_p < 1.0) {
    // Only the head of the order matters. The ids at or above a logit floor are a head of it: the floor
    // drops until they hold the top_k or clearly more than top_p of the probability, so sorting just them
    // gives the cut that sorting the whole vocabulary gives (a few dozen ids instead of thousands).
    const double margin = 1e-6;  // against summing the mass in another order than the cut below
    for (double gap : {8.0, 16.0, 32.0, 64.0, static_cast<double>(INFINITY)}) {
      const double floor = mx - gap / inv_t;
      idx.clear();
      double mass = 0;
      for (int64_t i = 0; i < Vs; ++i)
        if (logits[i] >= floor) {
          idx.push_back(i);
          mass += std::exp(lp(i));
        }
      if (static_cast<int64_t>(idx.size()) >= keep || mass >= p.top_p + margin) break;
    }
    const auto by_logit = [&](int64_t a, int64_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    keep = std::min<int64_t>(keep, static_cast<int64_t>(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), by_logit);
    if (p.top_p < 1.0) {
      double cum = 0;
      int64_t n = 0;
      while (n < keep) {
        cum += std::exp(lp(idx[n]));
        ++n;
        if (cum >= p.top_p) break;
      }
      keep = std::max<int64_t>(n, 1);
    }
  } else {
    idx.resize(static_cast<size_t>(Vs));
    std::iota(idx.begin(), idx.end(), 0);
  }
  double total = 0;
  for (int64_t j = 0; j < keep; ++j) total += std::exp(lp(idx[j]));
  double target = u * total, acc = 0;
  int64_t pick = idx[keep - 1];
  for (int64_t j = 0; j < keep; ++j) {
    acc += std::exp(lp(idx[j]));
    if (acc > target) {
      pick = idx[j];
      break;
    }
  }
  *logprob = lp(pick);
  return pick;
}

SampledToken sample_row(const float* row, int64_t V, const SamplingParams& p, std::mt19937_64& rng) {
  const int64_t Vs = p.vocab_limit > 0 ? std::min(p.vocab_limit, V) : V;
  SampledToken s{};
  if (p.temperature <= 0.0) {
    float mx, lse;
    kern::log_softmax_stats(row, V, 1.0f, &mx, &lse);
    s.token = kern::argmax(row, Vs);
    s.logprob = row[s.token] - mx - lse;
  } else if (p.top_k > 0 || p.top_p < 1.0) {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    s.token = sample_token(row, V, p, u, &s.logprob);
  } else {
    // Inverse-CDF draw over the tempered distribution, ids in order (as sample_token does).
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto inv_t = static_cast<float>(1.0 / p.temperature);
    thread_local std::vector<float> probs;  // (V) tempered weights
    if (probs.size() < static_cast<size_t>(V)) probs.resize(static_cast<size_t>(V));
    const float mx = row[kern::argmax(row, V)];
    const float all = kern::softmax_weights(row, V, mx, inv_t, probs.data());
    const double total = Vs == V ? all : kern::softmax_weights(row, Vs, mx, inv_t, probs.data());
    s.token = kern::cumulative_search(probs.data(), Vs, u * total);
    s.logprob = (row[s.token] - mx) * inv_t - std::log(all);
  }
  return s;
}

}  // namespace srl::model
