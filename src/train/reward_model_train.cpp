#include "train/reward_model_train.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/metrics.hpp"
#include "core/progress.hpp"
#include "core/run_dir.hpp"
#include "core/timer.hpp"
#include "data/preference.hpp"
#include "model/safetensors.hpp"
#include "train/optim.hpp"
#include "train/preference_tokens.hpp"
#include "train/reward_eval.hpp"
#include "train/reward_model.hpp"
#include "train/run_contract.hpp"
#include "train/trainer_common.hpp"
#include "train/trainer_state.hpp"

namespace srl::train {

namespace {

constexpr const char* kHeadOptimFile = "value_head_optimizer.safetensors";

void check_config(const RewardModelFileConfig& fc) {
  const auto& c = fc.reward_model;
  auto need = [](bool ok, const std::string& key, const std::string& what) {
    if (!ok) fail("config: reward_model." + key, what);
  };
  auto finite_at_least = [](double x, double lo) { return std::isfinite(x) && x >= lo; };
  need(!c.output_dir.empty(), "output_dir", "must not be empty");
  need(!c.data.train_file.empty(), "data.train_file", "required (set it or pass --train-file)");
  need(c.data.max_prompt_len >= 2, "data.max_prompt_len", "must be at least 2");
  need(c.data.max_seq_len > c.data.max_prompt_len, "data.max_seq_len", "must be larger than data.max_prompt_len");
  need(!c.data.label_ceiling || (*c.data.label_ceiling >= 0.5 && *c.data.label_ceiling <= 1.0), "data.label_ceiling",
       "must be in [0.5, 1] (the agreement of two independent labellings) or null");
  const auto& t = c.train;
  check_batched_train(t, "reward_model.");
  need(!t.head_learning_rate || (finite_at_least(*t.head_learning_rate, 0) && *t.head_learning_rate > 0),
       "train.head_learning_rate", "must be positive or null");
  need(finite_at_least(t.center_rewards_coefficient, 0), "train.center_rewards_coefficient", "must be >= 0");
  need(finite_at_least(t.margin, 0), "train.margin", "must be >= 0");
  need(t.stats_pairs >= 0, "train.stats_pairs", "must be >= 0");
  check_lora_section(c.lora, "reward_model.");
}

// Whether the pair drawn at (epoch, position) has its slots swapped: a hash, so resume needs no state.
bool swapped(int64_t seed, int64_t epoch, int64_t position) {
  uint64_t z = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL ^
               static_cast<uint64_t>(epoch) * 0xC2B2AE3D27D4EB4FULL ^
               static_cast<uint64_t>(position) * 0x165667B19E3779F9ULL;
  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (z >> 63) != 0;
}

double target_of(data::Winner w) { return w == data::Winner::A ? 1.0 : w == data::Winner::B ? 0.0 : 0.5; }

struct Drawn {
  const TokenizedPair* pair;
  bool swap;
};

struct Batch {
  PairedSequences seqs;  // chosen = slot A, rejected = slot B (after any swap)
  std::vector<double> target;
  int64_t tokens = 0;
};

Batch make_batch(const std::vector<Drawn>& rows) {
  Batch b;
  for (const auto& d : rows) {
    const auto& p = *d.pair;
    b.seqs.prompts.push_back(p.prompt);
    b.seqs.chosen.push_back(d.swap ? p.response_b : p.response_a);
    b.seqs.rejected.push_back(d.swap ? p.response_a : p.response_b);
    const double t = target_of(p.winner);
    b.target.push_back(d.swap ? 1.0 - t : t);
    b.tokens += static_cast<int64_t>(p.prompt.size() + p.response_a.size() + p.response_b.size());
  }
  return b;
}

// (r_a, r_b) of every pair as stored (no swap), `batch` pairs per forward, inference mode.
std::vector<std::pair<double, double>> score_tokenized(RewardModel& rm, const std::vector<const TokenizedPair*>& pairs,
                                                       int64_t batch, const Compute& cmp) {
  torch::NoGradGuard ng;
  auto& m = rm.policy();
  const bool was_training = m->is_training();
  m->eval();
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < pairs.size(); i += static_cast<size_t>(batch)) {
    std::vector<Drawn> rows;
    for (size_t j = i; j < std::min(pairs.size(), i + static_cast<size_t>(batch)); ++j)
      rows.push_back({pairs[j], false});
    auto b = make_batch(rows);
    torch::Tensor r;
    {
      AutocastGuard ac(cmp.bf16, cmp.device);
      r = rm.rewards(b.seqs);
    }
    r = r.to(torch::kCPU).to(torch::kDouble);
    const int64_t B = static_cast<int64_t>(rows.size());
    for (int64_t j = 0; j < B; ++j) out.emplace_back(r[j].item<double>(), r[B + j].item<double>());
  }
  m->train(was_training);
  return out;
}

RewardStats reward_stats(RewardModel& rm, const std::vector<TokenizedPair>& train, int64_t stats_pairs, int64_t seed,
                         int64_t batch, const Compute& cmp) {
  const int64_t n = static_cast<int64_t>(train.size());
  const int64_t k = stats_pairs == 0 ? n : std::min(n, stats_pairs);
  // A fixed seeded sample, independent of the training order.
  auto order = epoch_order(n, seed, -1);
  std::vector<const TokenizedPair*> sample;
  for (int64_t i = 0; i < k; ++i) sample.push_back(&train[order[i]]);
  double s = 0, sq = 0;
  for (auto [a, b] : score_tokenized(rm, sample, batch, cmp))
    for (double r : {a, b}) {
      s += r;
      sq += r * r;
    }
  RewardStats st;
  st.responses = 2 * k;
  const double mean = s / st.responses;
  st.mean = mean;
  st.std = std::sqrt(std::max(0.0, sq / st.responses - mean * mean));
  return st;
}

std::vector<data::PreferencePair> load(const std::string& path, data::OnInvalid on_invalid) {
  data::LoadStats ls;
  auto pairs = data::load_pairs(path, on_invalid, &ls);
  if (ls.skipped) spdlog::warn("{}: skipped {} of {} lines (data.on_invalid: skip)", path, ls.skipped, ls.lines);
  if (pairs.empty()) fail(path, "no usable preference pair");
  return pairs;
}

void save_head_optimizer(const std::string& dir, const AdamW& head_optim) {
  model::safetensors::save(dir + "/" + kHeadOptimFile, head_optim.state());
}

void load_head_optimizer(const std::string& dir, AdamW& head_optim) {
  const std::string path = dir + "/" + kHeadOptimFile;
  head_optim.load_state(model::safetensors::load(path).tensors, path);
}

std::string fmt(double x, const char* f = "%.4f") {
  char b[32];
  std::snprintf(b, sizeof b, f, x);
  return b;
}


// The label-agreement ceiling reported beside held-out accuracy: from the config, or measured for
// synthetic data (unknown otherwise).
LabelCeiling label_ceiling(const RewardModelConfig& cfg, const std::vector<data::PreferencePair>& eval_raw) {
  LabelCeiling ceiling;
  if (eval_raw.empty()) return ceiling;
  if (cfg.data.label_ceiling) {
    ceiling.agreement = *cfg.data.label_ceiling;
    ceiling.source = "config";
    ceiling.note = "data.label_ceiling from the config";
    return ceiling;
  }
  ceiling = synthetic_label_ceiling(eval_raw);
  if (!ceiling.agreement)
    spdlog::info("reward_model: label ceiling of {} unknown ({}); set data.label_ceiling to report one",
                 cfg.data.eval_file, ceiling.note);
  return ceiling;
}

// Held-out scores -> eval.json (and, at the end, reliability.svg); the evaluation's numbers.
struct RmEvaluation {
  RewardModel& rm;
  const RewardModelConfig& cfg;
  const std::vector<TokenizedPair>& eval_data;
  const LabelCeiling& ceiling;
  const Compute& cmp;
  TrainingRun& run;

  std::pair<RewardEval, nlohmann::json> operator()(bool final_eval) const {
    std::vector<const TokenizedPair*> ptrs;
    for (const auto& p : eval_data) ptrs.push_back(&p);
    const int64_t step = run.state().step;
    auto scores = score_tokenized(rm, ptrs, cfg.train.batch_size, cmp);
    std::vector<ScoredPair> sp;
    for (size_t i = 0; i < scores.size(); ++i) {
      // Weights gone bad through a finite-loss update show up here first: stop like a non-finite loss.
      stop_if_not_finite("reward_model eval", step, scores[i].first - scores[i].second, 0.0, run.last_checkpoint());
      sp.push_back(
          {scores[i].first, scores[i].second, eval_data[i].winner, eval_data[i].intent, eval_data[i].difficulty});
    }
    auto e = evaluate_scored_pairs(sp);
    e.ceiling = ceiling;
    nlohmann::json extra = {
        {"stage", contract::stage::kRewardModel}, {"step", step}, {"eval_file", cfg.data.eval_file}, {"final", final_eval}};
    auto j = reward_eval_json(e, extra);
    fs::write_file_atomic(run.path(contract::kEvalFile), j.dump(2) + "\n");
    if (final_eval)
      fs::write_file_atomic(
          run.path("reliability.svg"),
          reliability_svg(e.calibration, "Reward model reliability, step " + std::to_string(step) + ", " +
                                             std::filesystem::path(cfg.data.eval_file).filename().string()));
    return {e, j};
  }
};

// One optimizer step of body and head over grad_accum micro-batches of (possibly swapped) pairs.
struct RmStep {
  RewardModel& rm;
  const std::vector<TokenizedPair>& train_data;
  const RewardModelTrain& t;
  const Compute& cmp;
  EpochCursor& cursor;
  AdamW& optim;
  AdamW& head_optim;
  const std::vector<std::pair<std::string, torch::Tensor>>& all_params;
  const ScheduleOptions& schedule;
  TrainingRun& run;
  RewardModelResult& res;

  StepReport operator()() {
    const auto t0 = Clock::now();
    std::vector<Batch> micro;
    for (int64_t a = 0; a < t.grad_accum; ++a) {
      std::vector<Drawn> rows;
      for (int64_t i = 0; i < t.batch_size; ++i) {
        const auto d = cursor.next();
        rows.push_back({&train_data[d.index], t.swap_augment && swapped(t.seed, d.epoch, d.position)});
      }
      micro.push_back(make_batch(rows));
    }
    optim.zero_grad();
    head_optim.zero_grad();
    double loss_val = 0;
    int64_t tokens = 0, decided = 0, correct = 0;
    const int64_t step_pairs = t.batch_size * t.grad_accum;
    for (auto& mb : micro) {
      tokens += mb.tokens;
      const int64_t B = static_cast<int64_t>(mb.target.size());
      auto target = torch::tensor(mb.target, torch::kDouble).to(torch::kFloat).to(cmp.device);
      torch::Tensor r;
      {
        AutocastGuard ac(cmp.bf16, cmp.device);
        r = rm.rewards(mb.seqs);
      }
      auto ra = r.narrow(0, 0, B), rb = r.narrow(0, B, B);
      // Normalised by the whole step's pair count, so gradient accumulation is exact.
      auto loss = reward_pair_losses(ra, rb, target, t.margin, t.center_rewards_coefficient).sum() /
                  static_cast<double>(step_pairs);
      loss.backward();
      loss_val += loss.item<double>();
      auto d = (ra - rb).detach().to(torch::kCPU);
      for (int64_t i = 0; i < B; ++i) {
        if (mb.target[i] == 0.5) continue;
        ++decided;
        correct += (d[i].item<double>() > 0) == (mb.target[i] == 1.0);
      }
    }
    auto& st = run.state();
    const double gnorm = clip_grad_norm(all_params, t.max_grad_norm);
    stop_if_not_finite("reward_model", st.step + 1, loss_val, gnorm, run.last_checkpoint());
    const double lr = lr_at(st.step, t.learning_rate, schedule);
    const double head_lr = lr_at(st.step, t.head_learning_rate.value_or(t.learning_rate), schedule);
    optim.step(lr);
    head_optim.step(head_lr);
    st.tokens_seen += tokens;
    const double dt = seconds_since(t0);
    const double acc = decided ? static_cast<double>(correct) / decided : 0.0;
    res.last_loss = loss_val;
    res.last_accuracy = acc;
    StepReport rep;
    rep.row[contract::metric::kLoss] = loss_val;
    rep.row[contract::metric::kAccuracy] = acc;
    rep.row["lr"] = lr;
    if (t.head_learning_rate) rep.row["head_lr"] = head_lr;
    rep.row["grad_norm"] = gnorm;
    rep.row["tokens_per_s"] = static_cast<double>(tokens) / dt;
    rep.progress = "loss " + fmt(loss_val) + " acc " + fmt(acc, "%.2f");
    return rep;
  }
};

// The evaluation's numbers in a metrics row, and its one log line.
void log_evaluation(const RewardEval& e, int64_t step, nlohmann::json& row) {
  row[contract::metric::kEvalLoss] = e.loss;
  if (e.overall.pairs > 0) {
    row[contract::metric::kEvalAccuracy] = e.overall.accuracy();
    row["eval/ece"] = e.calibration.ece;
    row["eval/mean_margin"] = e.mean_margin;
  }
  row[contract::metric::kEvalRewardMean] = e.reward_mean;
  row["eval/reward_std"] = e.reward_std;
  if (e.ceiling.agreement) row["eval/label_ceiling"] = *e.ceiling.agreement;
  spdlog::info("reward_model: step {} eval accuracy {} (label ceiling {}), ECE {}", step, fmt(e.overall.accuracy()),
               e.ceiling.agreement ? fmt(*e.ceiling.agreement) : "unknown", fmt(e.calibration.ece));
}

}  // namespace

RewardModelResult run_train_reward_model(const RewardModelFileConfig& file_cfg, const RewardModelOptions& opt) {
  check_config(file_cfg);
  const auto& cfg = file_cfg.reward_model;
  const Compute cmp = setup_compute(file_cfg.compute);
  TrainingRun run(contract::stage::kRewardModel, cfg.output_dir, cfg.train, opt);
  const auto& latest = run.resume_from();
  if (!latest && cfg.model.init.empty() && cfg.model.tokenizer.empty())
    fail("config: reward_model.model.init", "required: the SFT run to start from");
  if (!latest && !cfg.model.init.empty() && !fs::exists(cfg.model.init))
    fail("config: reward_model.model.init",
         cfg.model.init +
             ": no SFT run or checkpoint there (train one with `supportrl sft`, or point model.init at one)");
  // Data before the model: a malformed file fails fast, naming FILE:LINE.
  auto train_raw = load(cfg.data.train_file, cfg.data.on_invalid);
  std::vector<data::PreferencePair> eval_raw;
  if (!cfg.data.eval_file.empty()) eval_raw = load(cfg.data.eval_file, cfg.data.on_invalid);
  run.begin(config::to_yaml(file_cfg));

  auto lm = prepare_training_model(cfg.model, cfg.lora, latest);
  const int64_t ctx = lm.model->config().max_position_embeddings;
  if (cfg.data.max_seq_len > ctx)
    fail("config: reward_model.data.max_seq_len",
         std::to_string(cfg.data.max_seq_len) + " exceeds the model's context of " + std::to_string(ctx));
  const PairTokenizeOptions to{cfg.data.max_prompt_len, cfg.data.max_seq_len};
  RewardModel rm(lm.model, lm.tokenizer, static_cast<uint64_t>(cfg.train.seed), to);
  if (latest) rm.load_head(*latest);
  rm.info["init"] = cfg.model.init;
  rm.info["train_file"] = cfg.data.train_file;
  rm.to(cmp.device);
  model::Llama m = rm.policy();
  m->train();
  auto body = set_trainable(m);
  auto head = rm.head_parameters();
  for (auto& [n, p] : head) p.set_requires_grad(true);
  auto all_params = body;
  all_params.insert(all_params.end(), head.begin(), head.end());

  const auto train_data = tokenize_pairs(train_raw, rm.tokenizer(), to, "config: reward_model.data");
  const auto eval_data = tokenize_pairs(eval_raw, rm.tokenizer(), to, "config: reward_model.data");
  const LabelCeiling ceiling = label_ceiling(cfg, eval_raw);
  spdlog::info("reward_model: {} training pairs, {} held out, {} trainable parameters (head included)",
               train_data.size(), eval_data.size(), count_parameters(all_params));

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  // Two optimizers so the head can have its own learning rate; both keep named state for exact resume
  // (the head's is saved beside the value head in every checkpoint).
  AdamW optim(body, ao);
  AdamW head_optim(head, ao);
  run.restore(optim);
  if (latest) load_head_optimizer(*latest, head_optim);
  const auto so = schedule_options(cfg.train, cfg.train.max_steps);
  EpochCursor cursor(static_cast<int64_t>(train_data.size()), cfg.train.seed, run.state());

  RewardModelResult res;
  const RmEvaluation evaluate{rm, cfg, eval_data, ceiling, cmp, run};
  LoopHooks hooks;
  hooks.step = RmStep{rm, train_data, cfg.train, cmp, cursor, optim, head_optim, all_params, so, run, res};
  hooks.evaluate = [&](nlohmann::json& row, bool final_eval) {
    if (eval_data.empty()) return false;
    auto [e, j] = evaluate(final_eval);
    res.eval = j;
    log_evaluation(e, run.state().step, row);
    return true;
  };
  hooks.save = [&] {
    rm.stats = reward_stats(rm, train_data, cfg.train.stats_pairs, cfg.train.seed, cfg.train.batch_size, cmp);
    // No checkpoint with bad statistics.
    stop_if_not_finite("reward_model", run.state().step, *rm.stats.mean + *rm.stats.std, 0.0, run.last_checkpoint());
    rm.info["step"] = run.state().step;
    return run.save_checkpoint(m, rm.tokenizer(), optim, [&](const std::string& dir) {
      rm.save_head_files(dir);
      save_head_optimizer(dir, head_optim);
    });
  };
  run.loop(hooks);
  res.step = run.state().step;
  res.checkpoint_dir = run.last_checkpoint();
  return res;
}

}  // namespace srl::train
