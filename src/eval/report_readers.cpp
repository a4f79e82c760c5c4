// The report's readers (see report_readers.hpp). The training-run files follow the trainers' contract
// (train/run_contract.hpp); eval.json, transcripts.jsonl and simulate.json are `supportrl evaluate` and
// `supportrl simulate` outputs (docs/evaluate.md, docs/simulate.md).
#include "eval/report_readers.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/jsonl.hpp"
#include "train/run_contract.hpp"

namespace srl::eval::report {

namespace contract = train::contract;
using nlohmann::json;
using std::optional;
using std::string;

string join_path(const string& dir, const string& file) {
  if (dir.empty()) return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

namespace {

constexpr const char* kEvaluateFile = "eval.json";             // `supportrl evaluate`
constexpr const char* kTranscriptsFile = "transcripts.jsonl";  // `supportrl evaluate`
constexpr const char* kSimulateFile = "simulate.json";         // `supportrl simulate`

string short_dump(const json& v) {
  string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// A numeric field: absent or null (a diverged value, see core/metrics.hpp) is "not there"; anything
// else that is not a number is an error in the file.
optional<double> opt_number(const json& obj, const string& key, const string& where, const string& prefix = "") {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) fail(where, "\"" + prefix + key + "\" must be a number, got " + short_dump(*it));
  return it->get<double>();
}

optional<string> opt_string(const json& obj, const string& key, const string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail(where, "\"" + key + "\" must be a string, got " + short_dump(*it));
  return it->get<string>();
}

// The member `key` of `parent` when it is there and not null; it must then be of the kind `is_kind`
// accepts, else srl::fail(where, "\"key\" must be <what>").
template <class Pred>
const json* opt_member(const json& parent, const string& key, const string& where, Pred is_kind, const string& what) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return nullptr;
  if (!is_kind(*it)) fail(where, "\"" + key + "\" must be " + what);
  return &*it;
}
bool is_object(const json& j) { return j.is_object(); }
bool is_array(const json& j) { return j.is_array(); }

size_t line_at(const string& text, size_t byte) {
  size_t line = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

json read_json_file(const string& path) {
  const string text = fs::read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(path + ":" + std::to_string(line_at(text, e.byte)), string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail(path, "expected a JSON object");
  return j;
}

// Calls f(row, "path:line") for every non-blank line, each of which must be a JSON object (core/jsonl).
template <class F>
void for_each_jsonl(const string& path, F&& f) {
  read_json_lines(path, f);
}

// An optional input given as a directory: "" means not run; a directory without the file is not run
// either, but worth a warning (a typo, or a stage that was skipped).
bool optional_file(const string& dir, const string& file, string& path) {
  if (dir.empty()) return false;
  path = join_path(dir, file);
  if (fs::exists(path)) return true;
  spdlog::warn("report: {} not found; its section says \"not run\"", path);
  return false;
}

// ------------------------------------------------------------------------------------------- training run

string known_stages() {
  string s;
  for (const char* st : contract::stage::kAll) s += (s.empty() ? "" : ", ") + string(st);
  return s;
}
bool is_rl_stage(const string& stage) {
  return stage == contract::stage::kDirectPreferenceRl || stage == contract::stage::kRewardModelRl;
}

// The row's trainer: every row with a step names it, and one file holds one trainer's rows.
void check_stage(const json& j, const string& where, string& stage) {
  auto s = j.find(contract::metric::kStage);
  if (s == j.end())
    fail(where, "no \"stage\": every trainer writes one in each row with a \"step\" (" + known_stages() + ")");
  if (!s->is_string()) fail(where, "\"stage\" must be a string, got " + short_dump(*s));
  const string st = s->get<string>();
  if (std::none_of(std::begin(contract::stage::kAll), std::end(contract::stage::kAll),
                   [&](const char* k) { return st == k; }))
    fail(where, "unknown stage \"" + st + "\" (the trainers write " + known_stages() + ")");
  if (stage.empty()) stage = st;
  if (st != stage) fail(where, "stage \"" + st + "\" after rows of stage \"" + stage + "\": one run per directory");
}

Metrics read_metrics(const string& run_dir) {
  Metrics m;
  if (!optional_file(run_dir, contract::kMetricsFile, m.path)) return m;
  m.present = true;
  for_each_jsonl(m.path, [&](const json& j, const string& where) {
    auto it = j.find(contract::metric::kStep);
    if (it == j.end()) return;  // a note without a step has nothing to plot
    if (!it->is_number_integer()) fail(where, "\"step\" must be an integer, got " + short_dump(*it));
    check_stage(j, where, m.stage);
    MetricRow r;
    r.step = it->get<int64_t>();
    for (const auto& k : metric_keys())
      if (auto v = opt_number(j, k, where)) r.v[k] = *v;
    for (const auto& [k, v] : j.items())
      if (k.rfind(contract::metric::kEvalPrefix, 0) == 0) m.logged_eval = true;
    m.rows.push_back(std::move(r));
  });
  return m;
}

optional<YAML::Node> yaml_child(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) return std::nullopt;
  const YAML::Node c = n[key];
  if (!c.IsDefined() || c.IsNull()) return std::nullopt;
  return c;
}

// A positive number at `keys` below `root`; absent is an error: the trainer of `stage` writes its
// whole resolved config, so a missing key is a renamed one.
double positive_at(const YAML::Node& root, std::initializer_list<const char*> keys, const string& path,
                   const string& stage) {
  string name;
  YAML::Node n = root;
  for (const char* k : keys) {
    name += (name.empty() ? "" : ".") + string(k);
    auto c = yaml_child(n, k);
    if (!c) fail(path, name + " is missing (the " + stage + " trainer writes it; docs/report_format.md)");
    n.reset(*c);  // rebind; operator= would overwrite the node n refers to
  }
  double v = 0;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    fail(path, name + " must be a number");
  }
  if (!(v > 0)) fail(path, name + " must be positive");
  return v;
}

// What one optimizer step of the run's trainer consumes: RL prompts (rl.rollout.prompts_per_step);
// otherwise batch_size × grad_accum of its train: section, pairs (DPO, reward model) or examples (SFT).
StepUnit read_step_unit(const string& run_dir, const string& stage) {
  namespace c = contract::config;
  StepUnit u;
  if (run_dir.empty()) return u;
  const string path = join_path(run_dir, contract::kConfigFile);
  if (!fs::exists(path)) return u;  // optional: only sample efficiency needs it
  u.path = path;
  YAML::Node root;
  try {
    root = YAML::Load(fs::read_file(path));
  } catch (const YAML::Exception& e) {
    fail(path + ":" + std::to_string(e.mark.line + 1), "not valid YAML (" + e.msg + ")");
  }
  if (stage.empty()) return u;  // no stepped metrics row: nothing to count
  if (is_rl_stage(stage)) {
    u.per_step = positive_at(root, {c::kRl, c::kRollout, c::kPromptsPerStep}, path, stage);
    u.unit = "prompts";
  } else if (stage == contract::stage::kRewardModel) {
    u.per_step = positive_at(root, {c::kRewardModel, c::kTrain, c::kBatchSize}, path, stage) *
                 positive_at(root, {c::kRewardModel, c::kTrain, c::kGradAccum}, path, stage);
    u.unit = "pairs";
  } else {
    u.per_step = positive_at(root, {c::kTrain, c::kBatchSize}, path, stage) *
                 positive_at(root, {c::kTrain, c::kGradAccum}, path, stage);
    u.unit = stage == contract::stage::kDpo ? "pairs" : "examples";
  }
  return u;
}

// ------------------------------------------------------------------------------------------- evaluation

optional<WinRate> read_win(const json& parent, const string& key, const string& path, const string& prefix) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return std::nullopt;
  const string name = prefix + key;
  if (!it->is_object()) fail(path, "\"" + name + "\" must be an object {estimate, ci95}");
  auto est = opt_number(*it, "estimate", path, name + ".");
  if (!est) fail(path, "\"" + name + ".estimate\" is missing");
  auto ci = it->find("ci95");
  if (ci == it->end() || !ci->is_array() || ci->size() != 2 || !(*ci)[0].is_number() || !(*ci)[1].is_number())
    fail(path, "\"" + name + ".ci95\" must be [lo, hi]");
  return WinRate{*est, (*ci)[0].get<double>(), (*ci)[1].get<double>()};
}

void read_per_intent(const json& pi, const string& p, EvalData& e) {
  for (const auto& row : pi) {
    if (!row.is_object()) fail(p, "\"per_intent\" entries must be objects");
    IntentRow r;
    auto intent = opt_string(row, "intent", p);
    if (!intent) fail(p, "a \"per_intent\" entry has no \"intent\"");
    r.intent = *intent;
    r.prompts = opt_number(row, "prompts", p, "per_intent.");
    r.win_rate_panel = opt_number(row, "win_rate_panel", p, "per_intent.");
    r.mean_reward = opt_number(row, "mean_reward", p, "per_intent.");
    e.per_intent.push_back(std::move(r));
  }
}

EvalData read_eval_json(const json& j, const string& path);

EvalData read_eval(const string& method, const string& eval_dir, json* raw = nullptr) {
  if (eval_dir.empty()) fail("report", "method '" + method + "' has no eval_dir: run `supportrl evaluate` first");
  const string path = join_path(eval_dir, kEvaluateFile);
  if (!fs::exists(path)) fail(path, "not found: run `supportrl evaluate` for method '" + method + "' first");
  json j = read_json_file(path);
  auto e = read_eval_json(j, path);
  if (raw) *raw = std::move(j);
  return e;
}

EvalData read_eval_json(const json& j, const string& path) {
  EvalData e;
  e.path = path;
  const string& p = e.path;
  if (const json* w = opt_member(j, "win_rate_vs_baseline", p, is_object, "an object")) {
    e.win_panel = read_win(*w, "panel", p, "win_rate_vs_baseline.");
    e.win_rm = read_win(*w, "reward_model", p, "win_rate_vs_baseline.");
  }
  if (const json* lc = opt_member(j, "lc_win_rate", p, is_object, "an object")) {
    e.lc_panel = opt_number(*lc, "panel", p, "lc_win_rate.");
    e.lc_rm = opt_number(*lc, "reward_model", p, "lc_win_rate.");
  }
  e.mean_reward = opt_number(j, "mean_reward", p);
  e.mean_panel_score = opt_number(j, "mean_panel_score", p);
  e.refusal = opt_number(j, "refusal_rate", p);
  e.unsafe = opt_number(j, "unsafe_compliance_rate", p);
  e.kl = opt_number(j, "kl_to_reference", p);
  e.mean_length = opt_number(j, "mean_length", p);
  e.tokens_per_s = opt_number(j, "tokens_per_s", p);
  e.prompts = opt_number(j, "prompts", p);
  e.safe_prompts = opt_number(j, "safe_prompts", p);
  e.adversarial_prompts = opt_number(j, "adversarial_prompts", p);
  if (const json* lat = opt_member(j, "latency_ms", p, is_object, "an object {p50, p95}")) {
    e.p50 = opt_number(*lat, "p50", p, "latency_ms.");
    e.p95 = opt_number(*lat, "p95", p, "latency_ms.");
  }
  if (const json* ev = opt_member(j, "evaluators", p, is_object, "an object"))
    for (const auto& [k, v] : ev->items())
      if (auto x = opt_number(*ev, k, p, "evaluators.")) e.evaluators[k] = *x;
  if (const json* pi = opt_member(j, "per_intent", p, is_array, "an array")) read_per_intent(*pi, p, e);
  return e;
}

HandlingData read_handling(const json& parent, const string& key, const string& p, const string& prefix) {
  HandlingData h;
  const json* j = opt_member(parent, key, p, is_object, "an object");
  if (!j) return h;
  const string pre = prefix + key + ".";
  h.present = true;
  h.addresses_intent = opt_number(*j, "addresses_intent_rate", p, pre);
  h.refusal = opt_number(*j, "refusal_rate", p, pre);
  h.safe_ok = opt_number(*j, "safe_ok_rate", p, pre);
  h.unsafe = opt_number(*j, "unsafe_rate", p, pre);
  h.crisis = opt_number(*j, "crisis_rate", p, pre);
  h.escalation = opt_number(*j, "escalation_rate", p, pre);
  return h;
}

SetEval read_set(const string& name, const string& method, const string& eval_dir) {
  SetEval s;
  s.name = name;
  json j;
  s.eval = read_eval(method, eval_dir, &j);
  const string& p = s.eval.path;
  s.handling = read_handling(j, "handling", p, "");
  if (const json* g = opt_member(j, "guardrail", p, is_object, "an object")) {
    s.guarded.present = true;
    if (const json* w = opt_member(*g, "win_rate_vs_baseline", p, is_object, "an object"))
      s.guarded.win_panel = read_win(*w, "panel", p, "guardrail.win_rate_vs_baseline.");
    s.guarded.refusal = opt_number(*g, "refusal_rate", p, "guardrail.");
    s.guarded.unsafe = opt_number(*g, "unsafe_compliance_rate", p, "guardrail.");
    s.guarded.routed = opt_number(*g, "routed", p, "guardrail.");
    s.guarded.handling = read_handling(*g, "handling", p, "guardrail.");
  }
  return s;
}

Transcripts read_transcripts(const string& eval_dir) {
  Transcripts t;
  if (!optional_file(eval_dir, kTranscriptsFile, t.path)) return t;
  t.present = true;
  for_each_jsonl(t.path, [&](const json& j, const string& where) {
    Transcript r;
    auto id = opt_string(j, "id", where);
    auto prompt = opt_string(j, "prompt", where);
    auto response = opt_string(j, "response", where);
    if (!id || !prompt || !response) fail(where, "a transcript needs \"id\", \"prompt\" and \"response\" strings");
    r.id = *id;
    r.prompt = *prompt;
    r.response = *response;
    r.intent = opt_string(j, "intent", where).value_or("");
    r.baseline_response = opt_string(j, "baseline_response", where);
    r.reward = opt_number(j, "reward", where);
    r.panel_prob = opt_number(j, "panel_prob", where);
    r.length = opt_number(j, "length", where);
    r.latency = opt_number(j, "latency_ms", where);
    if (t.by_id.count(r.id)) fail(where, "duplicate id \"" + r.id + "\"");
    t.by_id[r.id] = t.rows.size();
    t.rows.push_back(std::move(r));
  });
  return t;
}

// ------------------------------------------------------------------------------------------- simulation

void read_pass_k(const json& pk, const string& p, SimData& s) {
  for (const auto& [k, v] : pk.items()) {
    int64_t kk = 0;
    try {
      size_t used = 0;
      kk = std::stoll(k, &used);
      if (used != k.size() || kk < 1) throw std::invalid_argument(k);
    } catch (const std::exception&) {
      fail(p, "\"pass_k\" keys must be positive integers, got \"" + k + "\"");
    }
    if (auto x = opt_number(pk, k, p, "pass_k.")) s.pass_k.emplace_back(kk, *x);
  }
  std::sort(s.pass_k.begin(), s.pass_k.end());
}

SimData read_sim(const string& sim_dir) {
  SimData s;
  if (!optional_file(sim_dir, kSimulateFile, s.path)) return s;
  s.present = true;
  const json j = read_json_file(s.path);
  const string& p = s.path;
  s.scenarios = opt_number(j, "scenarios", p);
  s.trials = opt_number(j, "trials", p);
  s.success_rate = opt_number(j, "success_rate", p);
  s.mean_cumulative_reward = opt_number(j, "mean_cumulative_reward", p);
  s.mean_turns = opt_number(j, "mean_turns_to_resolution", p);
  if (const json* pk = opt_member(j, "pass_k", p, is_object, "an object {\"k\": rate}")) read_pass_k(*pk, p, s);
  if (const json* oc = opt_member(j, "outcomes", p, is_object, "an object"))
    for (const auto& [k, v] : oc->items())
      if (auto x = opt_number(*oc, k, p, "outcomes.")) s.outcomes.emplace_back(k, *x);
  return s;
}

// ------------------------------------------------------------------------------------------- reward model

svg::CalibrationBin read_bin(const json& b, const string& p) {
  namespace k = contract::reward_eval;
  const string pre = string(k::kReliability) + ".";
  if (!b.is_object()) fail(p, "\"reliability\" entries must be objects");
  svg::CalibrationBin c;
  auto lo = opt_number(b, k::kLo, p, pre);
  auto hi = opt_number(b, k::kHi, p, pre);
  auto count = opt_number(b, k::kCount, p, pre);
  if (!lo || !hi || !count) fail(p, "a \"reliability\" bin needs lo, hi and count");
  c.lo = *lo;
  c.hi = *hi;
  c.count = static_cast<int64_t>(*count);
  c.mean_confidence = opt_number(b, k::kMeanConfidence, p, pre);
  c.observed = opt_number(b, k::kObserved, p, pre);
  return c;
}

RewardModelData read_reward_model(const string& dir) {
  namespace k = contract::reward_eval;
  RewardModelData r;
  if (!optional_file(dir, contract::kEvalFile, r.path)) return r;
  r.present = true;
  const json j = read_json_file(r.path);
  const string& p = r.path;
  r.accuracy = opt_number(j, k::kAccuracy, p);
  r.ece = opt_number(j, k::kEce, p);
  r.non_tie = opt_number(j, k::kNonTie, p);
  if (const json* lc = opt_member(j, k::kLabelCeiling, p, is_object, "an object")) {
    const string pre = string(k::kLabelCeiling) + ".";
    r.agreement = opt_number(*lc, k::kAgreement, p, pre);
    r.bayes_accuracy = opt_number(*lc, k::kBayesAccuracy, p, pre);
    r.ceiling_source = opt_string(*lc, k::kSource, p).value_or("");
  }
  if (const json* rel = opt_member(j, k::kReliability, p, is_array, "an array of bins"))
    for (const auto& b : *rel) r.bins.push_back(read_bin(b, p));
  return r;
}

}  // namespace

// ------------------------------------------------------------------------------------------- metrics

const std::vector<string>& metric_keys() {
  namespace k = contract::metric;
  static const std::vector<string> keys = {k::kLoss,
                                           k::kEvalLoss,
                                           k::kRewardsAccuracies,
                                           k::kRewardsMargins,
                                           k::kEvalRewardsAccuracies,
                                           k::kRewardMean,
                                           k::kKl,
                                           k::kEntropy,
                                           k::kResponseLength,
                                           k::kEvalPanelWinRate,
                                           k::kEvalRewardMean,
                                           k::kAccuracy,
                                           k::kEvalAccuracy};
  return keys;
}

bool trainer_writes(const Metrics& m, const string& key) {
  namespace k = contract::metric;
  if (m.stage.empty()) return false;
  if (key == k::kLoss) return true;  // every trainer, every row
  if (key == k::kEvalPanelWinRate) return m.logged_eval && is_rl_stage(m.stage);
  if (key == k::kEvalRewardsAccuracies) return m.logged_eval && m.stage == contract::stage::kDpo;
  return false;  // not drawn, so not expected
}

optional<int64_t> Metrics::last_step() const {
  optional<int64_t> s;
  for (const auto& r : rows) s = std::max(s.value_or(r.step), r.step);
  return s;
}

svg::Series Metrics::series(const string& name, const string& key) const {
  svg::Series s{name, {}, {}};
  for (const auto& r : rows)
    if (auto it = r.v.find(key); it != r.v.end()) {
      s.x.push_back(static_cast<double>(r.step));
      s.y.push_back(it->second);
    }
  return s;
}

const Transcript* Transcripts::find(const string& id) const {
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &rows[it->second];
}

// ------------------------------------------------------------------------------------------- load

std::vector<const Run*> Loaded::runs_named(const string& name) const {
  std::vector<const Run*> rs;
  for (const auto& r : runs)
    if (r.m.name == name) rs.push_back(&r);
  return rs;
}

namespace {

ClassifierScores read_classifier_scores(const json& j, const string& p, const string& pre) {
  ClassifierScores c;
  c.intent_accuracy = opt_number(j, "intent_accuracy", p, pre);
  c.unsafe_recall = opt_number(j, "unsafe_recall", p, pre);
  c.false_positive_rate = opt_number(j, "false_positive_rate", p, pre);
  c.risk_accuracy = opt_number(j, "risk_accuracy", p, pre);
  if (const json* r = opt_member(j, "risks", p, is_array, "an array"))
    for (const auto& x : *r) {
      if (!x.is_object() || !x.contains("name") || !x["name"].is_string()) fail(p, "\"" + pre + "risks\" entries need a name");
      ClassifierScores::Risk k;
      k.name = x["name"].get<string>();
      for (auto [key, field] : {std::pair{"support", &k.support}, {"precision", &k.precision}, {"recall", &k.recall},
                                {"f1", &k.f1}})
        *field = opt_number(x, key, p, pre + "risks.").value_or(0.0);
      c.risks.push_back(k);
    }
  for (auto [key, bins, ece] : {std::tuple{"risk_reliability", &c.risk_bins, &c.risk_ece},
                                {"intent_reliability", &c.intent_bins, &c.intent_ece}})
    if (const json* rel = opt_member(j, key, p, is_object, "an object")) {
      *ece = opt_number(*rel, "ece", p, pre + key + ".");
      if (const json* b = opt_member(*rel, "bins", p, is_array, "an array"))
        for (const auto& x : *b) bins->push_back(read_bin(x, p));
    }
  return c;
}

GuardrailEvalData read_guardrail_eval(const string& path) {
  GuardrailEvalData g;
  g.path = path;
  if (path.empty() || !fs::exists(path)) return g;
  const json j = read_json_file(path);
  g.present = true;
  g.threshold = opt_number(j, "threshold", path);
  const json* sets = opt_member(j, "sets", path, is_array, "an array");
  if (!sets) fail(path, "\"sets\" is missing");
  for (const auto& x : *sets) {
    if (!x.is_object() || !x.contains("name") || !x["name"].is_string() || !x.contains("classifier") || !x.contains("keyword"))
      fail(path, "a \"sets\" entry needs name, classifier and keyword");
    GuardrailSet s;
    s.name = x["name"].get<string>();
    s.tickets = opt_number(x["classifier"], "tickets", path, "sets.classifier.").value_or(0.0);
    s.unsafe = opt_number(x["classifier"], "unsafe_tickets", path, "sets.classifier.").value_or(0.0);
    s.classifier = read_classifier_scores(x["classifier"], path, "sets.classifier.");
    s.keyword = read_classifier_scores(x["keyword"], path, "sets.keyword.");
    g.sets.push_back(std::move(s));
  }
  return g;
}

}  // namespace

Loaded load(const ReportInput& in) {
  if (in.methods.empty()) fail("report", "no methods given");
  Loaded L;
  L.in = &in;
  std::map<string, size_t> count;
  std::set<std::pair<string, uint64_t>> seen;
  for (const auto& m : in.methods) {
    if (m.name.empty()) fail("report", "a method has no name");
    if (!seen.insert({m.name, m.seed}).second)
      fail("report", "method '" + m.name + "' with seed " + std::to_string(m.seed) + " is listed twice");
    if (count[m.name]++ == 0) L.names.push_back(m.name);
  }
  bool found = false;
  for (const auto& m : in.methods) {
    Run r;
    r.m = m;
    r.seeds_of_name = count[m.name];
    r.first_of_name = std::none_of(L.runs.begin(), L.runs.end(), [&](const Run& o) { return o.m.name == m.name; });
    r.display = r.label();
    if (r.seeds_of_name > 1) r.display += " (seed " + std::to_string(m.seed) + ")";
    if (m.name == in.baseline && !found) {
      r.is_baseline = true;
      L.base = L.runs.size();
      found = true;
    }
    r.metrics = read_metrics(m.run_dir);
    r.unit = read_step_unit(m.run_dir, r.metrics.stage);
    r.sets.push_back(read_set("in-template", m.name, m.eval_dir));
    r.eval = r.sets[0].eval;
    for (const auto& [set, dir] : m.set_evals) r.sets.push_back(read_set(set, m.name, dir));
    r.sim = read_sim(m.sim_dir);
    r.tr = read_transcripts(m.eval_dir);
    L.runs.push_back(std::move(r));
  }
  if (!found) fail("report", "no method is named '" + in.baseline + "', the baseline");
  L.rm = read_reward_model(in.reward_model_dir);
  L.guardrail = read_guardrail_eval(in.guardrail_eval);
  return L;
}

}  // namespace srl::eval::report
