#include "train/dpo.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <set>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/metrics.hpp"
#include "core/progress.hpp"
#include "core/run_dir.hpp"
#include "core/timer.hpp"
#include "data/preference.hpp"
#include "model/checkpoint.hpp"
#include "model/generate.hpp"
#include "train/dpo_loss.hpp"
#include "train/optim.hpp"
#include "train/preference_tokens.hpp"
#include "train/reference_cache.hpp"
#include "train/run_contract.hpp"
#include "train/sequence_logps.hpp"
#include "train/trainer_common.hpp"
#include "train/trainer_state.hpp"

namespace srl::train {

namespace {

bool uses_reference(const DpoConfig& c) { return c.dpo.loss_type != DpoLossType::Simpo; }

DpoLossOptions loss_options(const DpoConfig& c) {
  DpoLossOptions o;
  o.loss_type = c.dpo.loss_type;
  o.beta = c.dpo.beta;
  o.label_smoothing = c.dpo.label_smoothing;
  o.simpo_gamma = c.dpo.simpo_gamma;
  o.sft_weight = c.dpo.sft_weight;
  return o;
}

// One split's pairs as the trainer uses them: ties skipped (or an error), pairs whose two responses
// became identical after truncation dropped; both counted.
struct SplitData {
  std::vector<TokenizedPair> pairs;
  int64_t ties_skipped = 0, identical_dropped = 0;
};

// 1-based line of record k (0-based): with on_invalid error the loader keeps every non-blank line.
int64_t record_line(const std::string& path, size_t k) {
  int64_t found = 0;
  size_t i = 0;
  data::for_each_line(fs::read_file(path), [&](int64_t line_no, std::string_view) {
    if (i++ == k) found = line_no;
  });
  return found;
}

SplitData load_split(const std::string& path, const text::Tokenizer& tok, const DpoData& d, const std::string& key) {
  const auto mode = d.on_invalid;
  auto raw = data::load_pairs(path, mode);
  SplitData out;
  std::vector<data::PreferencePair> decided;
  decided.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i].winner != data::Winner::Tie) {
      decided.push_back(std::move(raw[i]));
      continue;
    }
    if (d.ties == TiePolicy::Error) {
      const std::string where =
          mode == data::OnInvalid::Error ? path + ":" + std::to_string(record_line(path, i)) : path;
      fail(where, "pair" + (raw[i].id ? " '" + *raw[i].id + "'" : std::string()) +
                      " is a tie; DPO needs a winner (set data.ties: skip to skip and count ties)");
    }
    ++out.ties_skipped;
  }
  PairTokenizeOptions po;
  po.max_prompt_len = d.max_prompt_len;
  po.max_seq_len = d.max_seq_len;
  auto tokenized = tokenize_pairs(decided, tok, po, path);
  for (auto& t : tokenized) {
    if (t.response_a == t.response_b) {
      ++out.identical_dropped;
      continue;
    }
    out.pairs.push_back(std::move(t));
  }
  if (out.ties_skipped) spdlog::info("{}: {} ties skipped (data.ties: skip)", path, out.ties_skipped);
  if (out.identical_dropped)
    spdlog::warn("{}: {} pairs dropped: their responses are identical after cutting to {} tokens", path,
                 out.identical_dropped, d.max_seq_len);
  if (out.pairs.empty())
    fail(path, "no usable pair for " + key + " (" + std::to_string(out.ties_skipped) + " ties skipped, " +
                   std::to_string(out.identical_dropped) + " identical after truncation)");
  return out;
}

PairedSequences make_batch(const std::vector<TokenizedPair>& pairs, const std::vector<int64_t>& idx) {
  PairedSequences b;
  for (auto i : idx) {
    b.prompts.push_back(pairs[i].prompt);
    b.chosen.push_back(pairs[i].chosen());
    b.rejected.push_back(pairs[i].rejected());
  }
  return b;
}

int64_t batch_tokens(const PairedSequences& b) {
  int64_t n = 0;
  for (size_t i = 0; i < b.prompts.size(); ++i) n += b.prompts[i].size() + b.chosen[i].size() + b.rejected[i].size();
  return n;
}

// The loss of one micro-batch: policy log-probs with the graph (adapters on, autocast), reference log-probs
// from the cache (`cached` set) or computed now (adapters off, no grad), simpo none.
DpoLossOutput batch_loss(model::Llama& m, const PairedSequences& b, const std::vector<int64_t>& idx,
                         const ReferenceLogps* cached, bool with_reference, const DpoLossOptions& lo,
                         const Compute& cmp) {
  DpoBatchLogps lp;
  SequenceLogps pol;
  {
    AutocastGuard ac(cmp.bf16, cmp.device);
    pol = sequence_logps(m, b);
  }
  lp.policy_chosen = pol.chosen;
  lp.policy_rejected = pol.rejected;
  lp.chosen_tokens = pol.chosen_tokens;
  lp.rejected_tokens = pol.rejected_tokens;
  if (with_reference) {
    if (cached) {
      auto it = torch::tensor(idx, torch::kLong);
      lp.ref_chosen = cached->chosen.index_select(0, it).to(cmp.device);
      lp.ref_rejected = cached->rejected.index_select(0, it).to(cmp.device);
    } else {
      torch::NoGradGuard ng;
      ReferenceModeGuard ref(m);
      AutocastGuard ac(cmp.bf16, cmp.device);
      auto r = sequence_logps(m, b);
      lp.ref_chosen = r.chosen;
      lp.ref_rejected = r.rejected;
    }
  }
  auto out = dpo_loss(lp, lo);
  out.metrics["length/chosen"] = pol.chosen_tokens.mean().item<double>();
  out.metrics["length/rejected"] = pol.rejected_tokens.mean().item<double>();
  return out;
}

// Held-out metrics over the whole split (no grad, eval mode), each a mean over pairs, prefixed "eval/".
std::map<std::string, double> evaluate_pairs(model::Llama& m, const std::vector<TokenizedPair>& pairs,
                                             const ReferenceLogps* cached, bool with_reference,
                                             const DpoLossOptions& lo, int64_t batch, const Compute& cmp) {
  torch::NoGradGuard ng;
  const bool was_training = m->is_training();
  m->eval();
  std::map<std::string, double> sums;
  const int64_t N = static_cast<int64_t>(pairs.size());
  for (int64_t s = 0; s < N; s += batch) {
    std::vector<int64_t> idx;
    for (int64_t i = s; i < std::min(N, s + batch); ++i) idx.push_back(i);
    auto out = batch_loss(m, make_batch(pairs, idx), idx, cached, with_reference, lo, cmp);
    const double w = static_cast<double>(idx.size()) / static_cast<double>(N);
    sums[contract::metric::kEvalLoss] += out.loss.item<double>() * w;
    for (auto& [k, v] : out.metrics) sums[contract::metric::kEvalPrefix + k] += v * w;
  }
  m->train(was_training);
  for (auto& [k, v] : sums)
    if (!std::isfinite(v)) fail_internal("dpo evaluation", "non-finite " + k + " on the held-out pairs");
  return sums;
}

// Distinct prompts in file order, at most n.
std::vector<std::vector<int64_t>> kl_prompts(const std::vector<TokenizedPair>& pairs, int64_t n) {
  std::vector<std::vector<int64_t>> out;
  std::set<std::vector<int64_t>> seen;
  for (const auto& p : pairs) {
    if (static_cast<int64_t>(out.size()) >= n) break;
    if (seen.insert(p.prompt).second) out.push_back(p.prompt);
  }
  return out;
}

}  // namespace

void check_dpo_config(const DpoConfig& c) {
  auto need = [](bool ok, const std::string& key, const std::string& what) {
    if (!ok) fail("config: " + key, what);
  };
  need(!c.output_dir.empty(), "output_dir", "must not be empty");
  need(!c.model.init.empty(), "model.init", "DPO starts from an SFT run: set the run or checkpoint directory");
  need(!c.data.train_file.empty(), "data.train_file", "must not be empty");
  need(c.data.max_prompt_len >= 2, "data.max_prompt_len", "must be at least 2");
  need(c.data.max_seq_len > c.data.max_prompt_len, "data.max_seq_len", "must be larger than data.max_prompt_len");
  check_dpo_options(loss_options(c), "config: dpo");
  need(!(c.dpo.loss_type == DpoLossType::Simpo && c.dpo.reference_cache), "dpo.reference_cache",
       "simpo is reference-free, so there is nothing to cache: set dpo.reference_cache: false");
  check_lora_section(c.lora, "");
  need(c.lora.lora_rank > 0 || !uses_reference(c), "lora.lora_rank",
       std::string("loss_type ") + config::name_of(kDpoLossNames, c.dpo.loss_type) +
           " needs the reference model, which is the policy with its LoRA adapters off: set lora_rank > 0 "
           "(only simpo trains without a reference)");
  check_batched_train(c.train, "");
  need(c.train.kl_samples >= 0, "train.kl_samples", "must be >= 0");
  need(c.train.kl_samples == 0 || c.train.max_new_tokens > 0, "train.max_new_tokens",
       "must be positive when train.kl_samples > 0");
}

KlEstimate estimate_kl_to_reference(model::Llama& m, const text::Tokenizer& tok,
                                    const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
                                    uint64_t seed) {
  KlEstimate e;
  if (prompts.empty()) return e;
  const bool was_training = m->is_training();
  m->eval();
  model::SamplingParams sp;
  sp.temperature = 1.0;
  sp.max_new_tokens = max_new_tokens;
  sp.seed = seed;
  model::set_chat_stops(sp, tok);
  auto gens = model::generate(m, prompts, sp);  // adapters as they are: the policy
  m->train(was_training);

  // The same tokens under the reference. sequence_logps scores pairs; each reply stands in as both.
  torch::NoGradGuard ng;
  ReferenceModeGuard ref(m);
  constexpr size_t kBatch = 16;
  double kl_sum = 0, len_sum = 0;
  for (size_t s = 0; s < prompts.size(); s += kBatch) {
    PairedSequences b;
    for (size_t i = s; i < std::min(prompts.size(), s + kBatch); ++i) {
      b.prompts.push_back(prompts[i]);
      b.chosen.push_back(gens[i].tokens);
      b.rejected.push_back(gens[i].tokens);
    }
    auto lp = sequence_logps(m, b).chosen.to(torch::kCPU, torch::kDouble);
    for (size_t i = s; i < s + b.prompts.size(); ++i) {
      double pol = 0;
      for (float x : gens[i].logprobs) pol += x;
      kl_sum += pol - lp[static_cast<int64_t>(i - s)].item<double>();
      len_sum += static_cast<double>(gens[i].tokens.size());
    }
  }
  e.samples = static_cast<int64_t>(prompts.size());
  e.kl = kl_sum / static_cast<double>(e.samples);
  e.response_length = len_sum / static_cast<double>(e.samples);
  if (!std::isfinite(e.kl)) fail_internal("dpo KL estimate", "non-finite log-probs (NaN in the model?)");
  return e;
}

namespace {

// The reference log-probs of both splits: cached on disk, computed per batch (reference_cache: false;
// both pointers null, with_reference true), or none (simpo).
struct References {
  bool with_reference = false;
  std::optional<ReferenceLogps> train, eval;
  const ReferenceLogps* train_cached() const { return train ? &*train : nullptr; }
  const ReferenceLogps* eval_cached() const { return eval ? &*eval : nullptr; }
};

References prepare_references(model::Llama& m, const text::Tokenizer& tok, const DpoConfig& cfg, const RunDir& run,
                              const SplitData& train, const std::optional<SplitData>& held, const Compute& cmp,
                              DpoResult& res) {
  References r;
  r.with_reference = uses_reference(cfg);
  if (!r.with_reference || !cfg.dpo.reference_cache) return r;
  const std::string dir =
      cfg.dpo.reference_cache_dir.empty() ? run.path("reference_logps") : cfg.dpo.reference_cache_dir;
  auto t = load_or_compute_reference_logps(m, tok, train.pairs, dir, "train", cmp, cfg.train.batch_size);
  r.train = t.logps;
  res.train_reference_cache_hit = t.hit;
  if (held) {
    auto e = load_or_compute_reference_logps(m, tok, held->pairs, dir, "eval", cmp, cfg.train.batch_size);
    r.eval = e.logps;
    res.eval_reference_cache_hit = e.hit;
  }
  return r;
}

// One optimizer step over grad_accum micro-batches of pairs.
struct DpoStep {
  model::Llama& m;
  const SplitData& train;
  const DpoConfig& cfg;
  const References& refs;
  const DpoLossOptions& lo;
  const Compute& cmp;
  EpochCursor& cursor;
  AdamW& optim;
  const std::vector<std::pair<std::string, torch::Tensor>>& params;
  const ScheduleOptions& schedule;
  TrainingRun& run;
  DpoResult& res;

  StepReport operator()() {
    const auto t0 = Clock::now();
    const auto& t = cfg.train;
    std::vector<std::vector<int64_t>> micro(t.grad_accum);
    for (auto& mb : micro)
      for (int64_t i = 0; i < t.batch_size; ++i) mb.push_back(cursor.next().index);
    optim.zero_grad();
    std::map<std::string, double> metrics;
    double loss_val = 0;
    int64_t tokens = 0, response_tokens = 0;
    const double step_pairs = static_cast<double>(t.batch_size * t.grad_accum);
    for (auto& mb : micro) {
      auto batch = make_batch(train.pairs, mb);
      tokens += batch_tokens(batch);
      for (size_t i = 0; i < mb.size(); ++i) response_tokens += batch.chosen[i].size() + batch.rejected[i].size();
      auto out = batch_loss(m, batch, mb, refs.train_cached(), refs.with_reference, lo, cmp);
      // Each micro-batch's loss is a mean over its pairs; weighting by its share of the step's pairs makes
      // the accumulated gradient that of the whole step's mean.
      const double w = static_cast<double>(mb.size()) / step_pairs;
      auto loss = out.loss * w;
      loss.backward();
      loss_val += loss.item<double>();
      for (auto& [k, v] : out.metrics) metrics[k] += v * w;
    }
    auto& st = run.state();
    const double gnorm = clip_grad_norm(params, t.max_grad_norm);
    stop_if_not_finite("dpo", st.step + 1, loss_val, gnorm, run.last_checkpoint());
    const double lr = lr_at(st.step, t.learning_rate, schedule);
    optim.step(lr);
    st.tokens_seen += response_tokens;
    const double dt = seconds_since(t0);
    res.last_loss = loss_val;
    StepReport r;
    if (st.step == 0) {
      r.row["data/train_pairs"] = res.train_pairs;
      r.row["data/train_ties_skipped"] = res.train_ties_skipped;
      r.row["data/eval_pairs"] = res.eval_pairs;
      r.row["data/eval_ties_skipped"] = res.eval_ties_skipped;
    }
    r.row[contract::metric::kLoss] = loss_val;
    for (auto& [k, v] : metrics) r.row[k] = v;
    r.row["lr"] = lr;
    r.row["grad_norm"] = gnorm;
    r.row["tokens_per_s"] = static_cast<double>(tokens) / dt;
    char suffix[96];
    std::snprintf(suffix, sizeof suffix, "loss %.4f acc %.2f", loss_val, metrics[contract::metric::kRewardsAccuracies]);
    r.progress = suffix;
    return r;
  }
};

// eval.json of a finished run: the last held-out metrics and KL estimate.
void write_eval_json(const RunDir& run, const DpoConfig& cfg, const DpoResult& res, int64_t step, int64_t kl_prompts,
                     const std::string& checkpoint) {
  auto opt_num = [](const std::optional<double>& x) { return x ? nlohmann::json(*x) : nlohmann::json(); };
  nlohmann::json j = {{"stage", contract::stage::kDpo},
                      {"step", step},
                      {"loss_type", config::name_of(kDpoLossNames, cfg.dpo.loss_type)},
                      {"beta", cfg.dpo.beta},
                      {"eval_file", cfg.data.eval_file},
                      {"eval_pairs", res.eval_pairs},
                      {"train_pairs", res.train_pairs},
                      {"ties_skipped", {{"train", res.train_ties_skipped}, {"eval", res.eval_ties_skipped}}},
                      {"metrics", res.eval},
                      {"kl_samples", kl_prompts},
                      {"kl_to_reference", opt_num(res.kl_to_reference)},
                      {"kl_response_length", opt_num(res.kl_response_length)},
                      {"checkpoint", checkpoint}};
  fs::write_file_atomic(run.path(contract::kEvalFile), j.dump(2) + "\n");
}

}  // namespace

DpoResult run_dpo(const DpoConfig& cfg, const DpoOptions& opt) {
  check_dpo_config(cfg);
  const Compute cmp = setup_compute(cfg.compute);
  TrainingRun run(contract::stage::kDpo, cfg.output_dir, cfg.train, opt);
  // A resumed run carries its reference (the base weights) in its checkpoint; a new one needs the SFT run.
  if (!run.resume_from() && !fs::exists(cfg.model.init))
    fail(cfg.model.init, "SFT checkpoint not found (model.init); DPO starts from an SFT run: train one with "
                         "`supportrl sft` or point model.init at a run or checkpoint directory");
  run.begin(config::to_yaml(cfg));

  auto lm = prepare_training_model(cfg.model, cfg.lora, run.resume_from());
  model::Llama m = lm.model;
  const text::Tokenizer tok = lm.tokenizer;
  if (uses_reference(cfg) && !m->has_lora())
    fail_internal("dpo", "the model has no LoRA adapters, so it has no reference");
  m->to(cmp.device);
  m->train();
  auto params = set_trainable(m);

  const int64_t max_pos = m->config().max_position_embeddings;
  if (cfg.data.max_seq_len > max_pos)
    fail("config: data.max_seq_len", std::to_string(cfg.data.max_seq_len) + " exceeds the model's context of " +
                                         std::to_string(max_pos) + " tokens");
  const auto train = load_split(cfg.data.train_file, tok, cfg.data, "data.train_file");
  std::optional<SplitData> held;
  if (!cfg.data.eval_file.empty()) held = load_split(cfg.data.eval_file, tok, cfg.data, "data.eval_file");
  DpoResult res;
  res.train_pairs = static_cast<int64_t>(train.pairs.size());
  res.train_ties_skipped = train.ties_skipped;
  res.eval_pairs = held ? static_cast<int64_t>(held->pairs.size()) : 0;
  res.eval_ties_skipped = held ? held->ties_skipped : 0;
  spdlog::info("dpo: {} training pairs ({} ties skipped), {} held out ({} ties skipped), loss {}, {} trainable parameters",
               res.train_pairs, train.ties_skipped, res.eval_pairs, res.eval_ties_skipped,
               config::name_of(kDpoLossNames, cfg.dpo.loss_type), count_parameters(params));

  const References refs = prepare_references(m, tok, cfg, run.dir(), train, held, cmp, res);
  const auto lo = loss_options(cfg);
  const auto kl_set = held ? kl_prompts(held->pairs, cfg.train.kl_samples) : std::vector<std::vector<int64_t>>{};

  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  AdamW optim(params, ao);
  run.restore(optim);
  const auto so = schedule_options(cfg.train, cfg.train.max_steps);
  EpochCursor cursor(res.train_pairs, cfg.train.seed, run.state());

  bool final_eval = false;
  LoopHooks hooks;
  hooks.step = DpoStep{m, train, cfg, refs, lo, cmp, cursor, optim, params, so, run, res};
  hooks.evaluate = [&](nlohmann::json& row, bool last) {
    if (!held) return false;
    res.eval = evaluate_pairs(m, held->pairs, refs.eval_cached(), refs.with_reference, lo, cfg.train.batch_size, cmp);
    for (auto& [k, v] : res.eval) row[k] = v;
    if (!kl_set.empty()) {
      auto kl = estimate_kl_to_reference(m, tok, kl_set, cfg.train.max_new_tokens, static_cast<uint64_t>(cfg.train.seed));
      res.kl_to_reference = kl.kl;
      res.kl_response_length = kl.response_length;
      row["kl_to_reference"] = kl.kl;
      row["kl_response_length"] = kl.response_length;
    }
    final_eval = final_eval || last;
    return true;
  };
  hooks.save = [&] { return run.save_checkpoint(m, tok, optim); };
  run.loop(hooks);

  res.step = run.state().step;
  res.checkpoint_dir = run.last_checkpoint();
  if (res.step == cfg.train.max_steps && (final_eval || !held))
    write_eval_json(run.dir(), cfg, res, res.step, static_cast<int64_t>(kl_set.size()), res.checkpoint_dir);
  return res;
}

}  // namespace srl::train
