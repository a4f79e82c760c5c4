#include "eval/evaluate.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "core/jsonl.hpp"
#include "core/numeric.hpp"
#include "data/annotator_panel.hpp"
#include "data/generate_dataset.hpp"
#include "data/preference.hpp"
#include "data/support_world.hpp"
#include "data/ticket_set.hpp"
#include "data/request_reading.hpp"
#include "eval/evaluate_tickets.hpp"
#include "eval/evaluator.hpp"
#include "eval/guardrail.hpp"
#include "eval/handling.hpp"
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

constexpr const char* kBitextInput = "bitext:";

// The file an input names ("bitext:CSV" names the CSV).
std::string input_file(const std::string& input) {
  return input.rfind(kBitextInput, 0) == 0 ? input.substr(std::strlen(kBitextInput)) : input;
}

// FNV-1a of the input file, or of a directory's *.jsonl names and their hashes in name order.
std::string input_fingerprint(const std::string& path) {
  if (!std::filesystem::is_directory(path)) return fnv1a64_file_hex(path);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(path))
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  Hasher h;
  for (const auto& f : files) h.update(std::filesystem::path(f).filename().string()).update("=").update(fnv1a64_file_hex(f));
  return h.hex();
}

// Safe vs adversarial: a labelled ticket's risk and handling, else the data's own intent tag (the synthetic
// world marks its adversarial intents), else the request classifier (the guardrail when installed).
bool is_adversarial(const train::RlPrompt& p) {
  if (p.tags.is_object() && p.tags.contains("risk") && p.tags["risk"].is_string() && p.tags.contains("handling") &&
      p.tags["handling"].is_string())  // a labelled ticket
    return p.tags["risk"].get<std::string>() != "none" || p.tags["handling"].get<std::string>() != "answer";
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
  return data::read_intent(last_user_message(p.conversation));
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
  read_json_lines(tpath, [&](const json& j, const std::string& where) {
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


// The prompts to answer: the input file, cut to max_prompts.
// "bitext:CSV": the corpus's evaluation half as labelled tickets (data/ticket_set.hpp); a directory: its
// labelled ticket files (data/eval_ood); else a JSONL prompt file.
std::vector<train::RlPrompt> load_eval_prompts(const EvaluateConfig& cfg) {
  std::vector<train::RlPrompt> prompts;
  const bool bitext = cfg.input.rfind(kBitextInput, 0) == 0;
  if (bitext || std::filesystem::is_directory(cfg.input)) {
    const auto tickets = bitext ? data::bitext_tickets(input_file(cfg.input), data::BitextHalf::Eval)
                                : data::load_ticket_set(cfg.input);
    for (const auto& t : tickets) prompts.push_back({{{"user", t.text}}, t.id, t.to_json()["tags"]});
  } else {
    prompts = train::load_rl_prompts(cfg.input, false);
  }
  if (prompts.empty()) fail(cfg.input, "no prompts");
  if (cfg.max_prompts > 0 && static_cast<int64_t>(prompts.size()) > cfg.max_prompts) prompts.resize(cfg.max_prompts);
  return prompts;
}

// Each prompt's generation ids, cut to its last tokens where it leaves no room for max_new_tokens.
std::vector<std::vector<int64_t>> eval_prompt_ids(const model::Llama& m, const text::Tokenizer& tok,
                                                  const std::vector<train::RlPrompt>& prompts,
                                                  const EvaluateConfig& cfg) {
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
  return ids;
}

// Single-request latency: the first latency_prompts prompts answered one at a time.
struct Latency {
  std::vector<double> ms;  // per prompt, in prompt order
  int64_t tokens = 0;      // generated over all of them
};

Latency measure_latency(model::Llama& m, const text::Tokenizer& tok, const std::vector<std::vector<int64_t>>& ids,
                        const EvaluateConfig& cfg, const train::Compute& cmp) {
  model::SamplingParams sp;
  sp.temperature = cfg.sampling.temperature;
  sp.top_p = cfg.sampling.top_p;
  sp.max_new_tokens = cfg.sampling.max_new_tokens;
  sp.seed = static_cast<uint64_t>(cfg.sampling.seed);
  model::set_chat_stops(sp, tok);
  Latency lat;
  for (int64_t i = 0; i < std::min<int64_t>(cfg.latency_prompts, static_cast<int64_t>(ids.size())); ++i) {
    train::AutocastGuard ac(cmp.bf16, cmp.device);
    const auto t0 = Clock::now();
    auto g = model::generate(m, {ids[i]}, sp);
    lat.ms.push_back(ms_since(t0));
    lat.tokens += static_cast<int64_t>(g[0].tokens.size());
  }
  return lat;
}

// What the policy model is needed for; it is freed before the baseline and the reward model are loaded.
struct PolicyRun {
  std::vector<std::vector<int64_t>> ids;  // per prompt: the generation ids (the baseline answers the same)
  std::vector<Reply> replies;             // per prompt
  double gen_seconds = 0;                 // batched generation of `replies`
  Latency latency;
  std::optional<train::KlEstimate> kl;  // KL to the reference (adapters off); LoRA policies only
  int64_t vocab = 0;
};

PolicyRun run_policy(const EvaluateConfig& cfg, const std::vector<train::RlPrompt>& prompts,
                     const train::Compute& cmp) {
  auto loaded = model::load_model(cfg.policy);
  auto& m = loaded.model;
  auto& tok = loaded.tokenizer;
  m->to(cmp.device);
  m->eval();
  PolicyRun r;
  r.ids = eval_prompt_ids(m, tok, prompts, cfg);
  torch::NoGradGuard ng;
  r.replies = generate_replies(m, tok, r.ids, cfg.sampling, cfg.batch_size, cmp, &r.gen_seconds);
  r.latency = measure_latency(m, tok, r.ids, cfg, cmp);
  // KL on sampled replies: only meaningful for a LoRA policy.
  if (m->has_lora() && cfg.kl_prompts > 0) {
    const size_t kl_n = std::min<size_t>(r.ids.size(), cfg.kl_prompts);
    std::vector<std::vector<int64_t>> kl_ids(r.ids.begin(), r.ids.begin() + kl_n);
    train::AutocastGuard ac(cmp.bf16, cmp.device);
    r.kl = train::estimate_kl_to_reference(m, tok, kl_ids, cfg.sampling.max_new_tokens,
                                           static_cast<uint64_t>(cfg.sampling.seed) + 7);
  }
  r.vocab = tok.vocab_size();
  return r;
}

// The baseline's replies: an earlier evaluate output, or generated from its run; none without a baseline.
std::optional<Baseline> baseline_replies(const EvaluateConfig& cfg, const std::vector<train::RlPrompt>& prompts,
                                         const PolicyRun& policy, const std::string& key, const train::Compute& cmp) {
  if (cfg.baseline.empty()) return std::nullopt;
  if (fs::exists(cfg.baseline + "/transcripts.jsonl") && fs::exists(cfg.baseline + "/eval.json"))
    return read_baseline_eval(cfg.baseline, prompts, key);
  auto bl = model::load_model(cfg.baseline);
  bl.model->to(cmp.device);
  bl.model->eval();
  if (bl.tokenizer.vocab_size() != policy.vocab) fail(cfg.baseline, "baseline tokenizer differs from the policy's");
  double s = 0;
  auto br = generate_replies(bl.model, bl.tokenizer, policy.ids, cfg.sampling, cfg.batch_size, cmp, &s);
  Baseline b;
  b.source = cfg.baseline;
  for (auto& r : br) {
    b.replies.push_back(std::move(r.text));
    b.tokens.push_back(r.tokens);
  }
  return b;
}

// Per prompt, in prompt order. A vector is empty where its judge is off (no reward model, no panel) or
// it compares with a baseline and there is none.
struct ReplyScores {
  std::vector<double> reward, base_reward;  // the reward model's score of the policy's / baseline's reply
  std::vector<double> rm_prob;              // sigmoid(reward - base_reward)
  std::vector<double> panel_prob;           // P(policy beats baseline), both presentation orders averaged
  std::vector<double> panel_score;          // the panel's rubric score of the policy's reply
  std::vector<double> length;               // the policy's reply length in tokens
  std::vector<int> refused, unsafe;         // is_refusal, check_reply(...).unsafe()
};

void score_with_reward_model(const EvaluateConfig& cfg, const std::vector<train::RlPrompt>& prompts,
                             const std::vector<Reply>& replies, const std::optional<Baseline>& base,
                             const train::Compute& cmp, ReplyScores& s) {
  if (cfg.reward_model.empty()) return;
  auto rm = train::RewardModel::load(cfg.reward_model);
  rm.to(cmp.device);
  std::vector<train::ScoreItem> items;
  for (size_t i = 0; i < prompts.size(); ++i) items.push_back({prompts[i].conversation, replies[i].text});
  {
    train::AutocastGuard ac(cmp.bf16, cmp.device);
    s.reward = rm.score_batch(items, 16);
    if (base) {
      for (size_t i = 0; i < prompts.size(); ++i) items[i].response = base->replies[i];
      s.base_reward = rm.score_batch(items, 16);
    }
  }
  if (base)
    for (size_t i = 0; i < prompts.size(); ++i) s.rm_prob.push_back(sigmoid(s.reward[i] - s.base_reward[i]));
}

// The annotator panel of `data generate --seed panel_seed`: each reply's rubric score and, against a
// baseline, the probability the policy wins, averaged over both presentation orders.
void judge_with_panel(const EvaluateConfig& cfg, const std::vector<train::RlPrompt>& prompts,
                      const std::vector<Reply>& replies, const std::optional<Baseline>& base, ReplyScores& s) {
  if (!cfg.panel) return;
  data::GenerateOptions go;
  go.seed = static_cast<uint64_t>(cfg.panel_seed);
  const data::AnnotatorPanel panel = data::dataset_panel(go);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto expectation = panel.expectation(last_user_message(prompts[i].conversation));
    s.panel_score.push_back(rubric_reward(expectation, replies[i].text));
    if (base) {
      const double ab = panel.prob_a_beats_b(prompts[i].conversation, replies[i].text, base->replies[i]);
      const double ba = panel.prob_a_beats_b(prompts[i].conversation, base->replies[i], replies[i].text);
      s.panel_prob.push_back(0.5 * (ab + 1.0 - ba));
    }
  }
}

// Refusals count on safe prompts, unsafe compliance on adversarial ones.
struct SafetyCounts {
  int64_t safe = 0, adversarial = 0;  // prompts
  int64_t refusals = 0, unsafe = 0;   // replies: refused safe prompts, unsafe replies to adversarial ones
};

SafetyCounts check_safety(const std::vector<train::RlPrompt>& prompts, const std::vector<Reply>& replies,
                          ReplyScores& s) {
  const size_t n = prompts.size();
  SafetyCounts c;
  s.refused.resize(n);
  s.unsafe.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto user = last_user_message(prompts[i].conversation);
    const auto v = check_reply(user, replies[i].text);
    s.refused[i] = is_refusal(replies[i].text);
    s.unsafe[i] = v.unsafe();
    if (is_adversarial(prompts[i])) {
      ++c.adversarial;
      c.unsafe += s.unsafe[i];
    } else {
      ++c.safe;
      c.refusals += s.refused[i];
    }
  }
  return c;
}

// The built-in and external evaluators over every reply.
struct EvaluatorScores {
  std::map<std::string, double> means;                      // "<evaluator>/<score>" -> mean
  std::vector<std::string> failed;                          // "name: why"
  std::vector<std::map<std::string, EvalResult>> per_item;  // per prompt
};

EvaluatorScores run_evaluators(std::vector<std::unique_ptr<Evaluator>> evaluators,
                               const std::vector<train::RlPrompt>& prompts, const std::vector<Reply>& replies) {
  std::vector<EvalInput> inputs;
  for (size_t i = 0; i < prompts.size(); ++i) inputs.push_back({prompts[i].conversation, replies[i].text});
  EvaluatorSet set(std::move(evaluators));
  EvaluatorScores e;
  e.means = set.run(inputs, "", &e.per_item);
  e.failed = set.failed();
  return e;
}

// win_rate_vs_baseline and lc_win_rate of eval.json: per judge, a bootstrap interval and the
// length-controlled win rate; null without a baseline.
void add_win_rates(json& ev, const EvaluateConfig& cfg, const std::optional<Baseline>& base, const ReplyScores& s) {
  if (!base) {
    ev["win_rate_vs_baseline"] = nullptr;
    ev["lc_win_rate"] = nullptr;
    return;
  }
  const uint64_t boot_seed = static_cast<uint64_t>(cfg.sampling.seed) + 1;
  const int resamples = static_cast<int>(cfg.bootstrap_resamples);
  std::vector<double> base_len(s.length.size());
  for (size_t i = 0; i < base_len.size(); ++i) base_len[i] = static_cast<double>(base->tokens[i]);
  json wr = json::object(), lc = json::object();
  if (!s.panel_prob.empty()) {
    wr["panel"] = interval_json(bootstrap_mean(s.panel_prob, 0.95, resamples, boot_seed));
    lc["panel"] = length_controlled_win_rate(s.panel_prob, s.length, base_len).lc_win_rate;
  }
  if (!s.rm_prob.empty()) {
    wr["reward_model"] = interval_json(bootstrap_mean(s.rm_prob, 0.95, resamples, boot_seed));
    lc["reward_model"] = length_controlled_win_rate(s.rm_prob, s.length, base_len).lc_win_rate;
  }
  ev["win_rate_vs_baseline"] = wr;
  ev["lc_win_rate"] = lc;
}

// latency_ms of eval.json: p50/p95 and the single-request tokens/s; null when no prompt was timed.
json latency_json(const Latency& lat) {
  if (lat.ms.empty()) return nullptr;
  const double total_ms = std::accumulate(lat.ms.begin(), lat.ms.end(), 0.0);
  return {{"p50", percentile(lat.ms, 50)},
          {"p95", percentile(lat.ms, 95)},
          {"prompts", lat.ms.size()},
          {"tokens_per_s", total_ms > 0 ? lat.tokens / (total_ms / 1000.0) : 0.0}};
}

// The per_intent rows of eval.json: means over each intent's prompts, intents in name order.
json per_intent_json(const std::vector<train::RlPrompt>& prompts, const ReplyScores& s) {
  std::map<std::string, std::vector<size_t>> by_intent;
  for (size_t i = 0; i < prompts.size(); ++i) by_intent[intent_of(prompts[i])].push_back(i);
  json per_intent = json::array();
  for (const auto& [intent, idx] : by_intent) {
    json row = {{"intent", intent}, {"prompts", idx.size()}};
    auto avg = [&](const std::vector<double>& v) {
      if (v.empty()) return json(nullptr);
      double sum = 0;
      for (size_t i : idx) sum += v[i];
      return json(sum / idx.size());
    };
    row["win_rate_panel"] = avg(s.panel_prob);
    row["win_rate_reward_model"] = avg(s.rm_prob);
    row["mean_reward"] = avg(s.reward);
    row["mean_panel_score"] = avg(s.panel_score);
    row["mean_length"] = avg(s.length);
    per_intent.push_back(row);
  }
  return per_intent;
}

// What eval.json says besides the per-intent rows (docs/evaluate.md).
struct EvalSummaryInput {
  const EvaluateConfig& cfg;
  const std::string& input_hash;
  const std::string& key;
  const PolicyRun& policy;
  const std::optional<Baseline>& base;
  const ReplyScores& scores;
  const SafetyCounts& safety;
  const EvaluatorScores& evaluators;
};

json eval_json(const EvalSummaryInput& in) {
  const auto& cfg = in.cfg;
  const auto& s = in.scores;
  const auto& replies = in.policy.replies;
  const size_t n = replies.size();
  json ev;
  ev["format"] = "srl-eval-v1";
  ev["policy"] = cfg.policy;
  ev["baseline"] = in.base ? json(in.base->source) : json(nullptr);
  ev["input"] = cfg.input;
  ev["input_fnv1a64"] = in.input_hash;
  ev["replies_key"] = in.key;
  ev["prompts"] = n;
  ev["safe_prompts"] = in.safety.safe;
  ev["adversarial_prompts"] = in.safety.adversarial;
  ev["sampling"] = {{"temperature", cfg.sampling.temperature}, {"top_p", cfg.sampling.top_p},
                    {"max_new_tokens", cfg.sampling.max_new_tokens}, {"seed", cfg.sampling.seed}};
  add_win_rates(ev, cfg, in.base, s);
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? json(nullptr) : json(std::accumulate(v.begin(), v.end(), 0.0) / v.size());
  };
  ev["mean_reward"] = mean(s.reward);
  ev["mean_panel_score"] = mean(s.panel_score);
  const auto& sc = in.safety;
  ev["refusal_rate"] = sc.safe ? json(static_cast<double>(sc.refusals) / sc.safe) : json(nullptr);
  ev["unsafe_compliance_rate"] = sc.adversarial ? json(static_cast<double>(sc.unsafe) / sc.adversarial) : json(nullptr);
  ev["kl_to_reference"] = in.policy.kl ? json(in.policy.kl->kl) : json(nullptr);
  ev["mean_length"] = std::accumulate(s.length.begin(), s.length.end(), 0.0) / n;
  int64_t finished = 0, gen_tokens = 0;
  for (const auto& r : replies) finished += r.finished, gen_tokens += r.tokens;
  ev["finished_fraction"] = static_cast<double>(finished) / n;
  const double gen_seconds = in.policy.gen_seconds;
  ev["tokens_per_s"] = gen_seconds > 0 ? gen_tokens / gen_seconds : 0.0;
  ev["latency_ms"] = latency_json(in.policy.latency);
  ev["evaluators"] = in.evaluators.means;
  ev["evaluators_failed"] = in.evaluators.failed;
  return ev;
}

// transcripts.jsonl: one line per prompt with both replies and every score.
std::string transcripts_jsonl(const std::vector<train::RlPrompt>& prompts, const PolicyRun& policy,
                              const std::optional<Baseline>& base, const ReplyScores& s,
                              const EvaluatorScores& evaluators, const detail::GuardedReplies& guarded) {
  std::string lines;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& reply = policy.replies[i];
    json t;
    t["id"] = prompt_id(prompts[i], i);
    t["prompt"] = last_user_message(prompts[i].conversation);
    t["intent"] = intent_of(prompts[i]);
    t["adversarial"] = is_adversarial(prompts[i]);
    t["response"] = reply.text;
    t["length"] = reply.tokens;
    t["finished"] = reply.finished;
    if (base) {
      t["baseline_response"] = base->replies[i];
      t["baseline_length"] = base->tokens[i];
    }
    if (!s.reward.empty()) t["reward"] = s.reward[i];
    if (!s.panel_prob.empty()) t["panel_prob"] = s.panel_prob[i];
    if (!s.panel_score.empty()) t["panel_score"] = s.panel_score[i];
    if (!s.rm_prob.empty()) t["reward_model_prob"] = s.rm_prob[i];
    if (i < policy.latency.ms.size()) t["latency_ms"] = policy.latency.ms[i];
    t["refusal"] = static_cast<bool>(s.refused[i]);
    t["unsafe"] = static_cast<bool>(s.unsafe[i]);
    json scores = json::object();
    for (const auto& [name, r] : evaluators.per_item[i])
      if (r.ok) scores[name] = {{"scores", r.scores}, {"explanation", r.explanation}};
    t["evaluators"] = scores;
    if (!guarded.text.empty()) {
      t["guardrail_route"] = guarded.route[i];
      t["guarded_response"] = guarded.text[i];
    }
    lines += t.dump() + "\n";
  }
  return lines;
}

std::vector<std::string> texts_of(const std::vector<Reply>& replies) {
  std::vector<std::string> out;
  for (const auto& r : replies) out.push_back(r.text);
  return out;
}

// eval.json's "guardrail": the replies with flagged conversations routed (guardrail.hpp), their refusal
// and unsafe-compliance rates, the panel win rate against the baseline routed the same way, and, for
// labelled tickets, how they are handled. Per-prompt routes and routed replies go into *guarded.
json guardrail_json(const EvaluateConfig& cfg, const model::RequestClassifier& clf,
                    const std::vector<train::RlPrompt>& prompts, const PolicyRun& policy,
                    const std::optional<Baseline>& base, const std::optional<std::vector<data::LabelledTicket>>& tickets,
                    detail::GuardedReplies* guarded) {
  *guarded = detail::guard_replies(clf, prompts, texts_of(policy.replies));
  std::vector<Reply> replies = policy.replies;
  for (size_t i = 0; i < replies.size(); ++i) replies[i].text = guarded->text[i];
  std::optional<Baseline> gbase = base;
  if (gbase) gbase->replies = detail::guard_replies(clf, prompts, gbase->replies).text;
  ReplyScores gs;
  judge_with_panel(cfg, prompts, replies, gbase, gs);
  const auto sc = check_safety(prompts, replies, gs);
  json g = detail::routes_json(*guarded);
  g["classifier"] = cfg.guardrail;
  g["threshold"] = clf.calibration().threshold;
  g["refusal_rate"] = sc.safe ? json(static_cast<double>(sc.refusals) / sc.safe) : json(nullptr);
  g["unsafe_compliance_rate"] = sc.adversarial ? json(static_cast<double>(sc.unsafe) / sc.adversarial) : json(nullptr);
  g["win_rate_vs_baseline"] = nullptr;
  if (gbase && !gs.panel_prob.empty())
    g["win_rate_vs_baseline"] = {{"panel", interval_json(bootstrap_mean(gs.panel_prob, 0.95, static_cast<int>(cfg.bootstrap_resamples),
                                                                    static_cast<uint64_t>(cfg.sampling.seed) + 1))}};
  if (tickets) g["handling"] = handling_summary(*tickets, guarded->text);
  return g;
}

}  // namespace

nlohmann::json run_evaluate(const EvaluateConfig& cfg, const train::ComputeSection& compute) {
  check_evaluate_config(cfg);
  const auto cmp = train::setup_compute(compute, "compute");
  register_judge_evaluators(static_cast<uint64_t>(cfg.panel_seed));
  const auto clf = cfg.guardrail.empty() ? nullptr : load_guardrail(cfg.guardrail);
  const bool reads = clf && cfg.guardrail_reader != GuardrailReader::Off;
  data::ScopedRequestClassifier reader(
      reads ? guardrail_reader(clf, cfg.guardrail_reader == GuardrailReader::Intents) : data::RequestClassifierFn{});
  auto evaluators = make_evaluators(cfg.evaluators, cfg.external_timeout_s, "config: evaluate.evaluators");  // errors before the slow parts

  const auto prompts = load_eval_prompts(cfg);
  const std::string input_hash = input_fingerprint(input_file(cfg.input));
  const std::string key = replies_key(input_hash, cfg, prompts.size());

  const PolicyRun policy = run_policy(cfg, prompts, cmp);
  torch::NoGradGuard ng;
  const auto base = baseline_replies(cfg, prompts, policy, key, cmp);
  ReplyScores scores;
  score_with_reward_model(cfg, prompts, policy.replies, base, cmp, scores);
  judge_with_panel(cfg, prompts, policy.replies, base, scores);
  const auto evaluated = run_evaluators(std::move(evaluators), prompts, policy.replies);
  const auto safety = check_safety(prompts, policy.replies, scores);
  for (const auto& r : policy.replies) scores.length.push_back(static_cast<double>(r.tokens));

  json ev = eval_json({cfg, input_hash, key, policy, base, scores, safety, evaluated});
  ev["per_intent"] = per_intent_json(prompts, scores);
  const auto tickets = detail::labelled_tickets(prompts);
  ev["handling"] = tickets ? handling_summary(*tickets, texts_of(policy.replies)) : json(nullptr);
  detail::GuardedReplies guarded;
  ev["guardrail"] = clf ? guardrail_json(cfg, *clf, prompts, policy, base, tickets, &guarded) : json(nullptr);
  std::string transcripts = transcripts_jsonl(prompts, policy, base, scores, evaluated, guarded);
  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(cfg.output_dir + "/transcripts.jsonl", transcripts);
  fs::write_file_atomic(cfg.output_dir + "/eval.json", ev.dump(2) + "\n");
  return ev;
}

}  // namespace srl::eval
