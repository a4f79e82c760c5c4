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
#include "data/preference.hpp"
#include "model/safetensors.hpp"
#include "train/optim.hpp"
#include "train/preference_tokens.hpp"
#include "train/reward_eval.hpp"
#include "train/reward_model.hpp"
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
  auto finite_pos = [](double x) { return x > 0 && std::isfinite(x); };
  need(!c.output_dir.empty(), "output_dir", "must not be empty");
  need(!c.data.train_file.empty(), "data.train_file", "required (set it or pass --train-file)");
  need(c.data.max_prompt_len >= 2, "data.max_prompt_len", "must be at least 2");
  need(c.data.max_seq_len > c.data.max_prompt_len, "data.max_seq_len", "must be larger than data.max_prompt_len");
  need(!c.data.label_ceiling || (*c.data.label_ceiling >= 0.5 && *c.data.label_ceiling <= 1.0), "data.label_ceiling",
       "must be in [0.5, 1] (the agreement of two independent labellings) or null");
  const auto& t = c.train;
  need(t.max_steps > 0, "train.max_steps", "must be positive");
  need(t.batch_size > 0, "train.batch_size", "must be positive");
  need(t.grad_accum > 0, "train.grad_accum", "must be positive");
  need(finite_pos(t.learning_rate), "train.learning_rate", "must be positive");
  need(!t.head_learning_rate || finite_pos(*t.head_learning_rate), "train.head_learning_rate",
       "must be positive or null");
  need(t.weight_decay >= 0 && std::isfinite(t.weight_decay), "train.weight_decay", "must be >= 0");
  need(t.warmup_steps >= 0, "train.warmup_steps", "must be >= 0");
  need(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, "train.min_lr_ratio", "must be in [0, 1]");
  need(t.max_grad_norm >= 0 && std::isfinite(t.max_grad_norm), "train.max_grad_norm", "must be >= 0");
  need(t.center_rewards_coefficient >= 0 && std::isfinite(t.center_rewards_coefficient),
       "train.center_rewards_coefficient", "must be >= 0");
  need(t.margin >= 0 && std::isfinite(t.margin), "train.margin", "must be >= 0");
  need(t.eval_every >= 0, "train.eval_every", "must be >= 0");
  need(t.save_every >= 0, "train.save_every", "must be >= 0");
  need(t.log_every >= 0, "train.log_every", "must be >= 0");
  need(t.keep_checkpoints >= 1, "train.keep_checkpoints", "must be at least 1");
  need(t.stats_pairs >= 0, "train.stats_pairs", "must be >= 0");
  need(c.lora.lora_rank >= 0, "lora.lora_rank", "must be >= 0");
  need(c.lora.lora_dropout >= 0 && c.lora.lora_dropout < 1, "lora.lora_dropout", "must be in [0, 1)");
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

std::vector<data::PreferencePair> load(const std::string& path, const std::string& on_invalid) {
  data::LoadStats ls;
  auto pairs = data::load_pairs(path, on_invalid == "skip" ? data::OnInvalid::Skip : data::OnInvalid::Error, &ls);
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

}  // namespace

RewardModelResult run_train_reward_model(const RewardModelFileConfig& file_cfg, const RewardModelOptions& opt) {
  check_config(file_cfg);
  const auto& cfg = file_cfg.reward_model;
  const Compute cmp = setup_compute(file_cfg.compute);
  RunDir run(cfg.output_dir);
  const auto latest = check_run_dir(cfg.output_dir, opt.resume);
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

  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(run.path("config.yaml"), config::to_yaml(file_cfg));
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));

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
  const int64_t n = static_cast<int64_t>(train_data.size());
  LabelCeiling ceiling;
  if (!eval_raw.empty()) {
    if (cfg.data.label_ceiling) {
      ceiling.agreement = *cfg.data.label_ceiling;
      ceiling.source = "config";
      ceiling.note = "data.label_ceiling from the config";
    } else {
      ceiling = synthetic_label_ceiling(eval_raw);
      if (!ceiling.agreement)
        spdlog::info("reward_model: label ceiling of {} unknown ({}); set data.label_ceiling to report one",
                     cfg.data.eval_file, ceiling.note);
    }
  }
  int64_t n_trainable = 0;
  for (auto& [k, p] : all_params) n_trainable += p.numel();
  spdlog::info("reward_model: {} training pairs, {} held out, {} trainable parameters (head included)", n,
               eval_data.size(), n_trainable);

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  // Two optimizers so the head can have its own learning rate; both keep named state for exact resume
  // (the head's is saved beside the value head in every checkpoint).
  AdamW optim(body, ao);
  AdamW head_optim(head, ao);
  TrainerState st;
  const std::string metrics_path = run.path("metrics.jsonl");
  if (opt.resume) {
    st = load_trainer_state(*latest, optim);
    load_head_optimizer(*latest, head_optim);
    spdlog::info("reward_model: resumed from {} at step {}", *latest, st.step);
  }
  restart_logs({metrics_path}, st.step);
  MetricsLog metrics(metrics_path);
  const auto so = schedule_options(cfg.train, cfg.train.max_steps);
  const double head_peak = cfg.train.head_learning_rate.value_or(cfg.train.learning_rate);

  auto order = epoch_order(n, cfg.train.seed, st.epoch);
  auto next_example = [&]() -> Drawn {
    if (st.cursor >= n) {
      st.cursor = 0;
      ++st.epoch;
      order = epoch_order(n, cfg.train.seed, st.epoch);
    }
    const int64_t pos = st.cursor++;
    return {&train_data[order[pos]], cfg.train.swap_augment && swapped(cfg.train.seed, st.epoch, pos)};
  };

  std::vector<const TokenizedPair*> eval_ptrs;
  for (const auto& p : eval_data) eval_ptrs.push_back(&p);
  std::string last_dir = latest.value_or("");
  auto evaluate = [&](bool final_eval) {
    auto scores = score_tokenized(rm, eval_ptrs, cfg.train.batch_size, cmp);
    std::vector<ScoredPair> sp;
    for (size_t i = 0; i < scores.size(); ++i) {
      // Weights gone bad through a finite-loss update show up here first: stop like a non-finite loss.
      stop_if_not_finite("reward_model eval", st.step, scores[i].first - scores[i].second, 0.0, last_dir);
      sp.push_back(
          {scores[i].first, scores[i].second, eval_data[i].winner, eval_data[i].intent, eval_data[i].difficulty});
    }
    auto e = evaluate_scored_pairs(sp);
    e.ceiling = ceiling;
    nlohmann::json extra = {
        {"stage", "reward_model"}, {"step", st.step}, {"eval_file", cfg.data.eval_file}, {"final", final_eval}};
    auto j = reward_eval_json(e, extra);
    fs::write_file_atomic(run.path("eval.json"), j.dump(2) + "\n");
    if (final_eval)
      fs::write_file_atomic(
          run.path("reliability.svg"),
          reliability_svg(e.calibration, "Reward model reliability, step " + std::to_string(st.step) + ", " +
                                             std::filesystem::path(cfg.data.eval_file).filename().string()));
    return std::pair{e, j};
  };

  ProgressBar bar(cfg.train.max_steps, "reward_model");
  RewardModelResult res;
  const int64_t step_pairs = cfg.train.batch_size * cfg.train.grad_accum;
  while (st.step < cfg.train.max_steps) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Batch> micro;
    for (int64_t a = 0; a < cfg.train.grad_accum; ++a) {
      std::vector<Drawn> rows;
      for (int64_t i = 0; i < cfg.train.batch_size; ++i) rows.push_back(next_example());
      micro.push_back(make_batch(rows));
    }
    optim.zero_grad();
    head_optim.zero_grad();
    double loss_val = 0;
    int64_t tokens = 0, decided = 0, correct = 0;
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
      auto loss = reward_pair_losses(ra, rb, target, cfg.train.margin, cfg.train.center_rewards_coefficient).sum() /
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
    const double gnorm = clip_grad_norm(all_params, cfg.train.max_grad_norm);
    stop_if_not_finite("reward_model", st.step + 1, loss_val, gnorm, last_dir);
    const double lr = lr_at(st.step, cfg.train.learning_rate, so);
    const double head_lr = lr_at(st.step, head_peak, so);
    optim.step(lr);
    head_optim.step(head_lr);
    ++st.step;
    st.tokens_seen += tokens;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double acc = decided ? static_cast<double>(correct) / decided : 0.0;
    res.last_loss = loss_val;
    res.last_accuracy = acc;

    nlohmann::json row;
    const bool at_end = st.step == cfg.train.max_steps;
    const bool do_eval =
        !eval_data.empty() && ((cfg.train.eval_every > 0 && st.step % cfg.train.eval_every == 0) || at_end);
    if (do_eval) {
      auto [e, j] = evaluate(at_end);
      res.eval = j;
      row["eval/loss"] = e.loss;
      if (e.overall.pairs > 0) {
        row["eval/accuracy"] = e.overall.accuracy();
        row["eval/ece"] = e.calibration.ece;
        row["eval/mean_margin"] = e.mean_margin;
      }
      row["eval/reward_mean"] = e.reward_mean;
      row["eval/reward_std"] = e.reward_std;
      if (e.ceiling.agreement) row["eval/label_ceiling"] = *e.ceiling.agreement;
      spdlog::info("reward_model: step {} eval accuracy {} (label ceiling {}), ECE {}", st.step,
                   fmt(e.overall.accuracy()), e.ceiling.agreement ? fmt(*e.ceiling.agreement) : "unknown",
                   fmt(e.calibration.ece));
    }
    if (do_eval || st.step % std::max<int64_t>(1, cfg.train.log_every) == 0 || st.step == 1 || at_end) {
      row["step"] = st.step;
      row["stage"] = "reward_model";
      row["loss"] = loss_val;
      row["accuracy"] = acc;
      row["lr"] = lr;
      if (cfg.train.head_learning_rate) row["head_lr"] = head_lr;
      row["grad_norm"] = gnorm;
      row["tokens_per_s"] = static_cast<double>(tokens) / dt;
      row["epoch"] = st.epoch;
      metrics.log(row);
    }
    bar.update(st.step, "loss " + fmt(loss_val) + " acc " + fmt(acc, "%.2f"));
    const bool stop_now = opt.stop_after_step == st.step;
    if ((cfg.train.save_every > 0 && st.step % cfg.train.save_every == 0) || at_end || stop_now) {
      rm.stats = reward_stats(rm, train_data, cfg.train.stats_pairs, cfg.train.seed, cfg.train.batch_size, cmp);
      stop_if_not_finite("reward_model", st.step, *rm.stats.mean + *rm.stats.std, 0.0, last_dir);  // no bad checkpoint
      rm.info["step"] = st.step;
      last_dir = save_training_checkpoint(run, m, rm.tokenizer(), optim, st,
                                          static_cast<int>(cfg.train.keep_checkpoints), [&](const std::string& dir) {
                                            rm.save_head_files(dir);
                                            save_head_optimizer(dir, head_optim);
                                          });
    }
    if (stop_now) break;
  }
  bar.finish();
  res.step = st.step;
  res.checkpoint_dir = last_dir;
  return res;
}

}  // namespace srl::train
