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
#include "core/timer.hpp"
#include "model/checkpoint.hpp"
#include "text/chat_format.hpp"
#include "train/lm_loss.hpp"
#include "train/optim.hpp"
#include "train/run_contract.hpp"
#include "train/trainer_common.hpp"
#include "train/trainer_state.hpp"

namespace srl::train {

namespace {

void check_config(const SftConfig& c) {
  check_batched_train(c.train, "");
  check_lora_section(c.lora, "");
  if (c.data.max_seq_len <= 1) fail("config: data.max_seq_len", "must be at least 2");
  if (c.output_dir.empty()) fail("config: output_dir", "must not be empty");
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


// One optimizer step over grad_accum micro-batches; the loss of each is normalised by the whole step's
// target weight, so accumulation is exact.
struct SftStep {
  model::Llama& m;
  const std::vector<TokenExample>& data;
  const SftTrain& train;
  const Compute& cmp;
  int64_t pad;
  EpochCursor& cursor;
  AdamW& optim;
  const std::vector<std::pair<std::string, torch::Tensor>>& params;
  const ScheduleOptions& schedule;
  TrainingRun& run;
  SftResult& res;

  StepReport operator()() {
    const auto t0 = Clock::now();
    std::vector<std::vector<const TokenExample*>> micro(train.grad_accum);
    double total_w = 0;
    for (auto& mb : micro)
      for (int64_t i = 0; i < train.batch_size; ++i) {
        mb.push_back(&data[cursor.next().index]);
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
        loss = s / total_w;
      }
      loss.backward();
      loss_val += loss.item<double>();
    }
    auto& st = run.state();
    const double gnorm = clip_grad_norm(params, train.max_grad_norm);
    stop_if_not_finite("sft", st.step + 1, loss_val, gnorm, run.last_checkpoint());
    const double lr = lr_at(st.step, train.learning_rate, schedule);
    optim.step(lr);
    st.tokens_seen += static_cast<int64_t>(total_w);
    const double dt = seconds_since(t0);
    res.last_loss = loss_val;
    StepReport r;
    r.row[contract::metric::kLoss] = loss_val;
    r.row["lr"] = lr;
    r.row["grad_norm"] = gnorm;
    r.row["tokens_per_s"] = tokens / dt;
    r.progress = "loss " + std::to_string(loss_val).substr(0, 6);
    return r;
  }
};

}  // namespace

SftResult run_sft(const SftConfig& cfg, const SftOptions& opt) {
  check_config(cfg);
  const Compute cmp = setup_compute(cfg.compute);
  TrainingRun run(contract::stage::kSft, cfg.output_dir, cfg.train, opt);
  run.begin(config::to_yaml(cfg));

  auto lm = prepare_training_model(cfg.model, cfg.lora, run.resume_from());
  model::Llama m = lm.model;
  const text::Tokenizer& tok = lm.tokenizer;
  m->to(cmp.device);
  m->train();
  auto params = set_trainable(m);

  const int64_t max_pos = m->config().max_position_embeddings;
  auto train_data = tokenize_file(cfg.data.train_file, tok, cfg.data, max_pos);
  std::vector<TokenExample> eval_data;
  if (!cfg.data.eval_file.empty()) eval_data = tokenize_file(cfg.data.eval_file, tok, cfg.data, max_pos);
  spdlog::info("sft: {} training conversations, {} held out, {} trainable parameters", train_data.size(),
               eval_data.size(), count_parameters(params));

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  AdamW optim(params, ao);
  run.restore(optim);
  const auto so = schedule_options(cfg.train, cfg.train.max_steps);
  EpochCursor cursor(static_cast<int64_t>(train_data.size()), cfg.train.seed, run.state());
  SftResult res;
  LoopHooks hooks;
  hooks.step = SftStep{m, train_data, cfg.train, cmp, tok.pad_id(), cursor, optim, params, so, run, res};
  hooks.evaluate = [&](nlohmann::json& row, bool) {
    if (eval_data.empty()) return false;
    res.eval_nll = evaluate_nll(m, eval_data, cfg.train.batch_size, tok.pad_id(), cmp);
    row[contract::metric::kEvalNll] = *res.eval_nll;
    return true;
  };
  hooks.save = [&] { return run.save_checkpoint(m, tok, optim); };
  run.loop(hooks);
  res.step = run.state().step;
  res.checkpoint_dir = run.last_checkpoint();
  return res;
}

}  // namespace srl::train
