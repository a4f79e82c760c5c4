#include "train/sft.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/metrics.hpp"
#include "core/progress.hpp"
#include "core/run_dir.hpp"
#include "model/checkpoint.hpp"
#include "text/chat_format.hpp"
#include "train/lm_loss.hpp"
#include "train/optim.hpp"
#include "train/trainer_common.hpp"
#include "train/trainer_state.hpp"

namespace srl::train {

namespace {

void check_config(const SftConfig& c) {
  auto need = [](bool ok, const std::string& key, const std::string& what) {
    if (!ok) fail("config: " + key, what);
  };
  need(c.train.max_steps > 0, "train.max_steps", "must be positive");
  need(c.train.batch_size > 0, "train.batch_size", "must be positive");
  need(c.train.grad_accum > 0, "train.grad_accum", "must be positive");
  need(c.train.learning_rate > 0 && std::isfinite(c.train.learning_rate), "train.learning_rate", "must be positive");
  need(c.train.warmup_steps >= 0, "train.warmup_steps", "must be >= 0");
  need(c.train.max_grad_norm >= 0, "train.max_grad_norm", "must be >= 0");
  need(c.train.min_lr_ratio >= 0 && c.train.min_lr_ratio <= 1, "train.min_lr_ratio", "must be in [0, 1]");
  need(c.data.max_seq_len > 1, "data.max_seq_len", "must be at least 2");
  need(c.lora.lora_rank >= 0, "lora.lora_rank", "must be >= 0");
  need(c.lora.lora_dropout >= 0 && c.lora.lora_dropout < 1, "lora.lora_dropout", "must be in [0, 1)");
  need(c.output_dir.size() > 0, "output_dir", "must not be empty");
}

std::vector<TokenExample> tokenize_file(const std::string& path, const text::Tokenizer& tok, const SftData& d,
                                        int64_t max_pos) {
  auto convs = text::load_conversations(path);
  std::vector<TokenExample> out;
  int64_t truncated = 0, dropped = 0;
  const int64_t limit = std::min<int64_t>(d.max_seq_len, max_pos);
  text::RenderOptions ro;
  ro.last_assistant_only = d.last_assistant_only;
  for (const auto& c : convs) {
    auto r = text::render(tok, c, ro);
    if (static_cast<int64_t>(r.ids.size()) > limit) {
      r.ids.resize(limit);
      r.weights.resize(limit);
      ++truncated;
    }
    bool any = false;
    for (size_t i = 1; i < r.weights.size(); ++i) any = any || r.weights[i] > 0;
    if (!any) {
      ++dropped;
      continue;
    }
    out.push_back(TokenExample{std::move(r.ids), std::move(r.weights)});
  }
  if (truncated) spdlog::warn("{}: {} conversations truncated to {} tokens", path, truncated, limit);
  if (dropped) spdlog::warn("{}: {} conversations have no assistant tokens within {} tokens and are not used", path, dropped, limit);
  if (out.empty()) fail(path, "no usable conversation (each needs assistant tokens within max_seq_len)");
  return out;
}

double evaluate_nll(model::Llama& m, const std::vector<TokenExample>& data, int64_t batch, int64_t pad,
                    const Compute& cmp) {
  torch::NoGradGuard ng;
  m->eval();
  double sum = 0, w = 0;
  for (size_t i = 0; i < data.size(); i += batch) {
    std::vector<const TokenExample*> rows;
    for (size_t j = i; j < std::min(data.size(), i + batch); ++j) rows.push_back(&data[j]);
    AutocastGuard ac(cmp.bf16, cmp.device);
    auto [s, ww] = weighted_nll_sum(m, make_batch(rows, pad, cmp.device));
    sum += s.item<double>();
    w += ww;
  }
  m->train();
  return sum / std::max(w, 1e-9);
}

}  // namespace

SftResult run_sft(const SftConfig& cfg, const SftOptions& opt) {
  check_config(cfg);
  const Compute cmp = setup_compute(cfg.compute);
  RunDir run(cfg.output_dir);
  const auto latest = check_run_dir(cfg.output_dir, opt.resume);
  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(run.path("config.yaml"), config::to_yaml(cfg));
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));

  auto lm = prepare_training_model(cfg.model, cfg.lora, latest);
  model::Llama m = lm.model;
  std::optional<text::Tokenizer> tok = lm.tokenizer;
  m->to(cmp.device);
  m->train();
  auto params = set_trainable(m);

  const int64_t max_pos = m->config().max_position_embeddings;
  auto train_data = tokenize_file(cfg.data.train_file, *tok, cfg.data, max_pos);
  std::vector<TokenExample> eval_data;
  if (!cfg.data.eval_file.empty()) eval_data = tokenize_file(cfg.data.eval_file, *tok, cfg.data, max_pos);
  const int64_t n = static_cast<int64_t>(train_data.size());
  spdlog::info("sft: {} training conversations, {} held out, {} trainable parameters", n, eval_data.size(),
               [&] { int64_t c = 0; for (auto& [k, p] : params) c += p.numel(); return c; }());

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  AdamW optim(params, ao);
  TrainerState st;
  const std::string metrics_path = run.path("metrics.jsonl");
  if (opt.resume) {
    st = load_trainer_state(*latest, optim);
    spdlog::info("sft: resumed from {} at step {}", *latest, st.step);
  }
  restart_logs({metrics_path}, st.step);
  MetricsLog metrics(metrics_path);
  const auto so = schedule_options(cfg.train, cfg.train.max_steps);

  auto order = epoch_order(n, cfg.train.seed, st.epoch);
  auto next_example = [&]() -> const TokenExample* {
    if (st.cursor >= n) {
      st.cursor = 0;
      ++st.epoch;
      order = epoch_order(n, cfg.train.seed, st.epoch);
    }
    return &train_data[order[st.cursor++]];
  };

  ProgressBar bar(cfg.train.max_steps, "sft");
  SftResult res;
  const int64_t pad = tok->pad_id();
  std::string last_dir = latest.value_or("");
  while (st.step < cfg.train.max_steps) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<const TokenExample*>> micro(cfg.train.grad_accum);
    double total_w = 0;
    for (auto& mb : micro)
      for (int64_t i = 0; i < cfg.train.batch_size; ++i) {
        mb.push_back(next_example());
        for (size_t t = 1; t < mb.back()->weights.size(); ++t) total_w += mb.back()->weights[t];
      }
    optim.zero_grad();
    double loss_val = 0;
    int64_t tokens = 0;
    for (auto& mb : micro) {
      auto batch = make_batch(mb, pad, cmp.device);
      tokens += batch.real_tokens;
      torch::Tensor loss;
      {
        AutocastGuard ac(cmp.bf16, cmp.device);
        auto [s, w] = weighted_nll_sum(m, batch);
        loss = s / total_w;  // normalised by the whole step's target weight, so accumulation is exact
      }
      loss.backward();
      loss_val += loss.item<double>();
    }
    const double gnorm = clip_grad_norm(params, cfg.train.max_grad_norm);
    stop_if_not_finite("sft", st.step + 1, loss_val, gnorm, last_dir);
    const double lr = lr_at(st.step, cfg.train.learning_rate, so);
    optim.step(lr);
    ++st.step;
    st.tokens_seen += static_cast<int64_t>(total_w);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.last_loss = loss_val;

    nlohmann::json row;
    const bool do_eval = !eval_data.empty() &&
                         ((cfg.train.eval_every > 0 && st.step % cfg.train.eval_every == 0) || st.step == cfg.train.max_steps);
    if (do_eval) {
      res.eval_nll = evaluate_nll(m, eval_data, cfg.train.batch_size, pad, cmp);
      row["eval_nll"] = *res.eval_nll;
    }
    if (do_eval || st.step % std::max<int64_t>(1, cfg.train.log_every) == 0 || st.step == 1 ||
        st.step == cfg.train.max_steps) {
      row["step"] = st.step;
      row["stage"] = "sft";
      row["loss"] = loss_val;
      row["lr"] = lr;
      row["grad_norm"] = gnorm;
      row["tokens_per_s"] = tokens / dt;
      row["epoch"] = st.epoch;
      metrics.log(row);
    }
    bar.update(st.step, "loss " + std::to_string(loss_val).substr(0, 6));
    const bool stop_now = opt.stop_after_step == st.step;
    if ((cfg.train.save_every > 0 && st.step % cfg.train.save_every == 0) || st.step == cfg.train.max_steps ||
        stop_now) {
      last_dir = save_training_checkpoint(run, m, *tok, optim, st, static_cast<int>(cfg.train.keep_checkpoints));
    }
    if (stop_now) break;
  }
  bar.finish();
  res.step = st.step;
  res.checkpoint_dir = last_dir;
  return res;
}

}  // namespace srl::train
