#include "train/rl.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/metrics.hpp"
#include "core/progress.hpp"
#include "core/run_dir.hpp"
#include "data/annotator_panel.hpp"
#include "data/generate_dataset.hpp"
#include "data/preference.hpp"
#include "model/checkpoint.hpp"
#include "model/generate.hpp"
#include "train/optim.hpp"
#include "train/preference_tokens.hpp"
#include "train/reward_model.hpp"
#include "train/rl_core.hpp"
#include "train/rollout_logps.hpp"
#include "train/trainer_common.hpp"
#include "train/trainer_state.hpp"

namespace srl::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- Reward sources -------------------------------------------------------------------------------------------

class PanelJudge : public PairwiseJudge {
 public:
  explicit PanelJudge(data::AnnotatorPanel panel) : panel_(std::move(panel)) {}
  std::string name() const override { return "panel"; }
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) override {
    std::vector<double> out;
    out.reserve(pairs.size());
    for (const auto& [a, b] : pairs) out.push_back(panel_.prob_a_beats_b(a->conversation, a->response, b->response));
    return out;
  }

 private:
  data::AnnotatorPanel panel_;
};

// A reward model as a scalar source (reward-model RL) and as a Bradley-Terry pairwise judge: each distinct
// rollout is scored once per call and P(a beats b) = sigmoid(r_a - r_b), so a tournament costs G scores,
// not one forward per comparison.
class RewardModelSource : public RewardSource, public PairwiseJudge {
 public:
  RewardModelSource(const std::string& path, bool standardize, int64_t batch, torch::Device device)
      : rm_(RewardModel::load(path)), batch_(batch) {
    rm_.to(device);
    if (standardize) {
      if (!rm_.stats.mean || !rm_.stats.std || !(*rm_.stats.std > 0))
        fail(path, "has no reward statistics (mean and a positive std) to standardize with; "
                   "set rl.reward.standardize: false");
      mean_ = *rm_.stats.mean;
      std_ = *rm_.stats.std;
    }
  }
  std::string name() const override { return "reward_model"; }
  std::vector<double> score(const std::vector<const RolloutText*>& rollouts) override {
    std::vector<ScoreItem> items;
    items.reserve(rollouts.size());
    for (const auto* r : rollouts) items.push_back(ScoreItem{r->conversation, r->response});
    auto s = rm_.score_batch(items, batch_);
    for (auto& x : s) x = (x - mean_) / std_;
    return s;
  }
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) override {
    std::unordered_map<const RolloutText*, size_t> index;
    std::vector<const RolloutText*> unique;
    for (const auto& [a, b] : pairs)
      for (const auto* r : {a, b})
        if (index.emplace(r, unique.size()).second) unique.push_back(r);
    auto s = score(unique);
    std::vector<double> out;
    out.reserve(pairs.size());
    for (const auto& [a, b] : pairs) out.push_back(1.0 / (1.0 + std::exp(-(s[index[a]] - s[index[b]]))));
    return out;
  }

 private:
  RewardModel rm_;
  int64_t batch_;
  double mean_ = 0, std_ = 1;
};

// ---- Configuration ---------------------------------------------------------------------------------------------

void need(bool ok, const std::string& key, const std::string& what) {
  if (!ok) fail("config: rl." + key, what);
}

bool finite(double x) { return std::isfinite(x); }

// ---- Prompts ----------------------------------------------------------------------------------------------------

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// The problem with one parsed line, or "" when it is a usable prompt (then *out is filled).
std::string parse_prompt(const nlohmann::json& j, RlPrompt* out) {
  const bool has_prompt = j.contains("prompt"), has_messages = j.contains("messages");
  if (has_prompt == has_messages) return "needs exactly one of \"prompt\" (a string) and \"messages\" (a list)";
  RlPrompt p;
  if (has_prompt) {
    if (!j["prompt"].is_string()) return "\"prompt\" must be a string";
    const auto text = j["prompt"].get<std::string>();
    if (blank(text)) return "\"prompt\" is empty";
    p.conversation.push_back({"user", text});
  } else {
    const auto& ms = j["messages"];
    if (!ms.is_array() || ms.empty()) return "\"messages\" must be a non-empty list";
    for (size_t i = 0; i < ms.size(); ++i) {
      const auto& m = ms[i];
      const std::string at = "messages[" + std::to_string(i) + "]";
      if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
          !m["content"].is_string())
        return at + " must be {\"role\": string, \"content\": string}";
      const auto role = m["role"].get<std::string>();
      if (role != "system" && role != "user" && role != "assistant") return at + " has unknown role '" + role + "'";
      const auto content = m["content"].get<std::string>();
      if (blank(content)) return at + " has empty content";
      p.conversation.push_back({role, content});
    }
    if (p.conversation.back().role != "user") return "the last message must be a user turn (the one to answer)";
  }
  if (j.contains("tags")) {
    if (!j["tags"].is_object()) return "\"tags\" must be an object";
    p.tags = j["tags"];
  }
  if (j.contains("id")) {
    if (!j["id"].is_string()) return "\"id\" must be a string";
    p.id = j["id"].get<std::string>();
  }
  *out = std::move(p);
  return "";
}

std::vector<std::vector<int64_t>> tokenize_prompts(const std::vector<RlPrompt>& ps, const text::Tokenizer& tok,
                                                   int64_t max_len, const std::string& where) {
  std::vector<std::vector<int64_t>> out;
  int64_t truncated = 0;
  for (const auto& p : ps) {
    bool t = false;
    out.push_back(generation_prompt_ids(tok, p.conversation, max_len, &t));
    truncated += t;
  }
  if (truncated) spdlog::warn("{}: {} prompts cut to their last {} tokens", where, truncated, max_len);
  return out;
}

// ---- Step pieces ---------------------------------------------------------------------------------------------------

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

void check_judged(const std::vector<double>& v, size_t expected, const std::string& source, const char* what,
                  bool probability) {
  if (v.size() != expected)
    fail_internal(source, "returned " + std::to_string(v.size()) + " " + what + " for " + std::to_string(expected) +
                              " requests");
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]) || (probability && (v[i] < 0 || v[i] > 1)))
      fail_internal(source, std::string("returned ") + what + " " + std::to_string(v[i]) + " for request " +
                                std::to_string(i) + (probability ? " (not a probability)" : " (not finite)"));
}

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

double vec_mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double vec_std(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = vec_mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

}  // namespace

const char* rl_stage_name(RlMode mode) {
  return mode == RlMode::DirectPreference ? "direct_preference_rl" : "reward_model_rl";
}

std::shared_ptr<PairwiseJudge> make_panel_judge(uint64_t panel_seed) {
  data::GenerateOptions go;
  go.seed = panel_seed;
  return std::make_shared<PanelJudge>(data::dataset_panel(go));
}

void check_rl_config(const RlConfig& c, RlMode mode, bool check_reward_source) {
  need(!c.output_dir.empty(), "output_dir", "must not be empty");
  need(c.data.max_prompt_len >= 2, "data.max_prompt_len", "must be at least 2");
  need(c.data.eval_prompts >= 0, "data.eval_prompts", "must be >= 0");
  const auto& r = c.rollout;
  need(r.rollouts_per_prompt >= 1, "rollout.rollouts_per_prompt", "must be positive");
  need(r.prompts_per_step >= 1, "rollout.prompts_per_step", "must be positive");
  need(r.max_new_tokens >= 1, "rollout.max_new_tokens", "must be positive");
  need(finite(r.temperature) && r.temperature > 0, "rollout.temperature",
       "must be positive (the ratio and KL need the sampling distribution; greedy decoding has none)");
  need(finite(r.truncation_penalty) && r.truncation_penalty >= 0, "rollout.truncation_penalty", "must be >= 0");
  const auto& w = c.reward;
  if (mode == RlMode::DirectPreference) {
    need(r.rollouts_per_prompt >= 2, "rollout.rollouts_per_prompt",
         "a pairwise judge compares rollouts of the same prompt: needs at least 2 (got " +
             std::to_string(r.rollouts_per_prompt) + ")");
    if (check_reward_source) {
      need(w.judge != "heuristic", "reward.judge",
           "heuristic is the evaluation layer's rubric (eval::make_heuristic_judge): pass it as RlOptions::judge, "
           "as `supportrl direct-preference-rl` does");
      need(w.judge != "reward_model" || !w.reward_model.empty(), "reward.reward_model",
           "judge: reward_model needs the path of a trained reward model");
    }
  } else if (check_reward_source) {
    need(!w.reward_model.empty(), "reward.reward_model", "reward-model RL needs the path of a trained reward model");
  }
  need(w.chunk_size >= 2, "reward.chunk_size", "must be at least 2");
  need(finite(w.tie_margin) && w.tie_margin >= 0 && w.tie_margin < 0.5, "reward.tie_margin", "must be in [0, 0.5)");
  need(w.panel_seed >= 0, "reward.panel_seed", "must be >= 0");
  need(w.batch_size >= 1, "reward.batch_size", "must be positive");
  const auto& o = c.objective;
  need(finite(o.kl_beta) && o.kl_beta >= 0, "objective.kl_beta", "must be >= 0");
  need(finite(o.clip_eps) && o.clip_eps > 0, "objective.clip_eps", "must be positive");
  need(o.num_substeps >= 1, "objective.num_substeps", "must be positive");
  need(!o.online_dpo || (finite(o.dpo_beta) && o.dpo_beta > 0), "objective.dpo_beta", "must be positive");
  need(!o.online_dpo || r.rollouts_per_prompt >= 2, "objective.online_dpo",
       "pairs the best and worst rollout of a group: needs rollouts_per_prompt >= 2");
  need(r.prompts_per_step % o.num_substeps == 0, "objective.num_substeps",
       "must divide rollout.prompts_per_step (" + std::to_string(r.prompts_per_step) +
           ") so every minibatch holds whole prompt groups");
  need(finite(o.entropy_coef) && o.entropy_coef >= 0, "objective.entropy_coef", "must be >= 0");
  const auto& t = c.train;
  need(t.max_steps > 0, "train.max_steps", "must be positive");
  need(finite(t.learning_rate) && t.learning_rate > 0, "train.learning_rate", "must be positive");
  need(finite(t.weight_decay) && t.weight_decay >= 0, "train.weight_decay", "must be >= 0");
  need(t.warmup_steps >= 0, "train.warmup_steps", "must be >= 0");
  need(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, "train.min_lr_ratio", "must be in [0, 1]");
  need(finite(t.max_grad_norm) && t.max_grad_norm >= 0, "train.max_grad_norm", "must be >= 0");
  need(t.save_every >= 0, "train.save_every", "must be >= 0");
  need(t.log_every >= 1, "train.log_every", "must be positive");
  need(t.keep_checkpoints >= 1, "train.keep_checkpoints", "must be positive");
  need(t.win_rate_every >= 0, "train.win_rate_every", "must be >= 0");
  need(t.rollout_log_every >= 0, "train.rollout_log_every", "must be >= 0");
  need(t.rollout_log_prompts >= 0, "train.rollout_log_prompts", "must be >= 0");
  need(t.eval_every >= 0, "train.eval_every", "must be >= 0");
  need(t.hacking_window >= 0, "train.hacking_window", "must be >= 0");
  need(c.lora.lora_rank > 0, "lora.lora_rank",
       "RL trains LoRA adapters: the KL reference is the same weights with the adapters off (set a rank > 0)");
  need(c.lora.lora_dropout == 0, "lora.lora_dropout",
       "must be 0 for RL: dropout would make the policy's log-probs (and the importance ratio) noisy");
}

std::vector<RlPrompt> load_rl_prompts(const std::string& path, bool skip_invalid, int64_t* skipped) {
  const std::string text = fs::read_file(path);
  std::vector<RlPrompt> out;
  int64_t bad = 0;
  data::for_each_line(text, [&](int64_t line_no, std::string_view line) {
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    std::string problem;
    if (auto issue = data::parse_json_line(line, &j)) problem = issue->reason + ": " + issue->message;
    RlPrompt p;
    if (problem.empty()) problem = parse_prompt(j, &p);
    if (problem.empty()) {
      out.push_back(std::move(p));
      return;
    }
    if (!skip_invalid) fail(where, problem);
    spdlog::warn("{}: {} (skipped)", where, problem);
    ++bad;
  });
  if (skipped) *skipped = bad;
  if (out.empty()) fail(path, bad ? "no valid prompt (every line was malformed)" : "no prompts (empty file)");
  if (bad) spdlog::warn("{}: {} malformed lines skipped, {} prompts loaded", path, bad, out.size());
  return out;
}

RlResult run_rl(const RlConfig& cfg, const ComputeSection& compute, const RlOptions& opt) {
  const bool pairwise = opt.mode == RlMode::DirectPreference;
  const std::string stage = rl_stage_name(opt.mode);
  check_rl_config(cfg, opt.mode, pairwise ? !opt.judge : !opt.reward_source);
  const Compute cmp = setup_compute(compute);
  const auto latest = check_run_dir(cfg.output_dir, opt.resume);

  // Inputs first: a bad prompt file stops the run before anything is written.
  auto prompts = load_rl_prompts(cfg.data.prompt_file, cfg.data.on_invalid == "skip");
  std::vector<RlPrompt> eval_prompts;
  if (!cfg.data.eval_prompt_file.empty() && cfg.data.eval_prompts > 0) {
    eval_prompts = load_rl_prompts(cfg.data.eval_prompt_file, cfg.data.on_invalid == "skip");
    if (static_cast<int64_t>(eval_prompts.size()) > cfg.data.eval_prompts) eval_prompts.resize(cfg.data.eval_prompts);
  }

  RunDir run(cfg.output_dir);
  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(run.path("config.yaml"), config::to_yaml(RlFileConfig{cfg, compute}));
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));

  auto lm = prepare_training_model(cfg.model, cfg.lora, latest);
  model::Llama m = lm.model;
  const text::Tokenizer tok = lm.tokenizer;
  m->to(cmp.device);
  m->train();
  auto params = set_trainable(m);
  const int64_t ctx = m->config().max_position_embeddings;
  need(cfg.data.max_prompt_len + cfg.rollout.max_new_tokens <= ctx, "rollout.max_new_tokens",
       "data.max_prompt_len (" + std::to_string(cfg.data.max_prompt_len) + ") + max_new_tokens (" +
           std::to_string(cfg.rollout.max_new_tokens) + ") exceeds the model's context of " + std::to_string(ctx));
  const auto prompt_tokens = tokenize_prompts(prompts, tok, cfg.data.max_prompt_len, cfg.data.prompt_file);
  const auto eval_tokens = tokenize_prompts(eval_prompts, tok, cfg.data.max_prompt_len, cfg.data.eval_prompt_file);

  // Reward sources.
  std::shared_ptr<PairwiseJudge> judge = opt.judge;
  std::shared_ptr<RewardSource> scorer = opt.reward_source;
  std::shared_ptr<PairwiseJudge> panel;  // the evaluation hook's oracle
  if (pairwise && !judge) {
    if (cfg.reward.judge == "panel") {
      judge = panel = make_panel_judge(static_cast<uint64_t>(cfg.reward.panel_seed));
    } else {
      judge = std::make_shared<RewardModelSource>(cfg.reward.reward_model, false, cfg.reward.batch_size, cmp.device);
    }
  }
  if (!pairwise && !scorer)
    scorer = std::make_shared<RewardModelSource>(cfg.reward.reward_model, cfg.reward.standardize, cfg.reward.batch_size,
                                                 cmp.device);
  if (!eval_prompts.empty() && !panel) panel = make_panel_judge(static_cast<uint64_t>(cfg.reward.panel_seed));
  const std::string source_name = "reward source '" + (pairwise ? judge->name() : scorer->name()) + "'";
  if (!pairwise && cfg.rollout.rollouts_per_prompt == 1)
    spdlog::warn("config: rl.rollout.rollouts_per_prompt is 1: group-relative advantages are all 0, nothing is learned");
  if (cfg.objective.kl_mode == "loss" && cfg.objective.kl_estimator == "k1" && cfg.objective.kl_beta > 0)
    spdlog::warn("config: rl.objective: k1 as a loss term has zero expected gradient on on-policy samples; "
                 "use kl_estimator: k3 with kl_mode: loss, or kl_mode: reward");
  int64_t n_trainable = 0;
  for (auto& [k, p] : params) n_trainable += p.numel();
  spdlog::info("{}: {} prompts, {} held out, {} rollouts per prompt, reward from {}, {} trainable parameters", stage,
               prompts.size(), eval_prompts.size(), cfg.rollout.rollouts_per_prompt, source_name, n_trainable);

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  AdamW optim(params, ao);
  TrainerState st;
  const std::string metrics_path = run.path("metrics.jsonl"), rollouts_path = run.path("rollouts.jsonl");
  if (opt.resume) {
    st = load_trainer_state(*latest, optim);
    spdlog::info("{}: resumed from {} at step {}", stage, *latest, st.step);
  }
  restart_logs({metrics_path, rollouts_path}, st.step);

  // Reward-hacking histories (steps with an absolute reward signal), rebuilt from the kept metrics rows.
  std::vector<double> h_len, h_reward, h_kl;
  const std::string hack_key = pairwise ? "win_rate" : "reward_mean";
  if (fs::exists(metrics_path)) {
    data::for_each_line(fs::read_file(metrics_path), [&](int64_t, std::string_view line) {
      auto j = nlohmann::json::parse(std::string(line), nullptr, false);
      if (j.is_object() && j.contains("response_length") && j.contains(hack_key) && j.contains("kl") &&
          j["response_length"].is_number() && j[hack_key].is_number() && j["kl"].is_number()) {
        h_len.push_back(j["response_length"].get<double>());
        h_reward.push_back(j[hack_key].get<double>());
        h_kl.push_back(j["kl"].get<double>());
      }
    });
  }
  int64_t last_hack_warning = -1;
  MetricsLog metrics(metrics_path);
  MetricsLog rollout_log(rollouts_path);

  const int64_t G = cfg.rollout.rollouts_per_prompt, P = cfg.rollout.prompts_per_step;
  const int64_t K = cfg.objective.num_substeps, PK = P / K;
  const double T = cfg.rollout.temperature, beta = cfg.objective.kl_beta;
  const auto pattern = parse_tournament(cfg.reward.tournament, "config: rl.reward.tournament");
  const auto comparisons = tournament_comparisons(pattern, G, cfg.reward.chunk_size);
  AdvantageOptions adv_opt;
  adv_opt.std_normalize = cfg.objective.std_normalize;
  adv_opt.leave_one_out = cfg.objective.leave_one_out;
  // With KL shaping the advantages need every rollout's KL before the first update, so the log-probs of
  // the sampling policy ("old") come from a pass without gradient over the whole batch. Otherwise the
  // first minibatch's old log-probs are its own training forward, detached (same numbers, one pass saved).
  const bool shape_kl = cfg.objective.kl_mode == "reward" && beta > 0;
  const auto so = schedule_options(cfg.train, cfg.train.max_steps * K);

  const int64_t n_prompts = static_cast<int64_t>(prompts.size());
  auto order = epoch_order(n_prompts, cfg.train.seed, st.epoch);
  auto next_prompt = [&]() -> int64_t {
    if (st.cursor >= n_prompts) {
      st.cursor = 0;
      ++st.epoch;
      order = epoch_order(n_prompts, cfg.train.seed, st.epoch);
    }
    return order[st.cursor++];
  };

  model::SamplingParams sp;
  model::set_chat_stops(sp, tok);
  sp.temperature = T;
  sp.max_new_tokens = cfg.rollout.max_new_tokens;

  // Evaluation hook: greedy replies of the current policy and of the starting policy (= the reference,
  // adapters off) to the held-out prompts, compared by the panel (and the run's own reward source).
  auto evaluate = [&]() {
    std::map<std::string, double> ev;
    if (eval_prompts.empty()) return ev;
    model::SamplingParams ep = sp;
    ep.temperature = 0;
    std::vector<model::Generation> pol, ref;
    pol = model::generate(m, eval_tokens, ep);
    {
      model::AdapterGuard off(m, false);
      ref = model::generate(m, eval_tokens, ep);
    }
    std::vector<RolloutText> pt, rt;
    double len = 0;
    for (size_t i = 0; i < eval_prompts.size(); ++i) {
      pt.push_back(to_text(tok, eval_prompts[i].conversation, pol[i]));
      rt.push_back(to_text(tok, eval_prompts[i].conversation, ref[i]));
      len += static_cast<double>(pol[i].tokens.size());
    }
    std::vector<std::pair<const RolloutText*, const RolloutText*>> pairs;
    for (size_t i = 0; i < pt.size(); ++i) pairs.push_back({&pt[i], &rt[i]});
    auto pw = panel->prob_a_beats_b(pairs);
    check_judged(pw, pairs.size(), "panel (evaluation)", "P(a beats b)", true);
    ev["eval/panel_win_rate"] = vec_mean(pw);
    if (pairwise && judge != panel) {
      auto jw = judge->prob_a_beats_b(pairs);
      check_judged(jw, pairs.size(), source_name, "P(a beats b)", true);
      ev["eval/judge_win_rate"] = vec_mean(jw);
    } else if (!pairwise) {
      std::vector<const RolloutText*> items;
      for (auto& x : pt) items.push_back(&x);
      for (auto& x : rt) items.push_back(&x);
      auto s = scorer->score(items);
      check_judged(s, items.size(), source_name, "score", false);
      const size_t n = pt.size();
      const auto mid = s.begin() + static_cast<std::ptrdiff_t>(n);
      ev["eval/reward_mean"] = vec_mean(std::vector<double>(s.begin(), mid));
      ev["eval/reference_reward_mean"] = vec_mean(std::vector<double>(mid, s.end()));
    }
    ev["eval/response_length"] = len / static_cast<double>(pt.size());
    ev["eval/prompts"] = static_cast<double>(pt.size());
    if (opt.eval_callback)
      for (const auto& [k, v] : opt.eval_callback(pt)) ev["eval/" + k] = v;
    return ev;
  };

  ProgressBar bar(cfg.train.max_steps, stage);
  RlResult res;
  std::string last_dir = latest.value_or("");
  while (st.step < cfg.train.max_steps) {
    const auto t_step = Clock::now();
    const int64_t step = st.step + 1;  // the step being made (1-based, as logged)

    // 1. Rollouts: P prompts x G samples in one batched generate call (per-row seeds).
    std::vector<int64_t> pidx(P);
    for (auto& i : pidx) i = next_prompt();
    std::vector<std::vector<int64_t>> rows;
    rows.reserve(P * G);
    for (int64_t i = 0; i < P; ++i)
      for (int64_t g = 0; g < G; ++g) rows.push_back(prompt_tokens[pidx[i]]);
    auto t0 = Clock::now();
    sp.seed = step_seed(cfg.train.seed, step, 1);
    const auto gens = model::generate(m, rows, sp);
    const bool with_win_rate = cfg.train.win_rate_every > 0 && step % cfg.train.win_rate_every == 0;
    std::vector<model::Generation> ref_gens;
    if (with_win_rate) {  // the starting policy's reply to each prompt, the yardstick of the win rate
      std::vector<std::vector<int64_t>> ref_rows;
      for (int64_t i = 0; i < P; ++i) ref_rows.push_back(prompt_tokens[pidx[i]]);
      model::SamplingParams rp = sp;
      rp.seed = step_seed(cfg.train.seed, step, 2);
      model::AdapterGuard off(m, false);
      ref_gens = model::generate(m, ref_rows, rp);
    }
    const double t_gen = seconds_since(t0);
    int64_t gen_tokens = 0, truncated = 0;
    std::vector<RolloutText> texts;
    texts.reserve(P * G);
    for (int64_t r = 0; r < P * G; ++r) {
      texts.push_back(to_text(tok, prompts[pidx[r / G]].conversation, gens[r]));
      gen_tokens += texts.back().tokens;
      truncated += !texts.back().finished;
    }
    std::vector<RolloutText> ref_texts;
    for (int64_t i = 0; i < static_cast<int64_t>(ref_gens.size()); ++i) {
      ref_texts.push_back(to_text(tok, prompts[pidx[i]].conversation, ref_gens[i]));
      gen_tokens += ref_texts.back().tokens;
    }

    // 2. Rewards: one batched call to the judge (every tournament comparison of the step, plus each rollout
    // against the reference reply) or to the scorer.
    t0 = Clock::now();
    std::vector<double> reward(P * G, 0.0), win_vs_ref;
    std::optional<double> decisive;
    if (pairwise) {
      std::vector<std::pair<const RolloutText*, const RolloutText*>> pairs;
      for (int64_t i = 0; i < P; ++i)
        for (const auto& c : comparisons) pairs.push_back({&texts[i * G + c.a], &texts[i * G + c.b]});
      const size_t n_tour = pairs.size();
      for (int64_t r = 0; r < static_cast<int64_t>(ref_texts.empty() ? 0 : P * G); ++r)
        pairs.push_back({&texts[r], &ref_texts[r / G]});
      auto probs = judge->prob_a_beats_b(pairs);
      check_judged(probs, pairs.size(), source_name, "P(a beats b)", true);
      int64_t n_decisive = 0;
      for (int64_t i = 0; i < P; ++i) {
        std::vector<double> outcomes;
        for (size_t k = 0; k < comparisons.size(); ++k) {
          outcomes.push_back(judge_outcome(probs[i * comparisons.size() + k], cfg.reward.outcome, cfg.reward.tie_margin));
          n_decisive += outcomes.back() != 0.5;
        }
        auto tr = tournament_rewards(G, comparisons, outcomes);
        for (int64_t g = 0; g < G; ++g) reward[i * G + g] = tr.reward[g];
      }
      if (n_tour > 0) decisive = static_cast<double>(n_decisive) / static_cast<double>(n_tour);
      win_vs_ref.assign(probs.begin() + static_cast<std::ptrdiff_t>(n_tour), probs.end());
    } else {
      std::vector<const RolloutText*> items;
      for (auto& t : texts) items.push_back(&t);
      for (auto& t : ref_texts) items.push_back(&t);
      auto s = scorer->score(items);
      check_judged(s, items.size(), source_name, "score", false);
      for (int64_t r = 0; r < P * G; ++r) reward[r] = s[r];
      for (int64_t r = 0; r < static_cast<int64_t>(ref_texts.empty() ? 0 : P * G); ++r) {
        const double a = s[r], b = s[P * G + r / G];
        win_vs_ref.push_back(a > b ? 1.0 : a < b ? 0.0 : 0.5);
      }
    }
    for (int64_t r = 0; r < P * G; ++r)
      if (!texts[r].finished) reward[r] -= cfg.rollout.truncation_penalty;
    const double t_judge = seconds_since(t0);

    // 3. Log-probs without gradient: the reference (adapters off) and the sampling policy's ("old") where
    // the update cannot take them from its own forward. Both run the training forward's code path (grad
    // mode on, nothing requiring grad), so at the first update the importance ratio is exactly 1 (and the
    // KL 0 up to rounding while the policy equals the reference).
    std::vector<RolloutBatch> mbs(K);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = k * PK; i < (k + 1) * PK; ++i) {
        mbs[k].prompts.push_back(prompt_tokens[pidx[i]]);
        for (int64_t g = 0; g < G; ++g) {
          mbs[k].responses.push_back(gens[i * G + g].tokens);
          mbs[k].prompt_index.push_back(i - k * PK);
        }
      }
    RolloutLogpOptions lo;
    lo.temperature = T;
    t0 = Clock::now();
    std::vector<torch::Tensor> ref_lp(K), old_lp(K), masks(K);
    {
      NoGraph ng(params);
      for (int64_t k = 0; k < K; ++k) {
        AutocastGuard ac(cmp.bf16, cmp.device);
        {
          model::AdapterGuard off(m, false);
          auto r = rollout_logps(m, mbs[k], lo);
          ref_lp[k] = r.logps.detach();
          masks[k] = r.mask;
        }
        if (shape_kl || k > 0) old_lp[k] = rollout_logps(m, mbs[k], lo).logps.detach();
      }
    }
    const double t_ref = seconds_since(t0);

    auto seq_kl_of = [&](int64_t k) {  // (R_k,) sequence KL of the sampling policy to the reference
      return masked_row_sum(kl_per_token(old_lp[k], ref_lp[k], cfg.objective.kl_estimator), masks[k]);
    };
    std::vector<double> seq_kl(P * G, 0.0);
    auto fill_kl = [&](int64_t k) {
      auto v = seq_kl_of(k).to(torch::kDouble).cpu().contiguous();
      auto va = v.accessor<double, 1>();
      for (int64_t j = 0; j < PK * G; ++j) seq_kl[k * PK * G + j] = va[j];
    };
    if (shape_kl)
      for (int64_t k = 0; k < K; ++k) fill_kl(k);
    const auto shaped = shape_kl ? shape_rewards_with_kl(reward, seq_kl, beta) : reward;
    const auto adv = group_advantages(shaped, G, adv_opt);

    // 4. Updates: one optimizer step per minibatch of whole prompt groups.
    t0 = Clock::now();
    double loss_sum = 0, gnorm_last = 0, clip_sum = 0, ratio_sum = 0, ratio_max = 0, drift_sum = 0;
    double ent_sum = 0, tokens_sum = 0, kl_tok_sum = 0;
    int64_t train_tokens = 0, dpo_pairs = 0;
    double lr = 0;
    for (int64_t k = 0; k < K; ++k) {
      optim.zero_grad();
      TokenLogps tl;
      {
        AutocastGuard ac(cmp.bf16, cmp.device);
        RolloutLogpOptions to = lo;
        to.entropy = true;
        to.entropy_grad = cfg.objective.entropy_coef > 0;
        tl = rollout_logps(m, mbs[k], to);
      }
      if (!old_lp[k].defined()) old_lp[k] = tl.logps.detach();  // this forward IS the sampling policy
      auto adv_k = torch::tensor(std::vector<double>(adv.begin() + k * PK * G, adv.begin() + (k + 1) * PK * G),
                                 torch::kDouble)
                       .to(torch::kFloat)
                       .to(cmp.device);
      auto pl = clipped_policy_loss(tl.logps, old_lp[k], adv_k, tl.mask, cfg.objective.clip_eps);
      auto kl_tok = kl_per_token(tl.logps, ref_lp[k], cfg.objective.kl_estimator);
      auto kl_mean = masked_token_mean(kl_tok, tl.mask);
      auto ent_mean = masked_token_mean(tl.entropy, tl.mask);
      torch::Tensor loss = pl.loss;
      if (cfg.objective.online_dpo) {
        // Online DPO: each group's best and worst rollout by the judge's reward form a preference pair;
        // groups whose rewards are all equal carry no preference and are skipped.
        const auto ratio = masked_row_sum(tl.logps - ref_lp[k].to(tl.logps.dtype()), tl.mask);  // (R,)
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
        if (best.empty()) {
          loss = (tl.logps * 0).sum();  // keeps the graph; nothing to learn from this minibatch
        } else {
          auto opt_i = torch::TensorOptions().dtype(torch::kLong).device(ratio.device());
          auto margin = ratio.index_select(0, torch::tensor(best, opt_i)) - ratio.index_select(0, torch::tensor(worst, opt_i));
          loss = -torch::log_sigmoid(cfg.objective.dpo_beta * margin.to(torch::kFloat)).mean();
        }
        dpo_pairs += static_cast<int64_t>(best.size());
      }
      if (cfg.objective.kl_mode == "loss" && beta > 0) loss = loss + beta * kl_mean;
      if (cfg.objective.entropy_coef > 0) loss = loss - cfg.objective.entropy_coef * ent_mean;
      loss.backward();
      const double loss_val = loss.item<double>();
      gnorm_last = clip_grad_norm(params, cfg.train.max_grad_norm);
      stop_if_not_finite(stage, step, loss_val, gnorm_last, last_dir);
      lr = lr_at(st.step * K + k, cfg.train.learning_rate, so);
      optim.step(lr);
      const double ntok = tl.mask.sum().item<double>();
      loss_sum += loss_val;
      clip_sum += pl.clip_fraction * ntok;
      ratio_sum += pl.ratio_mean * ntok;
      ratio_max = std::max(ratio_max, pl.ratio_max);
      drift_sum += pl.approx_kl_old * ntok;
      ent_sum += ent_mean.item<double>() * ntok;
      kl_tok_sum += kl_mean.item<double>() * ntok;
      tokens_sum += ntok;
      train_tokens += static_cast<int64_t>(ntok);
      for (const auto& p : mbs[k].prompts) train_tokens += static_cast<int64_t>(p.size());
    }
    const double t_update = seconds_since(t0);
    if (!shape_kl)
      for (int64_t k = 0; k < K; ++k) fill_kl(k);
    ++st.step;
    st.tokens_seen += static_cast<int64_t>(tokens_sum);

    // The sampler's log-probs against the training forward's (inference/training mismatch, ~1e-6 in fp32).
    double sampler_diff = 0;
    for (int64_t k = 0; k < K; ++k) {
      auto cpu_old = old_lp[k].to(torch::kFloat).cpu().contiguous();
      auto oa = cpu_old.accessor<float, 2>();
      for (int64_t j = 0; j < PK * G; ++j) {
        const auto& g = gens[k * PK * G + j];
        for (size_t t = 0; t < g.logprobs.size(); ++t)
          sampler_diff += std::abs(static_cast<double>(oa[j][static_cast<int64_t>(t)]) - g.logprobs[t]);
      }
    }
    sampler_diff /= std::max(1.0, tokens_sum);
    if (!std::isfinite(sampler_diff) || !std::isfinite(vec_mean(seq_kl)))
      stop_if_not_finite(stage, step, NAN, gnorm_last, last_dir);

    // 5. Metrics.
    std::vector<double> lengths;
    for (const auto& t : texts) lengths.push_back(static_cast<double>(t.tokens));
    nlohmann::json row;
    row["step"] = st.step;
    row["stage"] = stage;
    row["reward_mean"] = vec_mean(reward);
    row["reward_std"] = vec_std(reward);
    if (cfg.objective.online_dpo) row["online_dpo_pairs"] = dpo_pairs;
    if (shape_kl) row["shaped_reward_mean"] = vec_mean(shaped);
    if (!win_vs_ref.empty()) row["win_rate"] = vec_mean(win_vs_ref);
    if (decisive) row["judge_decisive_fraction"] = *decisive;
    row["kl"] = vec_mean(seq_kl);
    row["kl_per_token"] = kl_tok_sum / std::max(1.0, tokens_sum);
    row["entropy"] = ent_sum / std::max(1.0, tokens_sum);
    row["response_length"] = vec_mean(lengths);
    row["truncated_fraction"] = static_cast<double>(truncated) / static_cast<double>(P * G);
    row["zero_spread_fraction"] = static_cast<double>(zero_spread_groups(reward, G)) / static_cast<double>(P);
    row["clip_fraction"] = clip_sum / std::max(1.0, tokens_sum);
    row["ratio_mean"] = ratio_sum / std::max(1.0, tokens_sum);
    row["ratio_max"] = ratio_max;
    row["policy_drift_kl"] = drift_sum / std::max(1.0, tokens_sum);
    row["sampler_logp_abs_diff"] = sampler_diff;
    row["loss"] = loss_sum / static_cast<double>(K);
    row["grad_norm"] = gnorm_last;
    row["lr"] = lr;
    row["gen_tokens_per_s"] = static_cast<double>(gen_tokens) / std::max(t_gen, 1e-9);
    row["train_tokens_per_s"] = static_cast<double>(train_tokens) / std::max(t_update, 1e-9);
    row["time/generation_s"] = t_gen;
    row["time/judge_s"] = t_judge;
    row["time/reference_s"] = t_ref;
    row["time/update_s"] = t_update;
    row["epoch"] = st.epoch;

    if (!win_vs_ref.empty() || !pairwise) {
      h_len.push_back(row["response_length"].get<double>());
      h_reward.push_back(row[hack_key].get<double>());
      h_kl.push_back(row["kl"].get<double>());
      if (cfg.train.hacking_window > 0 &&
          (last_hack_warning < 0 || static_cast<int64_t>(h_len.size()) - last_hack_warning >= cfg.train.hacking_window)) {
        if (auto w = reward_hacking_warning(h_len, h_reward, h_kl, cfg.train.hacking_window)) {
          spdlog::warn("{} step {}: {}", stage, st.step, *w);
          row["warning"] = *w;
          last_hack_warning = static_cast<int64_t>(h_len.size());
        }
      }
    }

    const bool last = st.step == cfg.train.max_steps;
    const bool stop_now = opt.stop_after_step == st.step;
    if ((cfg.train.eval_every > 0 && st.step % cfg.train.eval_every == 0) || last) {
      res.eval = evaluate();
      for (const auto& [k, v] : res.eval) row[k] = v;
    }
    row["time/step_s"] = seconds_since(t_step);
    res.last.clear();
    for (auto it = row.begin(); it != row.end(); ++it)
      if (it.value().is_number()) res.last[it.key()] = it.value().get<double>();
    if (st.step % cfg.train.log_every == 0 || st.step == 1 || last || row.contains("eval/panel_win_rate") ||
        row.contains("warning"))
      metrics.log(row);

    if (cfg.train.rollout_log_every > 0 && (st.step % cfg.train.rollout_log_every == 0 || st.step == 1)) {
      for (int64_t i = 0; i < std::min(P, cfg.train.rollout_log_prompts); ++i) {
        nlohmann::json rr;
        rr["step"] = st.step;
        const auto& pr = prompts[pidx[i]];
        if (!pr.id.empty()) rr["prompt_id"] = pr.id;
        rr["prompt"] = pr.conversation.back().content;
        if (!pr.tags.empty()) rr["tags"] = pr.tags;
        nlohmann::json list = nlohmann::json::array();
        for (int64_t g = 0; g < G; ++g) {
          const int64_t r = i * G + g;
          nlohmann::json x = {{"response", texts[r].response}, {"reward", reward[r]}, {"advantage", adv[r]},
                              {"kl", seq_kl[r]}, {"tokens", texts[r].tokens},
                              {"finish_reason", gens[r].finish_reason}};
          if (!win_vs_ref.empty()) x["win_vs_reference"] = win_vs_ref[r];
          list.push_back(x);
        }
        rr["rollouts"] = list;
        if (!ref_texts.empty()) rr["reference_response"] = ref_texts[i].response;
        rollout_log.log(rr);
      }
    }

    char suffix[96];
    std::snprintf(suffix, sizeof suffix, "reward %.3f kl %.3f", row["reward_mean"].get<double>(),
                  row["kl"].get<double>());
    bar.update(st.step, suffix);
    if ((cfg.train.save_every > 0 && st.step % cfg.train.save_every == 0) || last || stop_now)
      last_dir = save_training_checkpoint(run, m, tok, optim, st, static_cast<int>(cfg.train.keep_checkpoints));
    if (stop_now) break;
  }
  bar.finish();
  res.step = st.step;
  res.checkpoint_dir = last_dir;
  return res;
}

}  // namespace srl::train
