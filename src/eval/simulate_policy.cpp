// The model side of the customer simulation: a batched Responder over model::generate, and run_simulate.
#include "eval/simulate_policy.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "eval/evaluator.hpp"
#include "eval/guardrail.hpp"
#include "eval/replies.hpp"
#include "model/generate.hpp"
#include "train/preference_tokens.hpp"

namespace srl::eval {

namespace {

// FNV-1a over the seeds' bytes: one generate seed per call that changes with any of its rows' seeds.
uint64_t call_seed(const std::vector<uint64_t>& seeds, size_t begin, size_t end) {
  Hasher h;
  for (size_t i = begin; i < end; ++i) {
    char b[8];
    for (int k = 0; k < 8; ++k) b[k] = static_cast<char>((seeds[i] >> (8 * k)) & 0xff);
    h.update(std::string_view(b, 8));
  }
  return h.value();
}

}  // namespace

void check_simulate_config(const SimulateConfig& c) {
  auto need = [](bool ok, const char* key, const char* what) {
    if (!ok) fail(std::string("simulate.") + key, what);
  };
  need(c.scenarios >= 1, "scenarios", "must be at least 1");
  need(c.trials >= 1, "trials", "must be at least 1");
  need(c.max_turns >= 1, "max_turns", "must be at least 1");
  need(c.seed >= 0, "seed", "must be >= 0");
  need(c.temperature >= 0, "temperature", "must be >= 0");
  need(c.top_p > 0 && c.top_p <= 1, "top_p", "must be in (0, 1]");
  need(c.max_new_tokens >= 1, "max_new_tokens", "must be at least 1");
  need(c.batch_size >= 1, "batch_size", "must be at least 1");
  need(!c.policy.empty(), "policy", "is required (a run or checkpoint directory)");
  need(!c.output_dir.empty(), "output_dir", "is required");
}

Responder make_model_responder(model::LoadedModel& lm, const SimulateConfig& cfg, ResponderStats* stats,
                                 const train::Compute& cmp) {
  model::SamplingParams base;
  base.temperature = cfg.temperature;
  base.top_p = cfg.top_p;
  base.max_new_tokens = cfg.max_new_tokens;
  model::set_chat_stops(base, lm.tokenizer);
  // The whole reply budget fits after the prompt: generate would otherwise shorten the reply instead.
  const int64_t ctx = lm.model->config().max_position_embeddings;
  const int64_t max_prompt = ctx - cfg.max_new_tokens;
  if (max_prompt < 2)
    fail("simulate.max_new_tokens", "leaves no room for a prompt in the model's context of " + std::to_string(ctx));
  const size_t batch = static_cast<size_t>(cfg.batch_size);
  return [&lm, base, max_prompt, batch, stats, cmp](const std::vector<std::vector<text::Message>>& conversations,
                                                    const std::vector<uint64_t>& seeds) {
    if (seeds.size() != conversations.size())
      fail_internal("simulate responder", "one seed per conversation expected");
    std::vector<std::string> replies;
    replies.reserve(conversations.size());
    for (size_t c = 0; c < conversations.size(); c += batch) {
      const size_t end = std::min(conversations.size(), c + batch);
      std::vector<std::vector<int64_t>> prompts;
      for (size_t i = c; i < end; ++i) {
        bool cut = false;
        prompts.push_back(train::generation_prompt_ids(lm.tokenizer, conversations[i], max_prompt, &cut));
        if (stats && cut) ++stats->prompts_truncated;
      }
      model::SamplingParams sp = base;
      sp.seed = call_seed(seeds, c, end);
      auto batch_replies = generate_chat_replies(lm.model, lm.tokenizer, prompts, sp, cmp);
      for (auto& r : batch_replies) {
        if (stats && !r.finished) ++stats->replies_cut;
        replies.push_back(std::move(r.text));
      }
      if (stats) {
        ++stats->calls;
        stats->generations += static_cast<int64_t>(batch_replies.size());
      }
    }
    return replies;
  };
}

// The policy's replies with the guardrail routing each conversation's last customer turn (guardrail.hpp).
// The simulated customers keep judging with their own scenario, not with the classifier.
Responder with_guardrail(std::shared_ptr<const model::RequestClassifier> clf, Responder inner) {
  return [clf, inner = std::move(inner)](const std::vector<std::vector<text::Message>>& conversations,
                                         const std::vector<uint64_t>& seeds) {
    auto replies = inner(conversations, seeds);
    for (size_t i = 0; i < replies.size(); ++i)
      replies[i] = guarded_reply(clf->predict(last_user_message(conversations[i])), replies[i]);
    return replies;
  };
}

nlohmann::json run_simulate(const SimulateConfig& cfg, const train::ComputeSection& compute) {
  check_simulate_config(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  const auto cmp = train::setup_compute(compute);
  auto lm = model::load_model(cfg.policy);
  lm.model->to(cmp.device);
  lm.model->eval();

  const auto scenarios = make_scenarios(static_cast<int>(cfg.scenarios), static_cast<uint64_t>(cfg.seed));
  SimulationOptions opt;
  opt.trials = static_cast<int>(cfg.trials);
  opt.max_turns = static_cast<int>(cfg.max_turns);
  opt.seed = static_cast<uint64_t>(cfg.seed);
  opt.system_prompt = cfg.system_prompt;
  spdlog::info("simulate: {} scenarios x {} trials, up to {} turns, policy {}", cfg.scenarios, cfg.trials,
               cfg.max_turns, lm.dir);

  ResponderStats stats;
  Responder respond = make_model_responder(lm, cfg, &stats, cmp);
  if (!cfg.guardrail.empty()) respond = with_guardrail(load_guardrail(cfg.guardrail), std::move(respond));
  const auto summary = run_simulation(scenarios, respond, opt);
  if (stats.prompts_truncated > 0)
    spdlog::warn("simulate: {} of {} prompts were longer than the context allows and kept only their newest tokens",
                 stats.prompts_truncated, stats.generations);

  const nlohmann::json j = simulation_json(summary);
  fs::make_dirs(cfg.output_dir);
  fs::write_file_atomic(cfg.output_dir + "/simulate.json", j.dump(2) + "\n");
  fs::write_file_atomic(cfg.output_dir + "/transcripts.jsonl", simulation_transcripts_jsonl(summary));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("simulate: success rate {:.3f}, pass^1 {:.3f}, {} replies ({} cut at max_new_tokens) in {:.1f} s",
               summary.success_rate, summary.pass_k.count(1) ? summary.pass_k.at(1) : 0.0, stats.generations,
               stats.replies_cut, secs);
  return j;
}

}  // namespace srl::eval
