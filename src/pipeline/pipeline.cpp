// The stage graph of `supportrl pipeline`: resolving each stage's config, hashing, skipping and running.
// Dependencies are not declared by hand: a unit depends on the unit whose output directory holds one of the
// paths its resolved config reads, so a user's `set` that points a stage elsewhere changes the graph too.
#include "pipeline/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "core/run_dir.hpp"
#include "data/generate_dataset.hpp"
#include "eval/evaluate.hpp"
#include "eval/judges.hpp"
#include "eval/simulate_policy.hpp"
#include "text/chat_format.hpp"
#include "text/tokenizer.hpp"
#include "train/dpo.hpp"
#include "train/reward_model_train.hpp"
#include "train/rl.hpp"
#include "train/sft.hpp"

namespace srl::pipeline {

namespace stdfs = std::filesystem;

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> names = {"data", "tokenizer", "sft", "reward_model", "dpo",
                                                 "reward_model_rl", "direct_preference_rl", "evaluate",
                                                 "simulate", "report"};
  return names;
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"sft", "dpo", "reward_model_rl", "direct_preference_rl"};
  return names;
}

namespace {

const std::vector<std::string> kDataFiles = {"support_preference_train.jsonl", "support_preference_val.jsonl",
                                             "support_prompts.jsonl", "support_eval_prompts.jsonl",
                                             "support_sft.jsonl", "README.md"};
constexpr const char* kOwnerFile = ".pipeline_owner";  // marks a directory the pipeline may delete

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// Rethrows the active exception as one naming the unit; the kind (exit code) is kept.
[[noreturn]] void rethrow_in(const std::string& unit) {
  try {
    throw;
  } catch (const Error& e) {
    throw Error(e.kind(), "pipeline stage " + unit, e.what());
  } catch (const std::exception& e) {
    fail_internal("pipeline stage " + unit, first_line(e.what()));
  }
}

// `--set` assignments for the keys the pipeline fills in. Strings go in as JSON strings, which YAML reads as
// double-quoted scalars: a path with ": " or "#" in it stays one string.
std::string set_str(const std::string& key, const std::string& value) {
  return key + "=" + nlohmann::json(value).dump();
}
std::string set_int(const std::string& key, int64_t value) { return key + "=" + std::to_string(value); }

std::vector<std::string> compute_sets(const train::ComputeSection& c) {
  return {set_str("compute.device", c.device), set_str("compute.dtype", c.dtype), set_int("compute.threads", c.threads)};
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

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm g{};
  gmtime_r(&t, &g);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &g);
  return b;
}

std::string normal(const std::string& p) {
  std::string s = stdfs::absolute(stdfs::path(p)).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool inside(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// A file's bytes, or a directory's files (relative names, symlink targets, contents) in sorted order.
std::string content_hash(const std::string& path) {
  std::error_code ec;
  if (stdfs::is_regular_file(path, ec)) return fnv1a64_file_hex(path);
  if (!stdfs::is_directory(path, ec)) return "missing";
  std::vector<std::pair<std::string, std::string>> entries;
  for (auto it = stdfs::recursive_directory_iterator(path, ec); !ec && it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto rel = stdfs::relative(it->path(), path).string();
    if (it->is_symlink()) entries.emplace_back(rel, "-> " + stdfs::read_symlink(it->path()).string());
    else if (it->is_regular_file()) entries.emplace_back(rel, fnv1a64_file_hex(it->path().string()));
  }
  if (ec) fail(path, "cannot list the directory: " + ec.message());
  std::sort(entries.begin(), entries.end());
  Hasher h;
  for (const auto& [rel, v] : entries) h.update(rel).update(std::string_view("\0", 1)).update(v).update("\n");
  return "dir " + h.hex();
}

// tokens_seen of a training run's final checkpoint (trainer_state.json), 0 when it has none.
double run_tokens(const std::string& run_dir) {
  try {
    const auto j = nlohmann::json::parse(fs::read_file(run_dir + "/final/trainer_state.json"));
    return j.value("tokens_seen", 0.0);
  } catch (const std::exception&) {
    return 0;
  }
}

struct Unit {
  std::string name, stage, method;  // "evaluate/dpo", "evaluate", "dpo"
  bool enabled = true;
  std::string output;               // directory ("" for a disabled stage replaced by existing files)
  bool owns_dir = true;             // false: only its files are replaced (the report directory)
  bool run_dir = false;             // a training run: complete when final/COMPLETE exists
  std::vector<std::string> outputs;  // files that must exist in `output`
  std::vector<std::string> inputs;   // paths its config reads
  std::string config_yaml;           // the resolved config, as --print-config shows it
  std::string hash_yaml;             // what is hashed (compute.threads zeroed: it does not change results)
  std::function<void()> work;
  std::vector<size_t> deps;
  std::string hash;
  // Run state.
  std::string status = "pending";
  double seconds = 0;
  std::optional<StageRecord> record;
};

}  // namespace

std::optional<StageRecord> read_stage_record(const std::string& dir) {
  if (dir.empty()) return std::nullopt;
  const std::string path = dir + "/" + kRecordFile;
  std::error_code ec;
  if (!stdfs::is_regular_file(path, ec)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(fs::read_file(path));
    StageRecord r;
    r.stage = j.at("stage").get<std::string>();
    r.hash = j.at("hash").get<std::string>();
    r.seconds = j.at("seconds").get<double>();
    r.tokens = j.at("tokens").get<double>();
    r.finished_at = j.at("finished_at").get<std::string>();
    return r;
  } catch (const std::exception& e) {
    spdlog::warn("pipeline: ignoring unreadable {} ({})", path, first_line(e.what()));
    return std::nullopt;
  }
}

struct Pipeline::Impl {
  PipelineConfig cfg;
  std::string out, data_dir, tok_dir, command;
  std::vector<Unit> units;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> hash_cache;

  explicit Impl(PipelineConfig c);
  void add_data();
  void add_tokenizer();
  void add_training();
  void add_evaluation();
  void add_report();
  void link();

  const Unit* find(const std::string& name) const {
    for (const auto& u : units)
      if (u.name == name) return &u;
    return nullptr;
  }
  bool enabled(const std::string& name) const {
    const Unit* u = find(name);
    return u && u->enabled;
  }
  std::vector<eval::MethodRun> report_methods() const;
  nlohmann::ordered_json state_json() const;
  void write_state() const;
  bool outputs_complete(const Unit& u) const;
  void prepare_output(const Unit& u) const;
  void write_record(Unit& u) const;
};

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
  add_evaluation();
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
  const int64_t seed = cfg.pipeline.seed;
  const std::string train_pairs = data_dir + "/support_preference_train.jsonl",
                    val_pairs = data_dir + "/support_preference_val.jsonl",
                    rl_prompts = data_dir + "/support_prompts.jsonl",
                    eval_prompts = data_dir + "/support_eval_prompts.jsonl", sft_dir = out + "/sft",
                    rm_dir = out + "/reward_model";
  auto base_sets = [&] { return compute_sets(cfg.compute); };
  auto push = [](std::vector<std::string> v, std::initializer_list<std::string> more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };

  // sft: the starting point of every method and the report's baseline.
  if (!cfg.sft.enabled)
    fail("pipeline: sft.enabled", "sft is the starting point and the baseline of every method; it cannot be disabled");
  {
    Unit u;
    u.name = u.stage = u.method = "sft";
    u.output = sft_dir;
    u.run_dir = true;
    auto c = resolve<train::SftConfig>(
        "sft", cfg.sft,
        push(base_sets(), {set_str("output_dir", sft_dir), set_str("model.tokenizer", tok_dir), set_int("model.seed", seed),
                           set_str("data.train_file", data_dir + "/support_sft.jsonl"), set_str("data.eval_file", ""),
                           set_int("train.seed", seed)}));
    require_output("sft", "output_dir", c.output_dir, sft_dir);
    u.inputs = {c.model.init, c.model.tokenizer, c.model.config_json, c.data.train_file, c.data.eval_file};
    u.config_yaml = config::to_yaml(c);
    auto h = c;
    h.compute.threads = 0;
    u.hash_yaml = config::to_yaml(h);
    u.work = [c] { train::run_sft(c, train::SftOptions{}); };
    labels["sft"] = "SFT";
    units.push_back(std::move(u));
  }

  // reward_model: the reward_model part of its file (configs/rl_reward_model.yaml).
  {
    Unit u;
    u.name = u.stage = "reward_model";
    u.output = rm_dir;
    u.run_dir = true;
    u.enabled = cfg.reward_model.enabled;
    if (u.enabled) {
      auto c = resolve<train::RlRewardModelFileConfig>(
                   "reward_model", cfg.reward_model,
                   push(base_sets(), {set_str("reward_model.output_dir", rm_dir), set_str("reward_model.model.init", sft_dir),
                                      set_str("reward_model.data.train_file", train_pairs),
                                      set_str("reward_model.data.eval_file", val_pairs),
                                      set_int("reward_model.train.seed", seed)}))
                   .reward_model_stage();
      require_output("reward_model", "reward_model.output_dir", c.reward_model.output_dir, rm_dir);
      const auto& r = c.reward_model;
      u.inputs = {r.model.init, r.model.tokenizer, r.model.config_json, r.data.train_file, r.data.eval_file};
      u.config_yaml = config::to_yaml(c);
      auto h = c;
      h.compute.threads = 0;
      u.hash_yaml = config::to_yaml(h);
      u.work = [c] { train::run_train_reward_model(c, train::RewardModelOptions{}); };
    }
    units.push_back(std::move(u));
  }

  // dpo: its reference log-probs are cached outside the run directory, so a DPO rerun over the same SFT
  // run and data reuses them (the cache checks its own key and recomputes when anything differs).
  {
    Unit u;
    u.name = u.stage = u.method = "dpo";
    u.output = out + "/dpo";
    u.run_dir = true;
    u.enabled = cfg.dpo.enabled;
    if (u.enabled) {
      auto c = resolve<train::DpoConfig>(
          "dpo", cfg.dpo,
          push(base_sets(), {set_str("output_dir", u.output), set_str("model.init", sft_dir),
                             set_str("data.train_file", train_pairs), set_str("data.eval_file", val_pairs),
                             set_str("dpo.reference_cache_dir", out + "/cache/dpo_reference_logps"),
                             set_int("train.seed", seed)}));
      require_output("dpo", "output_dir", c.output_dir, u.output);
      try {
        train::check_dpo_config(c);
      } catch (...) {
        rethrow_in("dpo");
      }
      u.inputs = {c.model.init, c.model.tokenizer, c.model.config_json, c.data.train_file, c.data.eval_file};
      u.config_yaml = config::to_yaml(c);
      auto h = c;
      h.compute.threads = 0;
      u.hash_yaml = config::to_yaml(h);
      u.work = [c] { train::run_dpo(c, train::DpoOptions{}); };
      labels["dpo"] = "DPO (" + c.dpo.loss_type + (c.dpo.sft_weight > 0 ? " + RPO" : "") + ")";
    }
    units.push_back(std::move(u));
  }

  // The two RL methods share one trainer; only the reward source differs.
  auto rl_sets = [&](const std::string& dir) {
    return push(base_sets(), {set_str("rl.output_dir", dir), set_str("rl.model.init", sft_dir),
                              set_str("rl.data.prompt_file", rl_prompts), set_str("rl.data.eval_prompt_file", eval_prompts),
                              set_int("rl.reward.panel_seed", seed), set_int("rl.train.seed", seed)});
  };
  auto add_rl = [&](const std::string& name, const StageConfig& sc, train::RlMode mode) {
    Unit u;
    u.name = u.stage = u.method = name;
    u.output = out + "/" + name;
    u.run_dir = true;
    u.enabled = sc.enabled;
    if (!u.enabled) return units.push_back(std::move(u));
    train::RlFileConfig c;
    if (mode == train::RlMode::RewardModel) {
      auto f = resolve<train::RlRewardModelFileConfig>(
          name, sc, push(rl_sets(u.output), {set_str("rl.reward.reward_model", rm_dir)}));
      c.rl = f.rl;
      c.compute = f.compute;
      labels[name] = "Reward-model RL";
    } else {
      c = resolve<train::RlFileConfig>(name, sc, rl_sets(u.output));
      // A reward-model judge uses the pipeline's reward model unless the stage names another.
      if (c.rl.reward.judge == "reward_model" && c.rl.reward.reward_model.empty()) c.rl.reward.reward_model = rm_dir;
      labels[name] = "Direct preference RL (" + c.rl.reward.judge + " judge)";
    }
    require_output(name, "rl.output_dir", c.rl.output_dir, u.output);
    try {
      // The heuristic judge comes from eval/ (attach_eval_layer below), not from train/'s own sources.
      train::check_rl_config(c.rl, mode, !(mode == train::RlMode::DirectPreference && c.rl.reward.judge == "heuristic"));
    } catch (...) {
      rethrow_in(name);
    }
    u.inputs = {c.rl.model.init, c.rl.model.tokenizer, c.rl.model.config_json, c.rl.data.prompt_file,
                c.rl.data.eval_prompt_file};
    if (mode == train::RlMode::RewardModel || c.rl.reward.judge == "reward_model")
      u.inputs.push_back(c.rl.reward.reward_model);
    u.config_yaml = config::to_yaml(c);
    auto h = c;
    h.compute.threads = 0;
    u.hash_yaml = config::to_yaml(h);
    u.work = [c, mode] {
      train::RlOptions o;
      o.mode = mode;
      eval::attach_eval_layer(c.rl, o);
      train::run_rl(c.rl, c.compute, o);
    };
    units.push_back(std::move(u));
  };
  add_rl("reward_model_rl", cfg.reward_model_rl, train::RlMode::RewardModel);
  add_rl("direct_preference_rl", cfg.direct_preference_rl, train::RlMode::DirectPreference);
}

void Pipeline::Impl::add_evaluation() {
  const int64_t seed = cfg.pipeline.seed;
  const bool rm = enabled("reward_model");
  for (const auto& m : method_names()) {
    if (!enabled(m)) continue;
    Unit u;
    u.name = "evaluate/" + m;
    u.stage = "evaluate";
    u.method = m;
    u.output = out + "/eval/" + m;
    u.outputs = {"eval.json", "transcripts.jsonl"};
    u.enabled = cfg.evaluate.enabled;
    if (u.enabled) {
      auto sets = compute_sets(cfg.compute);
      // The SFT evaluation is the baseline: the others reuse its replies instead of regenerating them.
      for (auto s : {set_str("evaluate.input", data_dir + "/support_eval_prompts.jsonl"),
                     set_str("evaluate.policy", out + "/" + m),
                     set_str("evaluate.baseline", m == "sft" ? "" : out + "/eval/sft"),
                     set_str("evaluate.output_dir", u.output), set_str("evaluate.reward_model", rm ? out + "/reward_model" : ""),
                     set_int("evaluate.panel_seed", seed), set_int("evaluate.sampling.seed", seed)})
        sets.push_back(s);
      auto c = resolve<eval::EvaluateFileConfig>("evaluate", cfg.evaluate, sets);
      require_output("evaluate", "evaluate.output_dir", c.evaluate.output_dir, u.output);
      try {
        eval::check_evaluate_config(c.evaluate);  // a bad value fails now, not after every training stage
      } catch (...) {
        rethrow_in("evaluate");
      }
      const auto& e = c.evaluate;
      u.inputs = {e.input, e.policy, e.baseline, e.reward_model};
      u.config_yaml = config::to_yaml(c);
      auto h = c;
      h.compute.threads = 0;
      u.hash_yaml = config::to_yaml(h);
      u.work = [c] { eval::run_evaluate(c.evaluate, c.compute); };
    }
    units.push_back(std::move(u));
  }
  for (const auto& m : method_names()) {
    if (!enabled(m)) continue;
    Unit u;
    u.name = "simulate/" + m;
    u.stage = "simulate";
    u.method = m;
    u.output = out + "/sim/" + m;
    u.outputs = {"simulate.json", "transcripts.jsonl"};
    u.enabled = cfg.simulate.enabled;
    if (u.enabled) {
      auto sets = compute_sets(cfg.compute);
      for (auto s : {set_str("simulate.policy", out + "/" + m), set_str("simulate.output_dir", u.output),
                     set_int("simulate.seed", seed)})
        sets.push_back(s);
      auto c = resolve<eval::SimulateFileConfig>("simulate", cfg.simulate, sets);
      require_output("simulate", "simulate.output_dir", c.simulate.output_dir, u.output);
      try {
        eval::check_simulate_config(c.simulate);
      } catch (...) {
        rethrow_in("simulate");
      }
      u.inputs = {c.simulate.policy};
      u.config_yaml = config::to_yaml(c);
      auto h = c;
      h.compute.threads = 0;
      u.hash_yaml = config::to_yaml(h);
      u.work = [c] { eval::run_simulate(c.simulate, c.compute); };
    }
    units.push_back(std::move(u));
  }
}

std::vector<eval::MethodRun> Pipeline::Impl::report_methods() const {
  std::vector<eval::MethodRun> runs;
  for (const auto& m : method_names()) {
    const Unit* train_unit = find(m);
    if (!train_unit || !train_unit->enabled || !enabled("evaluate/" + m)) continue;
    eval::MethodRun r;
    r.name = m;
    r.label = labels.count(m) ? labels.at(m) : m;
    r.run_dir = train_unit->output;
    r.eval_dir = find("evaluate/" + m)->output;
    if (enabled("simulate/" + m)) r.sim_dir = find("simulate/" + m)->output;
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
    }
    u.inputs.push_back(j["reward_model_dir"].get<std::string>());
    u.config_yaml = "# the report's inputs (train seconds and tokens come from the stage records)\n" + j.dump(2) + "\n";
    u.hash_yaml = u.config_yaml;
    u.work = [this] {
      eval::ReportInput in;
      in.name = cfg.pipeline.name;
      in.out_dir = cfg.pipeline.report_dir;
      in.baseline = "sft";
      in.methods = report_methods();
      if (enabled("reward_model")) in.reward_model_dir = out + "/reward_model";
      in.command = command;
      eval::write_report(in);
    };
  }
  units.push_back(std::move(u));
}

// Dependencies from the paths each unit reads, then the hashes in run order.
void Pipeline::Impl::link() {
  std::vector<std::string> owned(units.size());
  for (size_t j = 0; j < units.size(); ++j)
    if (!units[j].output.empty()) owned[j] = normal(units[j].output);
  for (size_t i = 0; i < units.size(); ++i) {
    Unit& u = units[i];
    if (!u.enabled) continue;
    Hasher h;
    h.update("srl-pipeline-stage-v1\nversion: " SRL_VERSION "\nunit: ").update(u.name).update("\n").update(u.hash_yaml);
    for (const auto& in : u.inputs) {
      if (in.empty()) continue;
      const std::string p = normal(in);
      std::optional<size_t> owner;
      for (size_t j = 0; j < units.size(); ++j)  // the innermost output holding the path
        if (!owned[j].empty() && inside(p, owned[j]) && (!owner || owned[j].size() > owned[*owner].size())) owner = j;
      h.update("input ").update(in).update(" = ");
      if (!owner) {
        auto it = hash_cache.find(p);
        if (it == hash_cache.end()) it = hash_cache.emplace(p, content_hash(in)).first;
        h.update(it->second).update("\n");
        continue;
      }
      const Unit& o = units[*owner];
      if (*owner == i) fail("pipeline stage " + u.name, "reads its own output " + in);
      if (!o.enabled)
        fail("pipeline stage " + u.name, "reads " + in + ", the output of stage " + o.name +
                                             ", which is disabled (enable it, or disable " + u.stage + ")");
      if (*owner > i) fail("pipeline stage " + u.name, "reads " + in + ", the output of stage " + o.name + ", which runs later");
      if (std::find(u.deps.begin(), u.deps.end(), *owner) == u.deps.end()) u.deps.push_back(*owner);
      h.update("stage ").update(o.name).update(" ").update(o.hash).update("\n");
    }
    u.hash = h.hex();
  }
}

bool Pipeline::Impl::outputs_complete(const Unit& u) const {
  std::error_code ec;
  if (u.run_dir && !stdfs::exists(u.output + "/final/" + RunDir::kCompleteMarker, ec)) return false;
  for (const auto& f : u.outputs)
    if (!stdfs::is_regular_file(u.output + "/" + f, ec)) return false;
  return true;
}

// A clean start: the old output is deleted, never mixed with the new one. Only directories the pipeline
// made (marked by kOwnerFile or a stage record) or empty ones are deleted; the report directory keeps
// everything but the report's own files.
void Pipeline::Impl::prepare_output(const Unit& u) const {
  std::error_code ec;
  if (!u.owns_dir) {
    fs::make_dirs(u.output);
    for (const auto& f : u.outputs) stdfs::remove(u.output + "/" + f, ec);
    stdfs::remove(u.output + "/" + kRecordFile, ec);
    return;
  }
  if (stdfs::exists(u.output, ec)) {
    const bool ours = stdfs::exists(u.output + "/" + kOwnerFile, ec) || stdfs::exists(u.output + "/" + kRecordFile, ec);
    if (!ours && !stdfs::is_empty(u.output, ec))
      fail("pipeline stage " + u.name, u.output + " exists and was not written by the pipeline; move it away or change "
                                       "pipeline.output_dir");
    stdfs::remove_all(u.output, ec);
    if (ec) fail("pipeline stage " + u.name, "cannot delete the old " + u.output + ": " + ec.message());
  }
  fs::make_dirs(u.output);
  fs::write_file_atomic(u.output + "/" + kOwnerFile, u.name + "\n");
}

void Pipeline::Impl::write_record(Unit& u) const {
  StageRecord r;
  r.stage = u.name;
  r.hash = u.hash;
  r.seconds = u.seconds;
  r.tokens = u.run_dir ? run_tokens(u.output) : 0.0;
  r.finished_at = utc_now();
  nlohmann::ordered_json j = {{"stage", r.stage}, {"hash", r.hash}, {"seconds", r.seconds}, {"tokens", r.tokens},
                              {"finished_at", r.finished_at}};
  fs::write_file_atomic(u.output + "/" + kRecordFile, j.dump(2) + "\n");
  u.record = r;
}

nlohmann::ordered_json Pipeline::Impl::state_json() const {
  nlohmann::ordered_json j;
  j["format"] = "srl-pipeline-v1";
  j["name"] = cfg.pipeline.name;
  j["output_dir"] = out;
  j["report_dir"] = cfg.pipeline.report_dir;
  j["seed"] = cfg.pipeline.seed;
  j["version"] = SRL_VERSION;
  j["command"] = command;
  j["stages"] = nlohmann::ordered_json::object();
  for (const auto& u : units) {
    nlohmann::ordered_json s;
    s["stage"] = u.stage;
    s["status"] = u.status;
    s["seconds"] = u.seconds;
    s["hash"] = u.enabled ? nlohmann::ordered_json(u.hash) : nlohmann::ordered_json();
    s["output"] = u.output;
    if (u.record) {
      s["record_seconds"] = u.record->seconds;
      s["tokens"] = u.record->tokens;
      s["finished_at"] = u.record->finished_at;
    }
    j["stages"][u.name] = s;
  }
  nlohmann::ordered_json rep;
  rep["baseline"] = "sft";
  rep["reward_model_dir"] = enabled("reward_model") ? out + "/reward_model" : "";
  rep["methods"] = nlohmann::ordered_json::array();
  for (const auto& r : report_methods())
    rep["methods"].push_back({{"name", r.name}, {"label", r.label}, {"run_dir", r.run_dir}, {"eval_dir", r.eval_dir},
                              {"sim_dir", r.sim_dir}, {"train_seconds", r.train_seconds},
                              {"train_tokens", r.train_tokens}, {"seed", r.seed}});
  j["report"] = rep;
  return j;
}

void Pipeline::Impl::write_state() const {
  fs::make_dirs(out);
  fs::write_file_atomic(out + "/pipeline.json", state_json().dump(2) + "\n");
}

Pipeline::Pipeline(PipelineConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
Pipeline::~Pipeline() = default;

std::string Pipeline::resolved_yaml() const {
  std::string s = "# supportrl pipeline: resolved config\n" + config::to_yaml(impl_->cfg);
  for (const auto& u : impl_->units) {
    if (!u.enabled) continue;
    s += "---\n# stage " + u.name + " -> " + u.output + " (hash " + u.hash + ")\n" + u.config_yaml;
  }
  return s;
}

nlohmann::ordered_json Pipeline::run(const RunOptions& opt) {
  auto& im = *impl_;
  const auto& names = stage_names();
  auto check_stage = [&](const std::string& flag, const std::string& s) {
    if (std::find(names.begin(), names.end(), s) == names.end()) {
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
      fail(flag, "unknown stage '" + s + "' (stages: " + all + ")");
    }
    bool any = false;
    for (const auto& u : im.units) any = any || (u.stage == s && u.enabled);
    if (!any) fail(flag + " " + s, "the stage is disabled in the config");
  };
  for (const auto& f : opt.force) check_stage("--force", f);
  if (!opt.only.empty()) check_stage("--only", opt.only);
  im.command = opt.command;

  const size_t n = im.units.size();
  std::vector<bool> ran(n, false), stale(n, false);
  for (auto& u : im.units) {
    u.status = u.enabled ? "pending" : "disabled";
    u.seconds = 0;
    u.record = u.enabled ? read_stage_record(u.output) : std::nullopt;
  }
  spdlog::info("pipeline '{}': output {}, report {}", im.cfg.pipeline.name, im.out, im.cfg.pipeline.report_dir);
  for (size_t i = 0; i < n; ++i) {
    Unit& u = im.units[i];
    if (!u.enabled) {
      spdlog::info("pipeline: {} disabled", u.name);
      continue;
    }
    const bool same_hash = u.record && u.record->hash == u.hash;
    const bool up_to_date = same_hash && im.outputs_complete(u);
    std::string upstream;
    bool dep_stale = false;
    for (size_t d : u.deps) {
      if (ran[d] && upstream.empty()) upstream = im.units[d].name;
      if (stale[d]) dep_stale = true;
    }
    if (!opt.only.empty() && u.stage != opt.only) {
      const bool current = up_to_date && upstream.empty() && !dep_stale;
      u.status = current ? "skipped" : "not_run";
      stale[i] = !current;
      continue;
    }
    if (dep_stale) {
      std::string which;
      for (size_t d : u.deps)
        if (stale[d]) which = im.units[d].name;
      fail("--only " + opt.only, u.name + " reads the output of " + which +
                                     ", which is not up to date; run the pipeline without --only first");
    }
    const bool forced = std::find(opt.force.begin(), opt.force.end(), u.stage) != opt.force.end();
    if (up_to_date && !forced && upstream.empty()) {
      u.status = "skipped";
      spdlog::info("pipeline: skip {} (unchanged)", u.name);
      im.write_state();
      continue;
    }
    const std::string why = forced             ? "forced"
                            : !upstream.empty() ? upstream + " reran"
                            : !u.record         ? "no earlier run"
                            : !same_hash        ? "config or inputs changed"
                                                : "outputs incomplete";
    // Whatever read the old output is out of date from now on, even if this run stops before reaching it.
    std::vector<bool> affected(n, false);
    affected[i] = true;
    for (size_t k = i + 1; k < n; ++k) {
      for (size_t d : im.units[k].deps) affected[k] = affected[k] || affected[d];
      if (affected[k] && im.units[k].enabled) {
        std::error_code ec;
        stdfs::remove(im.units[k].output + "/" + kRecordFile, ec);
        im.units[k].record.reset();
      }
    }
    spdlog::info("pipeline: {} started ({})", u.name, why);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      im.prepare_output(u);
      u.work();
    } catch (...) {
      u.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      u.status = "failed";
      u.record.reset();
      for (size_t k = i + 1; k < n; ++k)
        if (im.units[k].enabled) im.units[k].status = "not_run";
      try {
        im.write_state();
      } catch (const std::exception& e) {
        spdlog::warn("pipeline: could not write pipeline.json: {}", first_line(e.what()));
      }
      rethrow_in(u.name);
    }
    u.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    im.write_record(u);
    u.status = "ran";
    ran[i] = true;
    spdlog::info("pipeline: {} finished in {:.1f} s", u.name, u.seconds);
    im.write_state();
  }
  im.write_state();
  size_t ran_n = 0, skipped_n = 0;
  for (const auto& u : im.units) ran_n += u.status == "ran", skipped_n += u.status == "skipped";
  spdlog::info("pipeline: done ({} ran, {} skipped); report in {}", ran_n, skipped_n, im.cfg.pipeline.report_dir);
  return im.state_json();
}

eval::ReportInput report_input_from_state(const std::string& pipeline_dir, const std::string& out_dir,
                                          const std::string& name, const std::string& command) {
  const std::string path = pipeline_dir + "/pipeline.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + first_line(e.what()));
  }
  eval::ReportInput in;
  try {
    if (j.value("format", "") != "srl-pipeline-v1") fail(path, "not a pipeline state (format srl-pipeline-v1 expected)");
    in.name = name.empty() ? j.at("name").get<std::string>() : name;
    in.out_dir = out_dir;
    in.command = command;
    const auto& rep = j.at("report");
    in.baseline = rep.at("baseline").get<std::string>();
    in.reward_model_dir = rep.at("reward_model_dir").get<std::string>();
    for (const auto& m : rep.at("methods")) {
      eval::MethodRun r;
      r.name = m.at("name").get<std::string>();
      r.label = m.at("label").get<std::string>();
      r.run_dir = m.at("run_dir").get<std::string>();
      r.eval_dir = m.at("eval_dir").get<std::string>();
      r.sim_dir = m.at("sim_dir").get<std::string>();
      r.train_seconds = m.at("train_seconds").get<double>();
      r.train_tokens = m.at("train_tokens").get<double>();
      r.seed = m.at("seed").get<uint64_t>();
      in.methods.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("malformed pipeline state: ") + first_line(e.what()));
  }
  if (in.methods.empty()) fail(path, "no evaluated method to report on");
  return in;
}

}  // namespace srl::pipeline
