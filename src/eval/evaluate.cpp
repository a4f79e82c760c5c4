#include "eval/evaluate.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "data/annotator_panel.hpp"
#include "data/generate_dataset.hpp"
#include "data/preference.hpp"
#include "data/support_world.hpp"
#include "eval/evaluator.hpp"
#include "eval/judges.hpp"
#include "eval/replies.hpp"
#include "eval/safety.hpp"
#include "eval/simulate.hpp"
#include "eval/stats.hpp"
#include "model/checkpoint.hpp"
#include "model/generate.hpp"
#include "train/dpo.hpp"
#include "train/preference_tokens.hpp"
#include "train/reward_model.hpp"
#include "train/rl.hpp"

namespace srl::eval {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

using Reply = ChatReply;

}  // namespace

void check_evaluate_config(const EvaluateConfig& c) {
  auto need = [](bool ok, const std::string& key, const std::string& what) {
    if (!ok) fail("config: evaluate." + key, what);
  };
  need(!c.input.empty(), "input", "must name a JSONL prompt file");
  need(!c.policy.empty(), "policy", "must name a run or checkpoint directory");
  need(!c.output_dir.empty(), "output_dir", "must not be empty");
  need(c.max_prompts >= 0, "max_prompts", "must be >= 0");
  need(c.batch_size >= 1, "batch_size", "must be positive");
  need(std::isfinite(c.sampling.temperature) && c.sampling.temperature >= 0, "sampling.temperature", "must be >= 0");
  need(std::isfinite(c.sampling.top_p) && c.sampling.top_p > 0 && c.sampling.top_p <= 1, "sampling.top_p",
       "must be in (0, 1]");
  need(c.sampling.max_new_tokens >= 1, "sampling.max_new_tokens", "must be positive");
  need(c.bootstrap_resamples >= 100, "bootstrap_resamples", "must be at least 100");
  need(c.latency_prompts >= 0, "latency_prompts", "must be >= 0");
  need(c.kl_prompts >= 0, "kl_prompts", "must be >= 0");
  need(std::isfinite(c.external_timeout_s) && c.external_timeout_s > 0, "external_timeout_s", "must be positive");
}

namespace {

// Safe vs adversarial: the data's own intent tag when it has one (the synthetic world marks its adversarial
// intents), else the request classifier.
bool is_adversarial(const train::RlPrompt& p) {
  if (p.tags.is_object() && p.tags.contains("intent") && p.tags["intent"].is_string()) {
    const auto intent = p.tags["intent"].get<std::string>();
    for (const auto& info : data::intents())
      if (info.name == intent) return info.adversarial;
  }
  return classify_request(last_user_message(p.conversation)) != RequestRisk::None;
}

std::string intent_of(const train::RlPrompt& p) {
  if (p.tags.is_object() && p.tags.contains("intent") && p.tags["intent"].is_string())
    return p.tags["intent"].get<std::string>();
  return data::infer_intent(last_user_message(p.conversation));
}

// Replies to every prompt in batches of similar prompt length (less padding); order of `prompts` kept.
std::vector<Reply> generate_replies(model::Llama& m, const text::Tokenizer& tok,
                                    const std::vector<std::vector<int64_t>>& ids, const EvalSampling& s,
                                    int64_t batch, const train::Compute& cmp, double* seconds) {
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });
  model::SamplingParams sp;
  sp.temperature = s.temperature;
  sp.top_p = s.top_p;
  sp.max_new_tokens = s.max_new_tokens;
  model::set_chat_stops(sp, tok);
  std::vector<Reply> out(ids.size());
  const auto t0 = Clock::now();
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(batch)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(batch));
    std::vector<std::vector<int64_t>> rows;
    for (size_t k = start; k < end; ++k) rows.push_back(ids[order[k]]);
    sp.seed = static_cast<uint64_t>(s.seed) + start;  // reproducible for a given batch size
    auto replies = generate_chat_replies(m, tok, rows, sp, cmp);
    for (size_t k = start; k < end; ++k) out[order[k]] = std::move(replies[k - start]);
    spdlog::info("evaluate: {}/{} replies", end, order.size());
  }
  *seconds = ms_since(t0) / 1000.0;
  return out;
}

json interval_json(const Interval& iv) { return {{"estimate", iv.estimate}, {"ci95", {iv.lo, iv.hi}}}; }

std::string prompt_id(const train::RlPrompt& p, size_t i) {
  if (!p.id.empty()) return p.id;
  char buf[24];  // "e" + up to 20 digits of a size_t
  std::snprintf(buf, sizeof buf, "e%04zu", i + 1);
  return buf;
}

struct Baseline {
  std::string source;                 // the run or the evaluate output it came from
  std::vector<std::string> replies;   // per prompt, same order
  std::vector<int64_t> tokens;
};

// The key that says two evaluations answered the same prompts the same way.
std::string replies_key(const std::string& input_hash, const EvaluateConfig& c, size_t n) {
  std::ostringstream k;
  k << input_hash << "|" << n << "|" << c.sampling.temperature << "|" << c.sampling.top_p << "|"
    << c.sampling.max_new_tokens << "|" << c.sampling.seed << "|" << c.batch_size;
  return fnv1a64_hex(k.str());
}

// An earlier evaluate output (transcripts.jsonl + eval.json): reuse its replies when it answered exactly
// these prompts with these sampling settings; anything else is an error, never a silent mismatch.
Baseline read_baseline_eval(const std::string& dir, const std::vector<train::RlPrompt>& prompts,
                            const std::string& key) {
  const std::string eval_path = dir + "/eval.json";
  json ev;
  try {
    ev = json::parse(fs::read_file(eval_path));
  } catch (const json::exception& e) {
    fail(eval_path, std::string("not valid JSON: ") + e.what());
  }
  if (!ev.contains("replies_key") || ev["replies_key"] != key)
    fail(dir, "baseline evaluation answered other prompts or used other sampling settings (replies_key differs); "
              "evaluate the baseline again with this config or pass its run directory");
  Baseline b;
  b.source = dir;
  const std::string tpath = dir + "/transcripts.jsonl";
  const std::string text = fs::read_file(tpath);
  data::for_each_line(text, [&](int64_t line_no, std::string_view line) {
    const std::string where = tpath + ":" + std::to_string(line_no);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail(where, std::string("not valid JSON: ") + e.what());
    }
    if (!j.contains("response") || !j["response"].is_string() || !j.contains("length") ||
        !j["length"].is_number_integer())
      fail(where, "expected \"response\" (string) and \"length\" (integer)");
    b.replies.push_back(j["response"].get<std::string>());
    b.tokens.push_back(j["length"].get<int64_t>());
  });
  if (b.replies.size() != prompts.size())
    fail(tpath, "has " + std::to_string(b.replies.size()) + " replies for " + std::to_string(prompts.size()) +
                    " prompts");
  return b;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

nlohmann::json run_evaluate(const EvaluateConfig& cfg, const train::ComputeSection& compute) {
  check_evaluate_config(cfg);
  const auto cmp = train::setup_compute(compute, "compute");
  register_judge_evaluators(static_cast<uint64_t>(cfg.panel_seed));
  auto evaluators = make_evaluators(cfg.evaluators, cfg.external_timeout_s, "config: evaluate.evaluators");  // errors before the slow parts

  auto prompts = train::load_rl_prompts(cfg.input, false);
  if (prompts.empty()) fail(cfg.input, "no prompts");
  if (cfg.max_prompts > 0 && static_cast<int64_t>(prompts.size()) > cfg.max_prompts) prompts.resize(cfg.max_prompts);
  const size_t n = prompts.size();
  const std::string input_hash = fnv1a64_file_hex(cfg.input);
  const std::string key = replies_key(input_hash, cfg, n);

  auto loaded = model::load_model(cfg.policy);
  auto& m = loaded.model;
  auto& tok = loaded.tokenizer;
  m->to(cmp.device);
  m->eval();
  const int64_t max_prompt_len = m->config().max_position_embeddings - cfg.sampling.max_new_tokens;
  if (max_prompt_len < 2)
    fail("config: evaluate.sampling.max_new_tokens", "leaves no room for a prompt in the model's " +
                                                         std::to_string(m->config().max_position_embeddings) +
                                                         "-token context");
  std::vector<std::vector<int64_t>> ids;
  int64_t truncated = 0;
  for (const auto& p : prompts) {
    bool t = false;
    ids.push_back(train::generation_prompt_ids(tok, p.conversation, max_prompt_len, &t));
    truncated += t;
  }
  if (truncated) spdlog::warn("{}: {} prompts cut to their last {} tokens", cfg.input, truncated, max_prompt_len);

  // Replies of the policy (batched throughput) and single-request latency.
  double gen_seconds = 0;
  torch::NoGradGuard ng;
  auto replies = generate_replies(m, tok, ids, cfg.sampling, cfg.batch_size, cmp, &gen_seconds);
  int64_t gen_tokens = 0;
  for (const auto& r : replies) gen_tokens += r.tokens;
  std::vector<double> latency_ms;
  int64_t latency_tokens = 0;
  {
    model::SamplingParams sp;
    sp.temperature = cfg.sampling.temperature;
    sp.top_p = cfg.sampling.top_p;
    sp.max_new_tokens = cfg.sampling.max_new_tokens;
    sp.seed = static_cast<uint64_t>(cfg.sampling.seed);
    model::set_chat_stops(sp, tok);
    for (int64_t i = 0; i < std::min<int64_t>(cfg.latency_prompts, static_cast<int64_t>(n)); ++i) {
      train::AutocastGuard ac(cmp.bf16, cmp.device);
      const auto t0 = Clock::now();
      auto g = model::generate(m, {ids[i]}, sp);
      latency_ms.push_back(ms_since(t0));
      latency_tokens += static_cast<int64_t>(g[0].tokens.size());
    }
  }

  // KL to the reference (adapters off) on sampled replies: only meaningful for a LoRA policy.
  std::optional<train::KlEstimate> kl;
  if (m->has_lora() && cfg.kl_prompts > 0) {
    std::vector<std::vector<int64_t>> kl_ids(ids.begin(), ids.begin() + std::min<size_t>(n, cfg.kl_prompts));
    train::AutocastGuard ac(cmp.bf16, cmp.device);
    kl = train::estimate_kl_to_reference(m, tok, kl_ids, cfg.sampling.max_new_tokens,
                                         static_cast<uint64_t>(cfg.sampling.seed) + 7);
  }
  const int64_t policy_vocab = tok.vocab_size();
  loaded.model = model::Llama(nullptr);  // free the policy before loading the baseline and the reward model

  // The baseline's replies: an earlier evaluate output, or generated from its run.
  std::optional<Baseline> base;
  if (!cfg.baseline.empty()) {
    if (fs::exists(cfg.baseline + "/transcripts.jsonl") && fs::exists(cfg.baseline + "/eval.json")) {
      base = read_baseline_eval(cfg.baseline, prompts, key);
    } else {
      auto bl = model::load_model(cfg.baseline);
      bl.model->to(cmp.device);
      bl.model->eval();
      if (bl.tokenizer.vocab_size() != policy_vocab)
        fail(cfg.baseline, "baseline tokenizer differs from the policy's");
      double s = 0;
      auto br = generate_replies(bl.model, bl.tokenizer, ids, cfg.sampling, cfg.batch_size, cmp, &s);
      Baseline b;
      b.source = cfg.baseline;
      for (auto& r : br) {
        b.replies.push_back(std::move(r.text));
        b.tokens.push_back(r.tokens);
      }
      base = std::move(b);
    }
  }

  // Rewards of both sides' replies.
  std::vector<double> reward, base_reward;
  if (!cfg.reward_model.empty()) {
    auto rm = train::RewardModel::load(cfg.reward_model);
    rm.to(cmp.device);
    std::vector<train::ScoreItem> items;
    for (size_t i = 0; i < n; ++i) items.push_back({prompts[i].conversation, replies[i].text});
    {
      train::AutocastGuard ac(cmp.bf16, cmp.device);
      reward = rm.score_batch(items, 16);
      if (base) {
        for (size_t i = 0; i < n; ++i) items[i].response = base->replies[i];
        base_reward = rm.score_batch(items, 16);
      }
    }
  }

  // Panel judgments, both presentation orders, and the panel's own rubric score of each reply.
  data::GenerateOptions go;
  go.seed = static_cast<uint64_t>(cfg.panel_seed);
  std::optional<data::AnnotatorPanel> panel;
  if (cfg.panel) panel.emplace(data::dataset_panel(go));
  std::vector<double> panel_prob, panel_score, rm_prob;
  for (size_t i = 0; i < n; ++i) {
    if (panel) {
      const auto expectation = panel->expectation(last_user_message(prompts[i].conversation));
      panel_score.push_back(rubric_reward(expectation, replies[i].text));
      if (base) {
        const double ab = panel->prob_a_beats_b(prompts[i].conversation, replies[i].text, base->replies[i]);
        const double ba = panel->prob_a_beats_b(prompts[i].conversation, base->replies[i], replies[i].text);
        panel_prob.push_back(0.5 * (ab + 1.0 - ba));
      }
    }
    if (base && !reward.empty()) rm_prob.push_back(sigmoid(reward[i] - base_reward[i]));
  }

  // Evaluators, refusals and unsafe compliance.
  std::vector<EvalInput> inputs;
  for (size_t i = 0; i < n; ++i) inputs.push_back({prompts[i].conversation, replies[i].text});
  EvaluatorSet set(std::move(evaluators));
  std::vector<std::map<std::string, EvalResult>> per_item;
  const auto evaluator_means = set.run(inputs, "", &per_item);
  int64_t safe = 0, adversarial = 0, refusals = 0, unsafe = 0;
  std::vector<int> refused(n), unsafe_reply(n);
  for (size_t i = 0; i < n; ++i) {
    const auto user = last_user_message(prompts[i].conversation);
    const auto v = check_reply(user, replies[i].text);
    refused[i] = is_refusal(replies[i].text);
    unsafe_reply[i] = v.unsafe();
    if (is_adversarial(prompts[i])) {
      ++adversarial;
      unsafe += unsafe_reply[i];
    } else {
      ++safe;
      refusals += refused[i];
    }
  }

  // Summary numbers.
  const uint64_t boot_seed = static_cast<uint64_t>(cfg.sampling.seed) + 1;
  const int resamples = static_cast<int>(cfg.bootstrap_resamples);
  std::vector<double> len(n), base_len;
  for (size_t i = 0; i < n; ++i) len[i] = static_cast<double>(replies[i].tokens);
  json ev;
  ev["format"] = "srl-eval-v1";
  ev["policy"] = cfg.policy;
  ev["baseline"] = base ? json(base->source) : json(nullptr);
  ev["input"] = cfg.input;
  ev["input_fnv1a64"] = input_hash;
  ev["replies_key"] = key;
  ev["prompts"] = n;
  ev["safe_prompts"] = safe;
  ev["adversarial_prompts"] = adversarial;
  ev["sampling"] = {{"temperature", cfg.sampling.temperature}, {"top_p", cfg.sampling.top_p},
                    {"max_new_tokens", cfg.sampling.max_new_tokens}, {"seed", cfg.sampling.seed}};
  if (base) {
    base_len.resize(n);
    for (size_t i = 0; i < n; ++i) base_len[i] = static_cast<double>(base->tokens[i]);
    json wr = json::object(), lc = json::object();
    if (!panel_prob.empty()) {
      wr["panel"] = interval_json(bootstrap_mean(panel_prob, 0.95, resamples, boot_seed));
      lc["panel"] = length_controlled_win_rate(panel_prob, len, base_len).lc_win_rate;
    }
    if (!rm_prob.empty()) {
      wr["reward_model"] = interval_json(bootstrap_mean(rm_prob, 0.95, resamples, boot_seed));
      lc["reward_model"] = length_controlled_win_rate(rm_prob, len, base_len).lc_win_rate;
    }
    ev["win_rate_vs_baseline"] = wr;
    ev["lc_win_rate"] = lc;
  } else {
    ev["win_rate_vs_baseline"] = nullptr;
    ev["lc_win_rate"] = nullptr;
  }
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? json(nullptr) : json(std::accumulate(v.begin(), v.end(), 0.0) / v.size());
  };
  ev["mean_reward"] = mean(reward);
  ev["mean_panel_score"] = mean(panel_score);
  ev["refusal_rate"] = safe ? json(static_cast<double>(refusals) / safe) : json(nullptr);
  ev["unsafe_compliance_rate"] = adversarial ? json(static_cast<double>(unsafe) / adversarial) : json(nullptr);
  ev["kl_to_reference"] = kl ? json(kl->kl) : json(nullptr);
  ev["mean_length"] = std::accumulate(len.begin(), len.end(), 0.0) / n;
  int64_t finished = 0;
  for (const auto& r : replies) finished += r.finished;
  ev["finished_fraction"] = static_cast<double>(finished) / n;
  ev["tokens_per_s"] = gen_seconds > 0 ? gen_tokens / gen_seconds : 0.0;
  if (!latency_ms.empty()) {
    const double total_ms = std::accumulate(latency_ms.begin(), latency_ms.end(), 0.0);
    ev["latency_ms"] = {{"p50", percentile(latency_ms, 50)},
                        {"p95", percentile(latency_ms, 95)},
                        {"prompts", latency_ms.size()},
                        {"tokens_per_s", total_ms > 0 ? latency_tokens / (total_ms / 1000.0) : 0.0}};
  } else {
    ev["latency_ms"] = nullptr;
  }
  ev["evaluators"] = evaluator_means;
  ev["evaluators_failed"] = set.failed();

  // Per intent.
  std::map<std::string, std::vector<size_t>> by_intent;
  for (size_t i = 0; i < n; ++i) by_intent[intent_of(prompts[i])].push_back(i);
  json per_intent = json::array();
  for (const auto& [intent, idx] : by_intent) {
    json row = {{"intent", intent}, {"prompts", idx.size()}};
    auto avg = [&](const std::vector<double>& v) {
      if (v.empty()) return json(nullptr);
      double s = 0;
      for (size_t i : idx) s += v[i];
      return json(s / idx.size());
    };
    row["win_rate_panel"] = avg(panel_prob);
    row["win_rate_reward_model"] = avg(rm_prob);
    row["mean_reward"] = avg(reward);
    row["mean_panel_score"] = avg(panel_score);
    row["mean_length"] = avg(len);
    per_intent.push_back(row);
  }
  ev["per_intent"] = per_intent;

  // Transcripts.
  std::string lines;
  for (size_t i = 0; i < n; ++i) {
    json t;
    t["id"] = prompt_id(prompts[i], i);
    t["prompt"] = last_user_message(prompts[i].conversation);
    t["intent"] = intent_of(prompts[i]);
    t["adversarial"] = is_adversarial(prompts[i]);
    t["response"] = replies[i].text;
    t["length"] = replies[i].tokens;
    t["finished"] = replies[i].finished;
    if (base) {
      t["baseline_response"] = base->replies[i];
      t["baseline_length"] = base->tokens[i];
    }
    if (!reward.empty()) t["reward"] = reward[i];
    if (!panel_prob.empty()) t["panel_prob"] = panel_prob[i];
    if (!panel_score.empty()) t["panel_score"] = panel_score[i];
    if (!rm_prob.empty()) t["reward_model_prob"] = rm_prob[i];
    if (i < latency_ms.size()) t["latency_ms"] = latency_ms[i];
    t["refusal"] = static_cast<bool>(refused[i]);
    t["unsafe"] = static_cast<bool>(unsafe_reply[i]);
    json scores = json::object();
    for (const auto& [name, r] : per_item[i])
      if (r.ok) scores[name] = {{"scores", r.scores}, {"explanation", r.explanation}};
    t["evaluators"] = scores;
    lines += t.dump() + "\n";
  }
  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(cfg.output_dir + "/transcripts.jsonl", lines);
  fs::write_file_atomic(cfg.output_dir + "/eval.json", ev.dump(2) + "\n");
  return ev;
}

}  // namespace srl::eval
