// The pipeline's units: each stage's config resolved (base file + the pipeline's keys + the stage's `set`),
// checked, and turned into a Unit with its output directory, the paths it reads and its work.

#include <algorithm>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "data/generate_dataset.hpp"
#include "eval/evaluate.hpp"
#include "eval/guardrail_metrics.hpp"
#include "eval/judges.hpp"
#include "eval/simulate_policy.hpp"
#include "pipeline/pipeline_impl.hpp"
#include "text/chat_format.hpp"
#include "text/tokenizer.hpp"
#include "train/dpo.hpp"
#include "train/guardrail_train.hpp"
#include "train/reward_model_train.hpp"
#include "train/rl.hpp"
#include "train/sft.hpp"

namespace srl::pipeline {

using detail::normal;
using detail::rethrow_in;

namespace {

constexpr const char* kTrainPairs = "support_preference_train.jsonl";
constexpr const char* kValPairs = "support_preference_val.jsonl";
const std::vector<std::string> kDataFiles = {kTrainPairs, kValPairs, "support_prompts.jsonl",
                                             "support_eval_prompts.jsonl", "support_sft.jsonl", "README.md"};

// `--set` assignments for the keys the pipeline fills in. Strings go in as JSON strings, which YAML reads as
// double-quoted scalars: a path with ": " or "#" in it stays one string.
std::string set_str(const std::string& key, const std::string& value) {
  return key + "=" + nlohmann::json(value).dump();
}
std::string set_int(const std::string& key, int64_t value) { return key + "=" + std::to_string(value); }

// The compute keys every stage gets, then `more`.
std::vector<std::string> stage_sets(const train::ComputeSection& c, std::initializer_list<std::string> more) {
  std::vector<std::string> v = {set_str("compute.device", config::name_of(train::kDeviceNames, c.device)),
                                set_str("compute.dtype", config::name_of(train::kDtypeNames, c.dtype)),
                                set_int("compute.threads", c.threads)};
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

// Base file (or the defaults) + the pipeline's keys + the stage's own `set`, in that order.
template <class T>
T resolve(const std::string& stage, const StageConfig& sc, std::vector<std::string> sets) {
  sets.insert(sets.end(), sc.set.begin(), sc.set.end());
  try {
    if (sc.config.empty()) return config::from_yaml_string<T>("", stage + " defaults", sets);
    return config::load<T>(sc.config, sets);
  } catch (...) {
    rethrow_in(stage);
  }
}

// Output directories are the pipeline's: it deletes them before a rerun and finds outputs there.
void require_output(const std::string& stage, const std::string& key, const std::string& got, const std::string& want) {
  if (got != want)
    fail("pipeline stage " + stage, key + " is set by the pipeline (" + want + "); change pipeline.output_dir instead of '" +
                                        got + "'");
}

// A unit whose work is one library call on a resolved stage config C (every C has a `compute` section).
template <class C>
struct UnitSpec {
  std::string name{}, stage{}, method{};  // as in Unit
  std::string output{};                   // the directory the pipeline gives the unit
  bool enabled = true;
  bool run_dir = true;                                          // a training run; false: `outputs` say it is done
  std::vector<std::string> outputs{};                           // files that must exist in `output`
  std::function<C()> resolve{};                                 // the resolved config; called only when enabled
  std::string output_key{};                                     // the config key that must name `output`
  std::function<std::string(const C&)> output_of{};             // that key's value
  std::function<void(const C&)> check{};                        // config problems found without files; may be empty
  std::function<std::vector<std::string>(const C&)> inputs{};   // the paths the config reads
  std::function<std::string(const C&)> label{};                 // the method's name in the report; may be empty
  std::function<void(const C&)> work{};
};

// What a training config reads: the model it starts from and its data.
template <class C>
std::vector<std::string> model_inputs(const C& c) {
  return {c.model.init, c.model.tokenizer, c.model.config_json, c.data.train_file, c.data.eval_file};
}

template <class C>
Unit make_unit(const UnitSpec<C>& s) {
  Unit u;
  u.name = s.name;
  u.stage = s.stage;
  u.method = s.method;
  u.output = s.output;
  u.enabled = s.enabled;
  u.run_dir = s.run_dir;
  u.outputs = s.outputs;
  if (!u.enabled) return u;
  const C c = s.resolve();
  require_output(s.stage, s.output_key, s.output_of(c), s.output);
  if (s.check) {
    try {
      s.check(c);
    } catch (...) {
      rethrow_in(s.stage);
    }
  }
  u.inputs = s.inputs(c);
  u.config_yaml = config::to_yaml(c);
  auto h = c;
  h.compute.threads = 0;
  u.hash_yaml = config::to_yaml(h);
  if (s.label) u.label = s.label(c);
  u.work = [work = s.work, c] { work(c); };
  return u;
}

}  // namespace

Pipeline::Impl::Impl(PipelineConfig c) : cfg(std::move(c)) {
  const auto& p = cfg.pipeline;
  if (p.name.empty()) fail("pipeline.name", "must not be empty");
  if (p.output_dir.empty()) fail("pipeline.output_dir", "must not be empty");
  if (p.report_dir.empty()) fail("pipeline.report_dir", "must not be empty");
  if (p.seed < 0) fail("pipeline.seed", "must be >= 0");
  // Stage outputs are deleted before a rerun: they must live below the output directory, never be it.
  if (normal(p.output_dir) == normal(".") || normal(p.output_dir) == "/")
    fail("pipeline.output_dir", "must be a directory of its own (e.g. runs/quickstart), not '" + p.output_dir + "'");
  out = p.output_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  add_data();
  add_tokenizer();
  add_training();
  add_guardrail();
  add_evaluation();
  add_guardrail_eval();
  add_report();
  link();
}

void Pipeline::Impl::add_data() {
  const auto& d = cfg.data;
  Unit u;
  u.name = u.stage = "data";
  u.enabled = d.enabled;
  if (!d.enabled) {
    if (d.dir.empty())
      fail("pipeline: data.dir", "required when data.enabled is false (a directory written by `supportrl data generate`)");
    data_dir = d.dir;
    units.push_back(std::move(u));
    return;
  }
  auto need = [](bool ok, const char* key, const char* what) {
    if (!ok) fail(std::string("pipeline: data.") + key, what);
  };
  for (auto [key, v] : {std::pair<const char*, int64_t>{"train_pairs", d.train_pairs}, {"val_pairs", d.val_pairs},
                        {"rl_prompts", d.rl_prompts}, {"eval_prompts", d.eval_prompts},
                        {"sft_conversations", d.sft_conversations}})
    need(v >= 0 && v <= 10'000'000, key, "must be between 0 and 10000000");
  need(d.pairs_per_prompt >= 1 && d.pairs_per_prompt <= 1000, "pairs_per_prompt", "must be between 1 and 1000");
  need(d.annotators >= 1 && d.annotators <= 1000, "annotators", "must be between 1 and 1000");
  need(d.noise >= 0, "noise", "must be >= 0");
  need(d.customer_share >= 0 && d.customer_share <= 1, "customer_share", "must be in [0, 1]");
  u.output = data_dir = out + "/data";
  u.outputs = kDataFiles;
  data::GenerateOptions g;
  g.out_dir = u.output;
  g.seed = static_cast<uint64_t>(cfg.pipeline.seed);
  g.pairs_per_prompt = static_cast<int>(d.pairs_per_prompt);
  g.noise = d.noise;
  g.annotators = static_cast<int>(d.annotators);
  g.train_pairs = static_cast<int>(d.train_pairs);
  g.val_pairs = static_cast<int>(d.val_pairs);
  g.rl_prompts = static_cast<int>(d.rl_prompts);
  g.eval_prompts = static_cast<int>(d.eval_prompts);
  g.sft_conversations = static_cast<int>(d.sft_conversations);
  g.sft_answers = d.sft_answers;
  g.customer_share = d.customer_share;
  u.config_yaml = config::to_yaml(d) + "seed: " + std::to_string(cfg.pipeline.seed) + "  # pipeline.seed\n";
  u.hash_yaml = u.config_yaml;
  u.work = [g] { data::generate_dataset(g); };
  units.push_back(std::move(u));
}

void Pipeline::Impl::add_tokenizer() {
  const auto& t = cfg.tokenizer;
  Unit u;
  u.name = u.stage = "tokenizer";
  u.enabled = t.enabled;
  if (!t.enabled) {
    if (t.dir.empty()) fail("pipeline: tokenizer.dir", "required when tokenizer.enabled is false (a tokenizer directory)");
    tok_dir = t.dir;
    units.push_back(std::move(u));
    return;
  }
  if (t.vocab_size <= 264 || t.vocab_size > 1'000'000)
    fail("pipeline: tokenizer.vocab_size", "must be between 265 (8 symbols + 256 bytes + 1) and 1000000");
  u.output = tok_dir = out + "/tokenizer";
  u.outputs = {"tokenizer.model"};
  const std::string input = data_dir + "/support_sft.jsonl";
  u.inputs = {input};
  u.config_yaml = config::to_yaml(t) + "input: " + nlohmann::json(input).dump() + "\nseed: " +
                  std::to_string(cfg.pipeline.seed) + "  # pipeline.seed\n";
  u.hash_yaml = u.config_yaml;
  const std::string dir = u.output;
  const int vocab = static_cast<int>(t.vocab_size);
  const auto seed = static_cast<uint32_t>(cfg.pipeline.seed);
  u.work = [input, dir, vocab, seed] {
    // The tokenizer learns from the SFT conversations' texts, one message per line (as `tokenizer train`
    // does with a JSONL input).
    std::string text;
    for (const auto& conv : text::load_conversations(input))
      for (const auto& m : conv) {
        std::string line = m.content;
        std::replace(line.begin(), line.end(), '\n', ' ');
        text += line + "\n";
      }
    fs::make_dirs(dir);
    text::TrainOptions o;
    o.input = dir + "/tokenizer_corpus.txt";
    fs::write_file_atomic(o.input, text);
    o.out_dir = dir;
    o.vocab_size = vocab;
    o.seed = seed;
    text::Tokenizer::train(o);
  };
  units.push_back(std::move(u));
}

void Pipeline::Impl::add_training() {
  add_sft();
  add_reward_model();
  add_dpo();
  add_rl("reward_model_rl", cfg.reward_model_rl, train::RlMode::RewardModel);
  add_rl("direct_preference_rl", cfg.direct_preference_rl, train::RlMode::DirectPreference);
}

// sft: the starting point of every method and the report's baseline.
void Pipeline::Impl::add_sft() {
  const int64_t seed = cfg.pipeline.seed;
  const std::string dir = out + "/sft";
  if (!cfg.sft.enabled)
    fail("pipeline: sft.enabled", "sft is the starting point and the baseline of every method; it cannot be disabled");
  units.push_back(make_unit<train::SftConfig>({
      .name = "sft", .stage = "sft", .method = "sft", .output = dir,
      .resolve = [&] {
        return resolve<train::SftConfig>(
            "sft", cfg.sft,
            stage_sets(cfg.compute, {set_str("output_dir", dir), set_str("model.tokenizer", tok_dir),
                                     set_int("model.seed", seed),
                                     set_str("data.train_file", data_dir + "/support_sft.jsonl"),
                                     set_str("data.eval_file", ""), set_int("train.seed", seed)}));
      },
      .output_key = "output_dir",
      .output_of = [](const train::SftConfig& c) { return c.output_dir; },
      .inputs = [](const train::SftConfig& c) { return model_inputs(c); },
      .label = [](const train::SftConfig&) { return std::string("SFT"); },
      .work = [](const train::SftConfig& c) { train::run_sft(c, train::SftOptions{}); },
  }));
}

// reward_model: the reward_model part of its file (configs/rl_reward_model.yaml).
void Pipeline::Impl::add_reward_model() {
  using RmStage = train::RewardModelFileConfig;
  const int64_t seed = cfg.pipeline.seed;
  const std::string dir = out + "/reward_model";
  units.push_back(make_unit<RmStage>({
      .name = "reward_model", .stage = "reward_model", .output = dir, .enabled = cfg.reward_model.enabled,
      .resolve = [&] {
        return resolve<train::RlRewardModelFileConfig>(
                   "reward_model", cfg.reward_model,
                   stage_sets(cfg.compute, {set_str("reward_model.output_dir", dir),
                                            set_str("reward_model.model.init", out + "/sft"),
                                            set_str("reward_model.data.train_file", data_dir + "/" + kTrainPairs),
                                            set_str("reward_model.data.eval_file", data_dir + "/" + kValPairs),
                                            set_int("reward_model.train.seed", seed)}))
            .reward_model_stage();
      },
      .output_key = "reward_model.output_dir",
      .output_of = [](const RmStage& c) { return c.reward_model.output_dir; },
      .inputs = [](const RmStage& c) { return model_inputs(c.reward_model); },
      .work = [](const RmStage& c) { train::run_train_reward_model(c, train::RewardModelOptions{}); },
  }));
}

// dpo: its reference log-probs are cached outside the run directory, so a DPO rerun over the same SFT
// run and data reuses them (the cache checks its own key and recomputes when anything differs).
void Pipeline::Impl::add_dpo() {
  const int64_t seed = cfg.pipeline.seed;
  const std::string dir = out + "/dpo";
  units.push_back(make_unit<train::DpoConfig>({
      .name = "dpo", .stage = "dpo", .method = "dpo", .output = dir, .enabled = cfg.dpo.enabled,
      .resolve = [&] {
        return resolve<train::DpoConfig>(
            "dpo", cfg.dpo,
            stage_sets(cfg.compute, {set_str("output_dir", dir), set_str("model.init", out + "/sft"),
                                     set_str("data.train_file", data_dir + "/" + kTrainPairs),
                                     set_str("data.eval_file", data_dir + "/" + kValPairs),
                                     set_str("dpo.reference_cache_dir", out + "/cache/dpo_reference_logps"),
                                     set_int("train.seed", seed)}));
      },
      .output_key = "output_dir",
      .output_of = [](const train::DpoConfig& c) { return c.output_dir; },
      .check = [](const train::DpoConfig& c) { train::check_dpo_config(c); },
      .inputs = [](const train::DpoConfig& c) { return model_inputs(c); },
      .label =
          [](const train::DpoConfig& c) {
            const std::string loss = config::name_of(train::kDpoLossNames, c.dpo.loss_type);
            return "DPO (" + loss + (c.dpo.sft_weight > 0 ? " + RPO" : "") + ")";
          },
      .work = [](const train::DpoConfig& c) { train::run_dpo(c, train::DpoOptions{}); },
  }));
}

// The two RL methods share one trainer; only the reward source differs.
void Pipeline::Impl::add_rl(const std::string& name, const StageConfig& sc, train::RlMode mode) {
  const int64_t seed = cfg.pipeline.seed;
  const std::string dir = out + "/" + name, rm_dir = out + "/reward_model";
  const bool rm_mode = mode == train::RlMode::RewardModel;
  const auto rl_sets =
      stage_sets(cfg.compute, {set_str("rl.output_dir", dir), set_str("rl.model.init", out + "/sft"),
                               set_str("rl.data.prompt_file", data_dir + "/support_prompts.jsonl"),
                               set_str("rl.data.eval_prompt_file", data_dir + "/support_eval_prompts.jsonl"),
                               set_int("rl.reward.panel_seed", seed), set_int("rl.train.seed", seed)});
  units.push_back(make_unit<train::RlFileConfig>({
      .name = name, .stage = name, .method = name, .output = dir, .enabled = sc.enabled,
      .resolve = [&] {
        if (rm_mode) {
          auto sets = rl_sets;
          sets.push_back(set_str("rl.reward.reward_model", rm_dir));
          const auto f = resolve<train::RlRewardModelFileConfig>(name, sc, sets);
          train::RlFileConfig c;
          c.rl = f.rl;
          c.compute = f.compute;
          return c;
        }
        auto c = resolve<train::RlFileConfig>(name, sc, rl_sets);
        // A reward-model judge uses the pipeline's reward model unless the stage names another.
        const bool rm_judge = c.rl.reward.judge == train::JudgeKind::RewardModel;
        if (rm_judge && c.rl.reward.reward_model.empty()) c.rl.reward.reward_model = rm_dir;
        return c;
      },
      .output_key = "rl.output_dir",
      .output_of = [](const train::RlFileConfig& c) { return c.rl.output_dir; },
      .check =
          [mode](const train::RlFileConfig& c) {
            // The heuristic judge comes from eval/ (attach_eval_layer below), not from train/'s own sources.
            const bool heuristic_judge = c.rl.reward.judge == train::JudgeKind::Heuristic;
            train::check_rl_config(c.rl, mode, !(mode == train::RlMode::DirectPreference && heuristic_judge));
          },
      .inputs =
          [rm_mode](const train::RlFileConfig& c) {
            std::vector<std::string> v = {c.rl.model.init, c.rl.model.tokenizer, c.rl.model.config_json,
                                          c.rl.data.prompt_file, c.rl.data.eval_prompt_file};
            const bool rm_judge = c.rl.reward.judge == train::JudgeKind::RewardModel;
            if (rm_mode || rm_judge) v.push_back(c.rl.reward.reward_model);
            return v;
          },
      .label =
          [rm_mode](const train::RlFileConfig& c) {
            if (rm_mode) return std::string("Reward-model RL");
            const std::string judge = config::name_of(train::kJudgeNames, c.rl.reward.judge);
            return "Direct preference RL (" + judge + " judge)";
          },
      .work =
          [mode](const train::RlFileConfig& c) {
            train::RlOptions o;
            o.mode = mode;
            eval::attach_eval_layer(c.rl, o);
            train::run_rl(c.rl, c.compute, o);
          },
  }));
}

// guardrail: the request classifier every evaluation reads requests with and routes flagged tickets by.
void Pipeline::Impl::add_guardrail() {
  const int64_t seed = cfg.pipeline.seed;
  const std::string dir = out + "/guardrail";
  units.push_back(make_unit<train::GuardrailConfig>({
      .name = "guardrail", .stage = "guardrail", .method = "", .output = dir, .enabled = cfg.guardrail.enabled,
      .run_dir = true, .outputs = {"classifier.safetensors", "guardrail.json"},
      .resolve = [&] {
        return resolve<train::GuardrailConfig>(
            "guardrail", cfg.guardrail,
            stage_sets(cfg.compute, {set_str("output_dir", dir), set_int("data.seed", seed), set_int("train.seed", seed)}));
      },
      .output_key = "output_dir",
      .output_of = [](const train::GuardrailConfig& c) { return c.output_dir; },
      .inputs = [](const train::GuardrailConfig& c) -> std::vector<std::string> { return {c.data.bitext}; },
      .work = [](const train::GuardrailConfig& c) { train::run_train_guardrail(c, train::RunOptions{}); },
  }));
}

std::string Pipeline::Impl::guardrail_eval_file() const {
  return enabled("guardrail_eval") ? out + "/guardrail_eval/guardrail_eval.json" : "";
}

// guardrail_eval: the classifier and the keyword rules on the sets beyond the templates.
void Pipeline::Impl::add_guardrail_eval() {
  std::vector<std::string> sets;
  for (const auto& s : eval_sets())
    if (s.prefix != "evaluate") sets.push_back(s.dir.substr(5) + "=" + s.input);  // "ood=data/eval_ood"
  const std::string dir = out + "/guardrail_eval";
  units.push_back(make_unit<eval::GuardrailEvalConfig>({
      .name = "guardrail_eval", .stage = "guardrail_eval", .method = "", .output = dir,
      .enabled = enabled("guardrail") && !sets.empty(), .run_dir = false, .outputs = {"guardrail_eval.json"},
      .resolve = [&] {
        eval::GuardrailEvalConfig c;
        c.guardrail = out + "/guardrail";
        c.sets = sets;
        c.output_dir = dir;
        c.compute = cfg.compute;
        return c;
      },
      .output_key = "output_dir",
      .output_of = [](const eval::GuardrailEvalConfig& c) { return c.output_dir; },
      .inputs =
          [](const eval::GuardrailEvalConfig& c) {
            std::vector<std::string> in = {c.guardrail};
            for (const auto& s : c.sets) {
              auto spec = s.substr(s.find('=') + 1);
              in.push_back(spec.rfind("bitext:", 0) == 0 ? spec.substr(7) : spec);
            }
            return in;
          },
      .work = [](const eval::GuardrailEvalConfig& c) { eval::run_guardrail_eval(c); },
  }));
}

// The evaluation sets: the world's held-out prompts ("eval"), the hand-written tickets ("eval_ood") and the
// Bitext evaluation half ("eval_bitext", when the corpus is present). (unit prefix, input, max_prompts).
std::vector<Pipeline::Impl::EvalSet> Pipeline::Impl::eval_sets() const {
  std::vector<EvalSet> sets = {{"evaluate", "eval", data_dir + "/support_eval_prompts.jsonl", 0}};
  const auto& e = cfg.eval_sets;
  if (!e.handwritten.empty()) {
    if (!fs::exists(e.handwritten))
      fail("pipeline: eval_sets.handwritten", "no such file or directory: " + e.handwritten +
                                                  " (the hand-written tickets, data/eval_ood in the repository)");
    sets.push_back({"evaluate_ood", "eval_ood", e.handwritten, 0});
  }
  if (!e.bitext.empty() && fs::exists(e.bitext))
    sets.push_back({"evaluate_bitext", "eval_bitext", "bitext:" + e.bitext, e.bitext_prompts});
  return sets;
}

// One method's evaluation on one set; the SFT evaluation of the set is the others' baseline.
Unit Pipeline::Impl::evaluate_unit(const std::string& m, const EvalSet& set) {
  const int64_t seed = cfg.pipeline.seed;
  const bool rm = enabled("reward_model"), guard = enabled("guardrail");
  const std::string dir = out + "/" + set.dir + "/" + m;
  return make_unit<eval::EvaluateFileConfig>({
      .name = set.prefix + "/" + m, .stage = "evaluate", .method = m, .output = dir, .enabled = cfg.evaluate.enabled,
      .run_dir = false, .outputs = {"eval.json", "transcripts.jsonl"},
      .resolve = [&] {
        // The SFT evaluation is the baseline: the others reuse its replies instead of regenerating them.
        return resolve<eval::EvaluateFileConfig>(
            "evaluate", cfg.evaluate,
            stage_sets(cfg.compute, {set_str("evaluate.input", set.input), set_str("evaluate.policy", out + "/" + m),
                                     set_str("evaluate.baseline", m == "sft" ? "" : out + "/" + set.dir + "/sft"),
                                     set_str("evaluate.output_dir", dir),
                                     set_str("evaluate.reward_model", rm ? out + "/reward_model" : ""),
                                     set_str("evaluate.guardrail", guard ? out + "/guardrail" : ""),
                                     set_int("evaluate.max_prompts", set.max_prompts),
                                     set_int("evaluate.panel_seed", seed), set_int("evaluate.sampling.seed", seed)}));
      },
      .output_key = "evaluate.output_dir",
      .output_of = [](const eval::EvaluateFileConfig& c) { return c.evaluate.output_dir; },
      // A bad value fails now, not after every training stage.
      .check = [](const eval::EvaluateFileConfig& c) { eval::check_evaluate_config(c.evaluate); },
      .inputs =
          [](const eval::EvaluateFileConfig& c) -> std::vector<std::string> {
            const auto& e = c.evaluate;
            const std::string in = e.input.rfind("bitext:", 0) == 0 ? e.input.substr(7) : e.input;
            return {in, e.policy, e.baseline, e.reward_model, e.guardrail};
          },
      .work = [](const eval::EvaluateFileConfig& c) { eval::run_evaluate(c.evaluate, c.compute); },
  });
}

// One evaluation per trained method and set, and one simulation per trained method.
void Pipeline::Impl::add_evaluation() {
  const int64_t seed = cfg.pipeline.seed;
  for (const auto& set : eval_sets())
    for (const auto& m : method_names())
      if (enabled(m)) units.push_back(evaluate_unit(m, set));
  for (const auto& m : method_names()) {
    if (!enabled(m)) continue;
    const std::string dir = out + "/sim/" + m;
    units.push_back(make_unit<eval::SimulateFileConfig>({
        .name = "simulate/" + m, .stage = "simulate", .method = m, .output = dir, .enabled = cfg.simulate.enabled,
        .run_dir = false, .outputs = {"simulate.json", "transcripts.jsonl"},
        .resolve = [&] {
          return resolve<eval::SimulateFileConfig>(
              "simulate", cfg.simulate,
              stage_sets(cfg.compute, {set_str("simulate.policy", out + "/" + m), set_str("simulate.output_dir", dir),
                                       set_int("simulate.seed", seed)}));
        },
        .output_key = "simulate.output_dir",
        .output_of = [](const eval::SimulateFileConfig& c) { return c.simulate.output_dir; },
        .check = [](const eval::SimulateFileConfig& c) { eval::check_simulate_config(c.simulate); },
        .inputs = [](const eval::SimulateFileConfig& c) -> std::vector<std::string> { return {c.simulate.policy}; },
        .work = [](const eval::SimulateFileConfig& c) { eval::run_simulate(c.simulate, c.compute); },
    }));
  }
}

std::vector<eval::MethodRun> Pipeline::Impl::report_methods() const {
  std::vector<eval::MethodRun> runs;
  for (const auto& m : method_names()) {
    const Unit* train_unit = find(m);
    if (!train_unit || !train_unit->enabled || !enabled("evaluate/" + m)) continue;
    eval::MethodRun r;
    r.name = m;
    r.label = train_unit->label.empty() ? m : train_unit->label;
    r.run_dir = train_unit->output;
    r.eval_dir = find("evaluate/" + m)->output;
    if (enabled("simulate/" + m)) r.sim_dir = find("simulate/" + m)->output;
    for (const auto& set : eval_sets())
      if (set.prefix != "evaluate" && enabled(set.prefix + "/" + m))
        r.set_evals.emplace_back(set.prefix == "evaluate_ood" ? "hand-written" : "Bitext", find(set.prefix + "/" + m)->output);
    if (train_unit->record) {
      r.train_seconds = train_unit->record->seconds;
      r.train_tokens = train_unit->record->tokens;
    }
    r.seed = static_cast<uint64_t>(cfg.pipeline.seed);
    runs.push_back(std::move(r));
  }
  return runs;
}

void Pipeline::Impl::add_report() {
  Unit u;
  u.name = u.stage = "report";
  u.output = cfg.pipeline.report_dir;
  u.owns_dir = false;
  u.outputs = {"index.html", "report.md", "summary.json"};
  u.enabled = cfg.report.enabled;
  if (u.enabled && !cfg.evaluate.enabled)
    fail("pipeline: report.enabled", "the report needs the evaluate stage; enable evaluate or set report.enabled: false");
  if (u.enabled) {
    nlohmann::ordered_json j;
    j["name"] = cfg.pipeline.name;
    j["report_dir"] = cfg.pipeline.report_dir;
    j["baseline"] = "sft";
    j["reward_model_dir"] = enabled("reward_model") ? out + "/reward_model" : "";
    for (const auto& r : report_methods()) {
      j["methods"].push_back({{"name", r.name}, {"label", r.label}, {"run_dir", r.run_dir}, {"eval_dir", r.eval_dir},
                              {"sim_dir", r.sim_dir}, {"seed", r.seed}});
      for (const auto& d : {r.run_dir, r.eval_dir, r.sim_dir}) u.inputs.push_back(d);
      for (const auto& [set, dir] : r.set_evals) {
        j["methods"].back()["set_evals"].push_back({set, dir});
        u.inputs.push_back(dir);
      }
    }
    u.inputs.push_back(j["reward_model_dir"].get<std::string>());
    j["guardrail_eval"] = guardrail_eval_file();
    u.inputs.push_back(j["guardrail_eval"].get<std::string>());
    u.config_yaml = "# the report's inputs (train seconds and tokens come from the stage records)\n" + j.dump(2) + "\n";
    u.hash_yaml = u.config_yaml;
    u.work = [this] {
      eval::ReportInput in;
      in.name = cfg.pipeline.name;
      in.out_dir = cfg.pipeline.report_dir;
      in.baseline = "sft";
      in.methods = report_methods();
      if (enabled("reward_model")) in.reward_model_dir = out + "/reward_model";
      in.guardrail_eval = guardrail_eval_file();
      in.command = command;
      eval::write_report(in);
    };
  }
  units.push_back(std::move(u));
}

}  // namespace srl::pipeline
