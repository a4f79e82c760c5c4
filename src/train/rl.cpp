#include "train/rl.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/jsonl.hpp"
#include "core/metrics.hpp"
#include "core/numeric.hpp"
#include "core/timer.hpp"
#include "model/checkpoint.hpp"
#include "model/generate.hpp"
#include "train/optim.hpp"
#include "train/rl_step.hpp"
#include "train/run_contract.hpp"
#include "train/trainer_common.hpp"
#include "train/training_run.hpp"

namespace srl::train {

namespace {

// The reward sources of a run: the configured or injected judge (pairwise) or scorer, and the panel the
// evaluation hook compares with (the judge itself when the judge is the panel).
struct RewardSources {
  std::shared_ptr<PairwiseJudge> judge;
  std::shared_ptr<RewardSource> scorer;
  std::shared_ptr<PairwiseJudge> panel;
  std::string name;  // "reward source '...'", for error messages
};

RewardSources wire_reward_sources(const RlConfig& cfg, const RlOptions& opt, const Compute& cmp, bool evaluates) {
  const bool pairwise = opt.mode == RlMode::DirectPreference;
  const auto& w = cfg.reward;
  RewardSources s{opt.judge, opt.reward_source, nullptr, ""};
  if (pairwise && !s.judge) {
    if (w.judge == JudgeKind::Panel)
      s.judge = s.panel = make_panel_judge(static_cast<uint64_t>(w.panel_seed));
    else
      s.judge = std::make_shared<RewardModelSource>(w.reward_model, false, w.batch_size, cmp.device);
  }
  if (!pairwise && !s.scorer)
    s.scorer = std::make_shared<RewardModelSource>(w.reward_model, w.standardize, w.batch_size, cmp.device);
  if (evaluates && !s.panel) s.panel = make_panel_judge(static_cast<uint64_t>(w.panel_seed));
  s.name = "reward source '" + (pairwise ? s.judge->name() : s.scorer->name()) + "'";
  return s;
}

void warn_about_objective(const RlConfig& cfg, bool pairwise) {
  if (!pairwise && cfg.rollout.rollouts_per_prompt == 1)
    spdlog::warn("config: rl.rollout.rollouts_per_prompt is 1: group-relative advantages are all 0, nothing is learned");
  const auto& o = cfg.objective;
  if (o.kl_mode == KlMode::Loss && o.kl_estimator == KlEstimator::K1 && o.kl_beta > 0)
    spdlog::warn("config: rl.objective: k1 as a loss term has zero expected gradient on on-policy samples; "
                 "use kl_estimator: k3 with kl_mode: loss, or kl_mode: reward");
}

// The reward-hacking warning's per-step histories (steps with an absolute reward signal: the win rate of
// direct preference RL, the reward of reward-model RL), rebuilt from the kept metrics rows on resume.
class HackingMonitor {
 public:
  HackingMonitor(bool pairwise, int64_t window)
      : key_(pairwise ? contract::metric::kWinRate : contract::metric::kRewardMean), window_(window) {}

  void rebuild(const std::string& metrics_path) {
    if (!fs::exists(metrics_path)) return;
    for_each_line(read_text_file(metrics_path), [&](int64_t, std::string_view line) {
      auto j = nlohmann::json::parse(std::string(line), nullptr, false);
      if (j.is_object() && j.contains(kLen) && j.contains(key_) && j.contains(kKl) && j[kLen].is_number() &&
          j[key_].is_number() && j[kKl].is_number())
        push(j);
    });
  }

  // Adds the row's step (when it has the signal) and returns a warning when one is due.
  std::optional<std::string> observe(const nlohmann::json& row) {
    if (!row.contains(key_)) return std::nullopt;
    push(row);
    const int64_t n = static_cast<int64_t>(len_.size());
    if (window_ <= 0 || (last_warning_ >= 0 && n - last_warning_ < window_)) return std::nullopt;
    auto w = reward_hacking_warning(len_, reward_, kl_, window_);
    if (w) last_warning_ = n;
    return w;
  }

 private:
  void push(const nlohmann::json& j) {
    len_.push_back(j[kLen].get<double>());
    reward_.push_back(j[key_].get<double>());
    kl_.push_back(j[kKl].get<double>());
  }
  static constexpr const char* kLen = contract::metric::kResponseLength;
  static constexpr const char* kKl = contract::metric::kKl;
  std::string key_;
  int64_t window_;
  std::vector<double> len_, reward_, kl_;
  int64_t last_warning_ = -1;
};

// The evaluation hook: greedy replies of the current policy and of the starting policy (= the reference,
// adapters off) to the held-out prompts, compared by the panel (and the run's own reward source).
struct RlEvaluation {
  const RlStepContext& ctx;
  const std::vector<RlPrompt>& prompts;
  const std::vector<std::vector<int64_t>>& tokens;
  RewardSources& src;
  const RlOptions& opt;

  std::map<std::string, double> operator()() const {
    std::map<std::string, double> ev;
    if (prompts.empty()) return ev;
    model::SamplingParams ep = ctx.sampling;
    ep.temperature = 0;
    auto pol = model::generate(ctx.m, tokens, ep);
    std::vector<model::Generation> ref;
    {
      model::AdapterGuard off(ctx.m, false);
      ref = model::generate(ctx.m, tokens, ep);
    }
    std::vector<RolloutText> pt, rt;
    double len = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      pt.push_back(to_text(ctx.tok, prompts[i].conversation, pol[i]));
      rt.push_back(to_text(ctx.tok, prompts[i].conversation, ref[i]));
      len += static_cast<double>(pol[i].tokens.size());
    }
    compare(pt, rt, ev);
    ev["eval/response_length"] = len / static_cast<double>(pt.size());
    ev["eval/prompts"] = static_cast<double>(pt.size());
    if (opt.eval_callback)
      for (const auto& [k, v] : opt.eval_callback(pt)) ev["eval/" + k] = v;
    return ev;
  }

  void compare(const std::vector<RolloutText>& pt, const std::vector<RolloutText>& rt,
               std::map<std::string, double>& ev) const {
    std::vector<std::pair<const RolloutText*, const RolloutText*>> pairs;
    for (size_t i = 0; i < pt.size(); ++i) pairs.push_back({&pt[i], &rt[i]});
    auto pw = src.panel->prob_a_beats_b(pairs);
    check_judged(pw, pairs.size(), "panel (evaluation)", "P(a beats b)", true);
    ev[contract::metric::kEvalPanelWinRate] = mean_of(pw);
    if (ctx.pairwise && src.judge != src.panel) {
      auto jw = src.judge->prob_a_beats_b(pairs);
      check_judged(jw, pairs.size(), src.name, "P(a beats b)", true);
      ev["eval/judge_win_rate"] = mean_of(jw);
    } else if (!ctx.pairwise) {
      std::vector<const RolloutText*> items;
      for (auto& x : pt) items.push_back(&x);
      for (auto& x : rt) items.push_back(&x);
      auto s = src.scorer->score(items);
      check_judged(s, items.size(), src.name, "score", false);
      const auto mid = s.begin() + static_cast<std::ptrdiff_t>(pt.size());
      ev[contract::metric::kEvalRewardMean] = mean_of(std::vector<double>(s.begin(), mid));
      ev["eval/reference_reward_mean"] = mean_of(std::vector<double>(mid, s.end()));
    }
  }
};

// Some prompts of the step with all their rollouts, as one rollouts.jsonl row each.
void log_rollouts(MetricsLog& log, const RlStepContext& ctx, int64_t step, const Rollouts& r, const Rewards& w,
                  const std::vector<double>& adv, const std::vector<double>& seq_kl) {
  for (int64_t i = 0; i < std::min(ctx.P, ctx.cfg.train.rollout_log_prompts); ++i) {
    nlohmann::json rr;
    rr["step"] = step;
    const auto& pr = ctx.prompts[r.prompt_index[i]];
    if (!pr.id.empty()) rr["prompt_id"] = pr.id;
    rr["prompt"] = pr.conversation.back().content;
    if (!pr.tags.empty()) rr["tags"] = pr.tags;
    nlohmann::json list = nlohmann::json::array();
    for (int64_t g = 0; g < ctx.G; ++g) {
      const int64_t k = i * ctx.G + g;
      nlohmann::json x = {{"response", r.texts[k].response}, {"reward", w.reward[k]}, {"advantage", adv[k]},
                          {"kl", seq_kl[k]}, {"tokens", r.texts[k].tokens}, {"finish_reason", r.gens[k].finish_reason}};
      if (!w.win_vs_ref.empty()) x["win_vs_reference"] = w.win_vs_ref[k];
      list.push_back(x);
    }
    rr["rollouts"] = list;
    if (!r.ref_texts.empty()) rr["reference_response"] = r.ref_texts[i].response;
    log.log(rr);
  }
}

// One RL step: the four phases, the KL, the metrics row, the reward-hacking check and the rollout log.
struct RlStep {
  const RlStepContext& ctx;
  EpochCursor& cursor;
  AdamW& optim;
  const ScheduleOptions& schedule;
  TrainingRun& run;
  HackingMonitor& hacking;
  MetricsLog& rollout_log;
  Clock::time_point& started;

  StepReport operator()() {
    started = Clock::now();
    auto& st = run.state();
    const int64_t step = st.step + 1;  // the step being made (1-based, as logged)
    std::vector<int64_t> pidx(ctx.P);
    for (auto& i : pidx) i = cursor.next().index;
    const Rollouts r = sample_rollouts(ctx, std::move(pidx), step);
    const Rewards w = score_rollouts(ctx, r);
    StepLogps lp = rollout_reference(ctx, r);
    std::vector<double> seq_kl(ctx.P * ctx.G, 0.0);
    if (ctx.shape_kl)
      for (int64_t k = 0; k < ctx.K; ++k) fill_sequence_kl(ctx, lp, k, seq_kl);
    const auto shaped = ctx.shape_kl ? shape_rewards_with_kl(w.reward, seq_kl, ctx.cfg.objective.kl_beta) : w.reward;
    AdvantageOptions ao;
    ao.std_normalize = ctx.cfg.objective.std_normalize;
    ao.leave_one_out = ctx.cfg.objective.leave_one_out;
    const auto adv = group_advantages(shaped, ctx.G, ao);
    const auto u = update_policy(ctx, lp, {w.reward, adv, optim, schedule, st.step * ctx.K, step, run.last_checkpoint()});
    if (!ctx.shape_kl)
      for (int64_t k = 0; k < ctx.K; ++k) fill_sequence_kl(ctx, lp, k, seq_kl);
    st.tokens_seen += static_cast<int64_t>(u.tokens);
    const double sampler_diff = sampler_logp_diff(ctx, r, lp, u.tokens);
    if (!std::isfinite(sampler_diff) || !std::isfinite(mean_of(seq_kl)))
      stop_if_not_finite(run.stage(), step, NAN, u.grad_norm_last, run.last_checkpoint());

    StepReport rep;
    rep.row = metrics_row(ctx, r, w, shaped, seq_kl, u, sampler_diff);
    rep.row["time/generation_s"] = r.seconds;
    rep.row["time/judge_s"] = w.seconds;
    rep.row["time/reference_s"] = lp.seconds;
    rep.row["time/update_s"] = u.seconds;
    if (!w.win_vs_ref.empty() || !ctx.pairwise)
      if (auto warning = hacking.observe(rep.row)) {
        spdlog::warn("{} step {}: {}", run.stage(), step, *warning);
        rep.row["warning"] = *warning;
        rep.force_log = true;
      }
    if (ctx.cfg.train.rollout_log_every > 0 && (step % ctx.cfg.train.rollout_log_every == 0 || step == 1))
      log_rollouts(rollout_log, ctx, step, r, w, adv, seq_kl);
    char suffix[96];
    std::snprintf(suffix, sizeof suffix, "reward %.3f kl %.3f", rep.row[contract::metric::kRewardMean].get<double>(),
                  rep.row[contract::metric::kKl].get<double>());
    rep.progress = suffix;
    return rep;
  }
};

}  // namespace

RlResult run_rl(const RlConfig& cfg, const ComputeSection& compute, const RlOptions& opt) {
  const bool pairwise = opt.mode == RlMode::DirectPreference;
  const std::string stage = rl_stage_name(opt.mode);
  check_rl_config(cfg, opt.mode, pairwise ? !opt.judge : !opt.reward_source);
  const Compute cmp = setup_compute(compute);
  RunOptions ro{opt.resume, opt.stop_after_step, opt.progress};
  TrainingRun run(stage, cfg.output_dir, cfg.train, ro);

  // Inputs first: a bad prompt file stops the run before anything is written.
  const bool skip_invalid = cfg.data.on_invalid == data::OnInvalid::Skip;
  const auto prompts = load_rl_prompts(cfg.data.prompt_file, skip_invalid);
  std::vector<RlPrompt> eval_prompts;
  if (!cfg.data.eval_prompt_file.empty() && cfg.data.eval_prompts > 0) {
    eval_prompts = load_rl_prompts(cfg.data.eval_prompt_file, skip_invalid);
    if (static_cast<int64_t>(eval_prompts.size()) > cfg.data.eval_prompts) eval_prompts.resize(cfg.data.eval_prompts);
  }
  run.begin(config::to_yaml(RlFileConfig{cfg, compute}));

  auto lm = prepare_training_model(cfg.model, cfg.lora, run.resume_from());
  model::Llama m = lm.model;
  const text::Tokenizer tok = lm.tokenizer;
  m->to(cmp.device);
  m->train();
  auto params = set_trainable(m);
  const int64_t ctx_len = m->config().max_position_embeddings;
  if (cfg.data.max_prompt_len + cfg.rollout.max_new_tokens > ctx_len)
    fail("config: rl.rollout.max_new_tokens",
         "data.max_prompt_len (" + std::to_string(cfg.data.max_prompt_len) + ") + max_new_tokens (" +
             std::to_string(cfg.rollout.max_new_tokens) + ") exceeds the model's context of " + std::to_string(ctx_len));
  const auto prompt_tokens = tokenize_prompts(prompts, tok, cfg.data.max_prompt_len, cfg.data.prompt_file);
  const auto eval_tokens = tokenize_prompts(eval_prompts, tok, cfg.data.max_prompt_len, cfg.data.eval_prompt_file);

  auto src = wire_reward_sources(cfg, opt, cmp, !eval_prompts.empty());
  warn_about_objective(cfg, pairwise);
  spdlog::info("{}: {} prompts, {} held out, {} rollouts per prompt, reward from {}, {} trainable parameters", stage,
               prompts.size(), eval_prompts.size(), cfg.rollout.rollouts_per_prompt, src.name,
               count_parameters(params));

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  AdamW optim(params, ao);
  run.restore(optim, {contract::kRolloutsFile});
  HackingMonitor hacking(pairwise, cfg.train.hacking_window);
  hacking.rebuild(run.path(contract::kMetricsFile));
  MetricsLog rollout_log(run.path(contract::kRolloutsFile));

  RlStepContext ctx = make_step_context(cfg, pairwise, m, tok, cmp, prompts, prompt_tokens, params);
  ctx.judge = src.judge.get();
  ctx.scorer = src.scorer.get();
  ctx.source_name = src.name;
  const auto so = schedule_options(cfg.train, cfg.train.max_steps * ctx.K);
  EpochCursor cursor(static_cast<int64_t>(prompts.size()), cfg.train.seed, run.state());
  const RlEvaluation evaluate{ctx, eval_prompts, eval_tokens, src, opt};

  RlResult res;
  Clock::time_point started;
  LoopHooks hooks;
  hooks.step = RlStep{ctx, cursor, optim, so, run, hacking, rollout_log, started};
  hooks.evaluate = [&](nlohmann::json& row, bool) {
    res.eval = evaluate();
    for (const auto& [k, v] : res.eval) row[k] = v;
    return row.contains(contract::metric::kEvalPanelWinRate);
  };
  hooks.finish_row = [&](nlohmann::json& row) {
    row["time/step_s"] = seconds_since(started);
    res.last.clear();
    for (auto it = row.begin(); it != row.end(); ++it)
      if (it.value().is_number()) res.last[it.key()] = it.value().get<double>();
  };
  hooks.save = [&] { return run.save_checkpoint(m, tok, optim); };
  run.loop(hooks);
  res.step = run.state().step;
  res.checkpoint_dir = run.last_checkpoint();
  return res;
}

}  // namespace srl::train
