#include "train/rl_step.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.hpp"
#include "core/numeric.hpp"
#include "core/timer.hpp"
#include "train/dpo_loss.hpp"
#include "train/run_contract.hpp"
#include "train/trainer_common.hpp"

namespace srl::train {

namespace {

// Parameters that train switch off their gradients for a scope, so a forward in grad mode (the training
// path's numerics, not the fused inference weights) builds no graph.
class NoGraph {
 public:
  explicit NoGraph(const std::vector<std::pair<std::string, torch::Tensor>>& params) : params_(params) {
    for (auto& [n, p] : params_) p.set_requires_grad(false);
  }
  ~NoGraph() {
    for (auto& [n, p] : params_) p.set_requires_grad(true);
  }
  NoGraph(const NoGraph&) = delete;
  NoGraph& operator=(const NoGraph&) = delete;

 private:
  const std::vector<std::pair<std::string, torch::Tensor>>& params_;
};

}  // namespace

RlStepContext make_step_context(const RlConfig& cfg, bool pairwise, model::Llama& m, const text::Tokenizer& tok,
                                const Compute& cmp, const std::vector<RlPrompt>& prompts,
                                const std::vector<std::vector<int64_t>>& prompt_tokens,
                                const std::vector<std::pair<std::string, torch::Tensor>>& params) {
  RlStepContext c{cfg, pairwise, m, tok, cmp, prompts, prompt_tokens, params};
  c.G = cfg.rollout.rollouts_per_prompt;
  c.P = cfg.rollout.prompts_per_step;
  c.K = cfg.objective.num_substeps;
  c.PK = c.P / c.K;
  c.comparisons = tournament_comparisons(cfg.reward.tournament, c.G, cfg.reward.chunk_size);
  // With KL shaping the advantages need every rollout's KL before the first update, so the log-probs of
  // the sampling policy ("old") come from a pass without gradient over the whole batch. Otherwise the
  // first minibatch's old log-probs are its own training forward, detached (same numbers, one pass saved).
  c.shape_kl = cfg.objective.kl_mode == KlMode::Reward && cfg.objective.kl_beta > 0;
  model::set_chat_stops(c.sampling, tok);
  c.sampling.temperature = cfg.rollout.temperature;
  c.sampling.max_new_tokens = cfg.rollout.max_new_tokens;
  return c;
}

uint64_t step_seed(int64_t seed, int64_t step, uint64_t salt) {
  return static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step) * 0xBF58476D1CE4E5B9ULL + salt;
}

RolloutText to_text(const text::Tokenizer& tok, const std::vector<text::Message>& conv, const model::Generation& g) {
  std::vector<int> ids(g.tokens.begin(), g.tokens.end());
  auto parsed = text::parse_reply(tok, ids);
  RolloutText r;
  r.conversation = conv;
  r.response = parsed.message.content;
  r.tokens = static_cast<int64_t>(g.tokens.size());
  r.finished = g.finish_reason == "stop";
  return r;
}

Rollouts sample_rollouts(const RlStepContext& ctx, std::vector<int64_t> prompt_index, int64_t step) {
  const auto& cfg = ctx.cfg;
  const int64_t P = ctx.P, G = ctx.G;
  Rollouts out;
  out.prompt_index = std::move(prompt_index);
  std::vector<std::vector<int64_t>> rows;  // (R) the prompt of each rollout
  rows.reserve(P * G);
  for (int64_t i = 0; i < P; ++i)
    for (int64_t g = 0; g < G; ++g) rows.push_back(ctx.prompt_tokens[out.prompt_index[i]]);
  auto t0 = Clock::now();
  model::SamplingParams sp = ctx.sampling;
  sp.seed = step_seed(cfg.train.seed, step, 1);
  out.gens = model::generate(ctx.m, rows, sp);
  if (cfg.train.win_rate_every > 0 && step % cfg.train.win_rate_every == 0) {
    // The starting policy's reply to each prompt, the yardstick of the win rate.
    std::vector<std::vector<int64_t>> ref_rows;
    for (int64_t i = 0; i < P; ++i) ref_rows.push_back(ctx.prompt_tokens[out.prompt_index[i]]);
    model::SamplingParams rp = sp;
    rp.seed = step_seed(cfg.train.seed, step, 2);
    model::AdapterGuard off(ctx.m, false);
    out.ref_gens = model::generate(ctx.m, ref_rows, rp);
  }
  out.seconds = seconds_since(t0);
  out.texts.reserve(P * G);
  for (int64_t r = 0; r < P * G; ++r) {
    out.texts.push_back(to_text(ctx.tok, ctx.prompts[out.prompt_index[r / G]].conversation, out.gens[r]));
    out.gen_tokens += out.texts.back().tokens;
    out.truncated += !out.texts.back().finished;
  }
  for (int64_t i = 0; i < static_cast<int64_t>(out.ref_gens.size()); ++i) {
    out.ref_texts.push_back(to_text(ctx.tok, ctx.prompts[out.prompt_index[i]].conversation, out.ref_gens[i]));
    out.gen_tokens += out.ref_texts.back().tokens;
  }
  return out;
}

namespace {

// Direct preference RL: every tournament comparison of the step plus each rollout against the reference
// reply, in one judge call; reward = each rollout's tournament reward.
void judge_tournaments(const RlStepContext& ctx, const Rollouts& r, Rewards& w) {
  const int64_t P = ctx.P, G = ctx.G;
  const auto& cmp = ctx.comparisons;
  std::vector<std::pair<const RolloutText*, const RolloutText*>> pairs;
  for (int64_t i = 0; i < P; ++i)
    for (const auto& c : cmp) pairs.push_back({&r.texts[i * G + c.a], &r.texts[i * G + c.b]});
  const size_t n_tour = pairs.size();
  for (int64_t k = 0; k < static_cast<int64_t>(r.ref_texts.empty() ? 0 : P * G); ++k)
    pairs.push_back({&r.texts[k], &r.ref_texts[k / G]});
  auto probs = ctx.judge->prob_a_beats_b(pairs);
  check_judged(probs, pairs.size(), ctx.source_name, "P(a beats b)", true);
  int64_t n_decisive = 0;
  for (int64_t i = 0; i < P; ++i) {
    std::vector<double> outcomes;
    for (size_t k = 0; k < cmp.size(); ++k) {
      outcomes.push_back(judge_outcome(probs[i * cmp.size() + k], ctx.cfg.reward.outcome, ctx.cfg.reward.tie_margin));
      n_decisive += outcomes.back() != 0.5;
    }
    auto tr = tournament_rewards(G, cmp, outcomes);
    for (int64_t g = 0; g < G; ++g) w.reward[i * G + g] = tr.reward[g];
  }
  if (n_tour > 0) w.decisive = static_cast<double>(n_decisive) / static_cast<double>(n_tour);
  w.win_vs_ref.assign(probs.begin() + static_cast<std::ptrdiff_t>(n_tour), probs.end());
}

// Reward-model RL: every rollout and reference reply scored in one call; the win rate compares scores.
void score_with_reward_model(const RlStepContext& ctx, const Rollouts& r, Rewards& w) {
  const int64_t R = ctx.P * ctx.G;
  std::vector<const RolloutText*> items;
  for (auto& t : r.texts) items.push_back(&t);
  for (auto& t : r.ref_texts) items.push_back(&t);
  auto s = ctx.scorer->score(items);
  check_judged(s, items.size(), ctx.source_name, "score", false);
  for (int64_t k = 0; k < R; ++k) w.reward[k] = s[k];
  for (int64_t k = 0; k < static_cast<int64_t>(r.ref_texts.empty() ? 0 : R); ++k) {
    const double a = s[k], b = s[R + k / ctx.G];
    w.win_vs_ref.push_back(a > b ? 1.0 : a < b ? 0.0 : 0.5);
  }
}

}  // namespace

Rewards score_rollouts(const RlStepContext& ctx, const Rollouts& r) {
  const int64_t R = ctx.P * ctx.G;
  auto t0 = Clock::now();
  Rewards w;
  w.reward.assign(R, 0.0);
  if (ctx.pairwise)
    judge_tournaments(ctx, r, w);
  else
    score_with_reward_model(ctx, r, w);
  for (int64_t k = 0; k < R; ++k)
    if (!r.texts[k].finished) w.reward[k] -= ctx.cfg.rollout.truncation_penalty;
  w.seconds = seconds_since(t0);
  return w;
}

StepLogps rollout_reference(const RlStepContext& ctx, const Rollouts& r) {
  const int64_t K = ctx.K, PK = ctx.PK, G = ctx.G;
  StepLogps lp;
  lp.minibatches.resize(K);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = k * PK; i < (k + 1) * PK; ++i) {
      lp.minibatches[k].prompts.push_back(ctx.prompt_tokens[r.prompt_index[i]]);
      for (int64_t g = 0; g < G; ++g) {
        lp.minibatches[k].responses.push_back(r.gens[i * G + g].tokens);
        lp.minibatches[k].prompt_index.push_back(i - k * PK);
      }
    }
  RolloutLogpOptions lo;
  lo.temperature = ctx.cfg.rollout.temperature;
  auto t0 = Clock::now();
  lp.ref.resize(K), lp.old.resize(K), lp.mask.resize(K);
  // Both run the training forward's code path (grad mode on, nothing requiring grad), so at the first
  // update the importance ratio is exactly 1 (and the KL 0 up to rounding while the policy equals the
  // reference).
  NoGraph ng(ctx.params);
  for (int64_t k = 0; k < K; ++k) {
    AutocastGuard ac(ctx.cmp.bf16, ctx.cmp.device);
    {
      model::AdapterGuard off(ctx.m, false);
      auto ref = rollout_logps(ctx.m, lp.minibatches[k], lo);
      lp.ref[k] = ref.logps.detach();
      lp.mask[k] = ref.mask;
    }
    if (ctx.shape_kl || k > 0) lp.old[k] = rollout_logps(ctx.m, lp.minibatches[k], lo).logps.detach();
  }
  lp.seconds = seconds_since(t0);
  return lp;
}

void fill_sequence_kl(const RlStepContext& ctx, const StepLogps& lp, int64_t k, std::vector<double>& seq_kl) {
  const int64_t rows = ctx.PK * ctx.G;
  auto v = masked_row_sum(kl_per_token(lp.old[k], lp.ref[k], ctx.cfg.objective.kl_estimator), lp.mask[k])
               .to(torch::kDouble)
               .cpu()
               .contiguous();
  auto va = v.accessor<double, 1>();
  for (int64_t j = 0; j < rows; ++j) seq_kl[k * rows + j] = va[j];
}

namespace {

// Online DPO on minibatch k: each group's best and worst rollout by reward form a preference pair (groups
// whose rewards are all equal carry none and are skipped), scored by dpo_loss (sigmoid) on the summed
// response log-probs of the policy and the reference.
torch::Tensor online_dpo_loss(const RlStepContext& ctx, const TokenLogps& tl, const torch::Tensor& ref_lp, int64_t k,
                              const std::vector<double>& reward, int64_t* pairs) {
  const int64_t PK = ctx.PK, G = ctx.G;
  std::vector<int64_t> best, worst;
  for (int64_t g = 0; g < PK; ++g) {
    const int64_t base = k * PK * G + g * G;
    int64_t hi = 0, lo = 0;
    for (int64_t j = 1; j < G; ++j) {
      if (reward[base + j] > reward[base + hi]) hi = j;
      if (reward[base + j] < reward[base + lo]) lo = j;
    }
    if (reward[base + hi] > reward[base + lo]) {
      best.push_back(g * G + hi);
      worst.push_back(g * G + lo);
    }
  }
  *pairs += static_cast<int64_t>(best.size());
  if (best.empty()) return (tl.logps * 0).sum();  // keeps the graph; nothing to learn from this minibatch
  const auto pol = masked_row_sum(tl.logps, tl.mask), ref = masked_row_sum(ref_lp, tl.mask);  // (R_k,)
  auto idx = torch::TensorOptions().dtype(torch::kLong).device(pol.device());
  const auto b = torch::tensor(best, idx), w = torch::tensor(worst, idx);
  DpoBatchLogps in;
  in.policy_chosen = pol.index_select(0, b);
  in.policy_rejected = pol.index_select(0, w);
  in.ref_chosen = ref.index_select(0, b);
  in.ref_rejected = ref.index_select(0, w);
  DpoLossOptions o;
  o.loss_type = DpoLossType::Sigmoid;
  o.beta = ctx.cfg.objective.dpo_beta;
  return dpo_loss(in, o).loss;
}

}  // namespace

UpdateStats update_policy(const RlStepContext& ctx, StepLogps& lp, const UpdateInputs& in) {
  const auto& obj = ctx.cfg.objective;
  const int64_t K = ctx.K, rows = ctx.PK * ctx.G;
  RolloutLogpOptions to;
  to.temperature = ctx.cfg.rollout.temperature;
  to.entropy = true;
  to.entropy_grad = obj.entropy_coef > 0;
  auto t0 = Clock::now();
  UpdateStats u;
  for (int64_t k = 0; k < K; ++k) {
    in.optim.zero_grad();
    TokenLogps tl;
    {
      AutocastGuard ac(ctx.cmp.bf16, ctx.cmp.device);
      tl = rollout_logps(ctx.m, lp.minibatches[k], to);
    }
    if (!lp.old[k].defined()) lp.old[k] = tl.logps.detach();  // this forward IS the sampling policy
    auto adv_k = torch::tensor(std::vector<double>(in.advantages.begin() + k * rows, in.advantages.begin() + (k + 1) * rows),
                               torch::kDouble)
                     .to(torch::kFloat)
                     .to(ctx.cmp.device);
    auto pl = clipped_policy_loss(tl.logps, lp.old[k], adv_k, tl.mask, obj.clip_eps);
    auto kl_mean = masked_token_mean(kl_per_token(tl.logps, lp.ref[k], obj.kl_estimator), tl.mask);
    auto ent_mean = masked_token_mean(tl.entropy, tl.mask);
    torch::Tensor loss = obj.online_dpo ? online_dpo_loss(ctx, tl, lp.ref[k], k, in.reward, &u.dpo_pairs) : pl.loss;
    if (obj.kl_mode == KlMode::Loss && obj.kl_beta > 0) loss = loss + obj.kl_beta * kl_mean;
    if (obj.entropy_coef > 0) loss = loss - obj.entropy_coef * ent_mean;
    loss.backward();
    const double loss_val = loss.item<double>();
    u.grad_norm_last = clip_grad_norm(ctx.params, ctx.cfg.train.max_grad_norm);
    stop_if_not_finite(rl_stage_name(ctx.pairwise ? RlMode::DirectPreference : RlMode::RewardModel), in.step, loss_val,
                       u.grad_norm_last, in.last_checkpoint);
    u.lr = lr_at(in.first_update + k, ctx.cfg.train.learning_rate, in.schedule);
    in.optim.step(u.lr);
    const double ntok = tl.mask.sum().item<double>();
    u.loss_sum += loss_val;
    u.clip_sum += pl.clip_fraction * ntok;
    u.ratio_sum += pl.ratio_mean * ntok;
    u.ratio_max = std::max(u.ratio_max, pl.ratio_max);
    u.drift_sum += pl.approx_kl_old * ntok;
    u.entropy_sum += ent_mean.item<double>() * ntok;
    u.kl_token_sum += kl_mean.item<double>() * ntok;
    u.tokens += ntok;
    u.train_tokens += static_cast<int64_t>(ntok);
    for (const auto& p : lp.minibatches[k].prompts) u.train_tokens += static_cast<int64_t>(p.size());
  }
  u.seconds = seconds_since(t0);
  return u;
}

double sampler_logp_diff(const RlStepContext& ctx, const Rollouts& r, const StepLogps& lp, double tokens) {
  const int64_t rows = ctx.PK * ctx.G;
  double diff = 0;
  for (int64_t k = 0; k < ctx.K; ++k) {
    auto cpu_old = lp.old[k].to(torch::kFloat).cpu().contiguous();
    auto oa = cpu_old.accessor<float, 2>();
    for (int64_t j = 0; j < rows; ++j) {
      const auto& g = r.gens[k * rows + j];
      for (size_t t = 0; t < g.logprobs.size(); ++t)
        diff += std::abs(static_cast<double>(oa[j][static_cast<int64_t>(t)]) - g.logprobs[t]);
    }
  }
  return diff / std::max(1.0, tokens);
}

nlohmann::json metrics_row(const RlStepContext& ctx, const Rollouts& r, const Rewards& w,
                           const std::vector<double>& shaped, const std::vector<double>& seq_kl,
                           const UpdateStats& u, double sampler_diff) {
  const double R = static_cast<double>(ctx.P * ctx.G), tok = std::max(1.0, u.tokens);
  std::vector<double> lengths;
  for (const auto& t : r.texts) lengths.push_back(static_cast<double>(t.tokens));
  nlohmann::json row;
  row[contract::metric::kRewardMean] = mean_of(w.reward);
  row["reward_std"] = std_of(w.reward);
  if (ctx.cfg.objective.online_dpo) row["online_dpo_pairs"] = u.dpo_pairs;
  if (ctx.shape_kl) row["shaped_reward_mean"] = mean_of(shaped);
  if (!w.win_vs_ref.empty()) row[contract::metric::kWinRate] = mean_of(w.win_vs_ref);
  if (w.decisive) row["judge_decisive_fraction"] = *w.decisive;
  row[contract::metric::kKl] = mean_of(seq_kl);
  row["kl_per_token"] = u.kl_token_sum / tok;
  row[contract::metric::kEntropy] = u.entropy_sum / tok;
  row[contract::metric::kResponseLength] = mean_of(lengths);
  row["truncated_fraction"] = static_cast<double>(r.truncated) / R;
  row["zero_spread_fraction"] = static_cast<double>(zero_spread_groups(w.reward, ctx.G)) / static_cast<double>(ctx.P);
  row["clip_fraction"] = u.clip_sum / tok;
  row["ratio_mean"] = u.ratio_sum / tok;
  row["ratio_max"] = u.ratio_max;
  row["policy_drift_kl"] = u.drift_sum / tok;
  row["sampler_logp_abs_diff"] = sampler_diff;
  row[contract::metric::kLoss] = u.loss_sum / static_cast<double>(ctx.K);
  row["grad_norm"] = u.grad_norm_last;
  row["lr"] = u.lr;
  row["gen_tokens_per_s"] = static_cast<double>(r.gen_tokens) / std::max(r.seconds, 1e-9);
  row["train_tokens_per_s"] = static_cast<double>(u.train_tokens) / std::max(u.seconds, 1e-9);
  return row;
}

}  // namespace srl::train
