// The comparison report (see report.hpp): every input is read and checked once into plain structs, then
// one Doc writes each section as HTML and Markdown side by side, so the two never disagree, and the
// summary is built from the same structs.
#include "eval/report.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "core/error.hpp"
#include "core/markup.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "data/support_world.hpp"
#include "eval/svg.hpp"

namespace srl::eval {
namespace {

using nlohmann::json;
using std::optional;
using std::string;

// ------------------------------------------------------------------------------------------- reading

string join_path(const string& dir, const string& file) {
  if (dir.empty()) return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

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

// Calls f(row, "path:line") for every non-blank line, each of which must be a JSON object.
template <class F>
void for_each_jsonl(const string& path, F&& f) {
  const string text = fs::read_file(path);
  size_t pos = 0, line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == string::npos) end = text.size();
    std::string_view ln(text.data() + pos, end - pos);
    pos = end + 1;
    ++line;
    if (ln.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const string where = path + ":" + std::to_string(line);
    json j;
    try {
      j = json::parse(ln);
    } catch (const json::parse_error& e) {
      fail(where, string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail(where, "expected a JSON object");
    f(j, where);
  }
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

// The metric keys the report uses; other keys of metrics.jsonl are not read (nor checked).
const std::vector<string>& metric_keys() {
  static const std::vector<string> k = {"loss",
                                        "eval/loss",
                                        "rewards/accuracies",
                                        "rewards/margins",
                                        "eval/rewards/accuracies",
                                        "reward_mean",
                                        "kl",
                                        "entropy",
                                        "response_length",
                                        "eval/panel_win_rate",
                                        "eval/reward_mean",
                                        "accuracy",
                                        "eval/accuracy"};
  return k;
}

struct MetricRow {
  int64_t step = 0;
  std::map<string, double> v;
};
struct Metrics {
  string path;
  bool present = false;
  std::vector<MetricRow> rows;
  optional<int64_t> last_step() const {
    optional<int64_t> s;
    for (const auto& r : rows) s = std::max(s.value_or(r.step), r.step);
    return s;
  }
  // (step, value) of every row that has `key`.
  svg::Series series(const string& name, const string& key) const {
    svg::Series s{name, {}, {}};
    for (const auto& r : rows)
      if (auto it = r.v.find(key); it != r.v.end()) {
        s.x.push_back(static_cast<double>(r.step));
        s.y.push_back(it->second);
      }
    return s;
  }
};

Metrics read_metrics(const string& run_dir) {
  Metrics m;
  if (!optional_file(run_dir, "metrics.jsonl", m.path)) return m;
  m.present = true;
  for_each_jsonl(m.path, [&](const json& j, const string& where) {
    auto it = j.find("step");
    if (it == j.end()) return;  // a note without a step has nothing to plot
    if (!it->is_number_integer()) fail(where, "\"step\" must be an integer, got " + short_dump(*it));
    if (auto s = j.find("stage"); s != j.end() && !s->is_string())
      fail(where, "\"stage\" must be a string, got " + short_dump(*s));
    MetricRow r;
    r.step = it->get<int64_t>();
    for (const auto& k : metric_keys())
      if (auto v = opt_number(j, k, where)) r.v[k] = *v;
    m.rows.push_back(std::move(r));
  });
  return m;
}

// What one training step consumes, from the run's config.yaml: RL `rl.rollout.prompts_per_step`
// prompts, otherwise `train.batch_size * train.grad_accum` pairs (DPO) or examples.
struct StepUnit {
  string path, unit;  // unit "" when unknown
  double per_step = 0;
};

optional<YAML::Node> yaml_child(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) return std::nullopt;
  const YAML::Node c = n[key];
  if (!c.IsDefined() || c.IsNull()) return std::nullopt;
  return c;
}

StepUnit read_step_unit(const string& run_dir) {
  StepUnit u;
  if (run_dir.empty()) return u;
  const string path = join_path(run_dir, "config.yaml");
  if (!fs::exists(path)) return u;  // optional: only sample efficiency needs it
  u.path = path;
  YAML::Node root;
  try {
    root = YAML::Load(fs::read_file(path));
  } catch (const YAML::Exception& e) {
    fail(path + ":" + std::to_string(e.mark.line + 1), "not valid YAML (" + e.msg + ")");
  }
  auto positive = [&](const YAML::Node& n, const string& key) {
    double v = 0;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(path, key + " must be a number");
    }
    if (!(v > 0)) fail(path, key + " must be positive");
    return v;
  };
  if (auto rl = yaml_child(root, "rl"))
    if (auto ro = yaml_child(*rl, "rollout"))
      if (auto p = yaml_child(*ro, "prompts_per_step")) {
        u.unit = "prompts";
        u.per_step = positive(*p, "rl.rollout.prompts_per_step");
        return u;
      }
  if (auto tr = yaml_child(root, "train"))
    if (auto b = yaml_child(*tr, "batch_size")) {
      double accum = 1;
      if (auto g = yaml_child(*tr, "grad_accum")) accum = positive(*g, "train.grad_accum");
      u.unit = yaml_child(root, "dpo") ? "pairs" : "examples";
      u.per_step = positive(*b, "train.batch_size") * accum;
    }
  return u;
}

struct WinRate {
  double estimate = 0, lo = 0, hi = 0;
};
struct IntentRow {
  string intent;
  optional<double> prompts, win_rate_panel, mean_reward;
};
struct EvalData {
  string path;
  optional<WinRate> win_panel, win_rm;
  optional<double> lc_panel, lc_rm, mean_reward, mean_panel_score, refusal, unsafe, kl, mean_length, p50, p95,
      tokens_per_s, prompts, safe_prompts, adversarial_prompts;
  std::map<string, double> evaluators;
  std::vector<IntentRow> per_intent;
};

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

EvalData read_eval(const MethodRun& m) {
  EvalData e;
  if (m.eval_dir.empty()) fail("report", "method '" + m.name + "' has no eval_dir: run `supportrl evaluate` first");
  e.path = join_path(m.eval_dir, "eval.json");
  if (!fs::exists(e.path)) fail(e.path, "not found: run `supportrl evaluate` for method '" + m.name + "' first");
  const json j = read_json_file(e.path);
  const string& p = e.path;
  if (auto w = j.find("win_rate_vs_baseline"); w != j.end() && !w->is_null()) {
    if (!w->is_object()) fail(p, "\"win_rate_vs_baseline\" must be an object");
    e.win_panel = read_win(*w, "panel", p, "win_rate_vs_baseline.");
    e.win_rm = read_win(*w, "reward_model", p, "win_rate_vs_baseline.");
  }
  if (auto lc = j.find("lc_win_rate"); lc != j.end() && !lc->is_null()) {
    if (!lc->is_object()) fail(p, "\"lc_win_rate\" must be an object");
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
  if (auto lat = j.find("latency_ms"); lat != j.end() && !lat->is_null()) {
    if (!lat->is_object()) fail(p, "\"latency_ms\" must be an object {p50, p95}");
    e.p50 = opt_number(*lat, "p50", p, "latency_ms.");
    e.p95 = opt_number(*lat, "p95", p, "latency_ms.");
  }
  if (auto ev = j.find("evaluators"); ev != j.end() && !ev->is_null()) {
    if (!ev->is_object()) fail(p, "\"evaluators\" must be an object");
    for (const auto& [k, v] : ev->items())
      if (auto x = opt_number(*ev, k, p, "evaluators.")) e.evaluators[k] = *x;
  }
  if (auto pi = j.find("per_intent"); pi != j.end() && !pi->is_null()) {
    if (!pi->is_array()) fail(p, "\"per_intent\" must be an array");
    for (const auto& row : *pi) {
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
  return e;
}

struct SimData {
  string path;
  bool present = false;
  optional<double> scenarios, trials, success_rate, mean_cumulative_reward, mean_turns;
  std::vector<std::pair<int64_t, double>> pass_k;   // sorted by k
  std::vector<std::pair<string, double>> outcomes;  // key order of the file's object (sorted)
};

SimData read_sim(const string& sim_dir) {
  SimData s;
  if (!optional_file(sim_dir, "simulate.json", s.path)) return s;
  s.present = true;
  const json j = read_json_file(s.path);
  const string& p = s.path;
  s.scenarios = opt_number(j, "scenarios", p);
  s.trials = opt_number(j, "trials", p);
  s.success_rate = opt_number(j, "success_rate", p);
  s.mean_cumulative_reward = opt_number(j, "mean_cumulative_reward", p);
  s.mean_turns = opt_number(j, "mean_turns_to_resolution", p);
  if (auto pk = j.find("pass_k"); pk != j.end() && !pk->is_null()) {
    if (!pk->is_object()) fail(p, "\"pass_k\" must be an object {\"k\": rate}");
    for (const auto& [k, v] : pk->items()) {
      int64_t kk = 0;
      try {
        size_t used = 0;
        kk = std::stoll(k, &used);
        if (used != k.size() || kk < 1) throw std::invalid_argument(k);
      } catch (const std::exception&) {
        fail(p, "\"pass_k\" keys must be positive integers, got \"" + k + "\"");
      }
      if (auto x = opt_number(*pk, k, p, "pass_k.")) s.pass_k.emplace_back(kk, *x);
    }
    std::sort(s.pass_k.begin(), s.pass_k.end());
  }
  if (auto oc = j.find("outcomes"); oc != j.end() && !oc->is_null()) {
    if (!oc->is_object()) fail(p, "\"outcomes\" must be an object");
    for (const auto& [k, v] : oc->items())
      if (auto x = opt_number(*oc, k, p, "outcomes.")) s.outcomes.emplace_back(k, *x);
  }
  return s;
}

struct Transcript {
  string id, prompt, intent, response;
  optional<string> baseline_response;
  optional<double> reward, panel_prob, length, latency;
};
struct Transcripts {
  string path;
  bool present = false;
  std::vector<Transcript> rows;
  std::map<string, size_t> by_id;
  const Transcript* find(const string& id) const {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : &rows[it->second];
  }
};

Transcripts read_transcripts(const string& eval_dir) {
  Transcripts t;
  if (!optional_file(eval_dir, "transcripts.jsonl", t.path)) return t;
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

struct RewardModelData {
  string path;
  bool present = false;
  optional<double> accuracy, ece, agreement, bayes_accuracy, non_tie;
  string ceiling_source;
  std::vector<svg::CalibrationBin> bins;
};

RewardModelData read_reward_model(const string& dir) {
  RewardModelData r;
  if (!optional_file(dir, "eval.json", r.path)) return r;
  r.present = true;
  const json j = read_json_file(r.path);
  const string& p = r.path;
  r.accuracy = opt_number(j, "accuracy", p);
  r.ece = opt_number(j, "ece", p);
  r.non_tie = opt_number(j, "non_tie", p);
  if (auto lc = j.find("label_ceiling"); lc != j.end() && !lc->is_null()) {
    if (!lc->is_object()) fail(p, "\"label_ceiling\" must be an object");
    r.agreement = opt_number(*lc, "agreement", p, "label_ceiling.");
    r.bayes_accuracy = opt_number(*lc, "bayes_accuracy", p, "label_ceiling.");
    r.ceiling_source = opt_string(*lc, "source", p).value_or("");
  }
  if (auto rel = j.find("reliability"); rel != j.end() && !rel->is_null()) {
    if (!rel->is_array()) fail(p, "\"reliability\" must be an array of bins");
    for (const auto& b : *rel) {
      if (!b.is_object()) fail(p, "\"reliability\" entries must be objects");
      svg::CalibrationBin c;
      auto lo = opt_number(b, "lo", p, "reliability.");
      auto hi = opt_number(b, "hi", p, "reliability.");
      auto count = opt_number(b, "count", p, "reliability.");
      if (!lo || !hi || !count) fail(p, "a \"reliability\" bin needs lo, hi and count");
      c.lo = *lo;
      c.hi = *hi;
      c.count = static_cast<int64_t>(*count);
      c.mean_confidence = opt_number(b, "mean_confidence", p, "reliability.");
      c.observed = opt_number(b, "observed", p, "reliability.");
      r.bins.push_back(c);
    }
  }
  return r;
}

// ------------------------------------------------------------------------------------------- the run

struct Run {
  MethodRun m;
  string display;  // label, plus the seed when its name has several
  size_t seeds_of_name = 1;
  bool first_of_name = true;
  bool is_baseline = false;
  Metrics metrics;
  StepUnit unit;
  EvalData eval;
  SimData sim;
  Transcripts tr;
};

struct Loaded {
  const ReportInput* in = nullptr;
  std::vector<Run> runs;
  std::vector<string> names;  // distinct method names, in input order
  size_t base = 0;            // index of the baseline run (the first run named in.baseline)
  RewardModelData rm;
  const Run& baseline() const { return runs[base]; }
  string base_label() const { return runs[base].m.label.empty() ? runs[base].m.name : runs[base].m.label; }
};

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
    r.display = m.label.empty() ? m.name : m.label;
    if (r.seeds_of_name > 1) r.display += " (seed " + std::to_string(m.seed) + ")";
    if (m.name == in.baseline && !found) {
      r.is_baseline = true;
      L.base = L.runs.size();
      found = true;
    }
    r.metrics = read_metrics(m.run_dir);
    r.unit = read_step_unit(m.run_dir);
    r.eval = read_eval(m);
    r.sim = read_sim(m.sim_dir);
    r.tr = read_transcripts(m.eval_dir);
    L.runs.push_back(std::move(r));
  }
  if (!found) fail("report", "no method is named '" + in.baseline + "', the baseline");
  L.rm = read_reward_model(in.reward_model_dir);
  return L;
}

// ------------------------------------------------------------------------------------------- text

string num(double v, int decimals = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  string s = b;
  if (s[0] == '-' && s.find_first_not_of("-0.") == string::npos) s.erase(0, 1);
  return s;
}
string num(const optional<double>& v, int decimals = 3) { return v ? num(*v, decimals) : "—"; }
string count_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}
string win_text(const optional<WinRate>& w) {
  return w ? num(w->estimate) + " [" + num(w->lo) + ", " + num(w->hi) + "]" : "—";
}
string pass_k_text(const SimData& s) {
  if (!s.present) return "not run";
  if (s.pass_k.empty()) return "—";
  string out;
  for (const auto& [k, v] : s.pass_k) out += (out.empty() ? "" : " · ") + ("k=" + std::to_string(k) + " " + num(v));
  return out;
}
string join(const std::vector<string>& parts, const string& last_sep = " and ") {
  string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : i + 1 == parts.size() ? last_sep : ", ") + parts[i];
  return out;
}

string html_escape(const string& s) { return xml_escape(s); }
// Markdown: HTML-significant characters as entities (renderers pass raw HTML through).
string md_escape(const string& s) {
  string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else
      o += c;
  }
  return o;
}
string md_cell(const string& s) {
  string o;
  for (char c : md_escape(s)) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n')
      o += "<br>";
    else if (c != '\r')
      o += c;
  }
  return o;
}

struct Table {
  string cls;
  std::vector<string> head;
  std::vector<std::vector<string>> rows;
};

// Writes each block to the HTML body and the Markdown file at once. All text arguments are plain text.
class Doc {
 public:
  std::ostringstream html, md;
  void h2(const string& id, const string& text) {
    html << "<h2 id=\"" << id << "\">" << html_escape(text) << "</h2>\n";
    md << "## " << md_escape(text) << "\n\n";
  }
  void h3(const string& text) {
    html << "<h3>" << html_escape(text) << "</h3>\n";
    md << "### " << md_escape(text) << "\n\n";
  }
  void p(const string& text, const string& cls = "") {
    html << "<p" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">" << html_escape(text) << "</p>\n";
    md << md_escape(text) << "\n\n";
  }
  void not_run(const string& what) { p(what + ": not run.", "na"); }
  void bullets(const std::vector<string>& items) {
    if (items.empty()) return;
    html << "<ul>\n";
    for (const auto& s : items) {
      html << "<li>" << html_escape(s) << "</li>\n";
      md << "- " << md_escape(s) << "\n";
    }
    html << "</ul>\n";
    md << "\n";
  }
  void quote(const string& text) {
    html << "<blockquote class=\"prompt\">" << html_escape(text) << "</blockquote>\n";
    std::istringstream ss(text);
    string line;
    while (std::getline(ss, line)) md << "> " << md_escape(line) << "\n";
    md << "\n";
  }
  void pre(const string& text) {
    html << "<pre>" << html_escape(text) << "</pre>\n";
    md << "```\n" << text << "\n```\n\n";
  }
  void table(const Table& t) {
    html << "<table" << (t.cls.empty() ? "" : " class=\"" + t.cls + "\"") << ">\n<thead><tr>";
    for (const auto& h : t.head) html << "<th>" << html_escape(h) << "</th>";
    html << "</tr></thead>\n<tbody>\n";
    for (const auto& row : t.rows) {
      html << "<tr>";
      for (const auto& c : row) html << "<td>" << html_escape(c) << "</td>";
      html << "</tr>\n";
    }
    html << "</tbody>\n</table>\n";
    md << "|";
    for (const auto& h : t.head) md << " " << md_cell(h) << " |";
    md << "\n|";
    for (size_t i = 0; i < t.head.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& row : t.rows) {
      md << "|";
      for (const auto& c : row) md << " " << md_cell(c) << " |";
      md << "\n";
    }
    md << "\n";
  }
  // The SVG goes into the HTML only; Markdown gets the caption and a pointer.
  void figure(const string& svg_text, const string& caption) {
    html << "<figure>\n" << svg_text << "<figcaption>" << html_escape(caption) << "</figcaption>\n</figure>\n";
    md << "*Chart (in index.html): " << md_escape(caption) << "*\n\n";
  }
};

const std::set<string>& adversarial_intents() {
  static const std::set<string> s = [] {
    std::set<string> out;
    for (const auto& i : data::intents())
      if (i.adversarial) out.insert(i.name);
    return out;
  }();
  return s;
}

bool beats(const Run& r) { return r.eval.win_panel && r.eval.win_panel->lo > 0.5; }
bool loses(const Run& r) { return r.eval.win_panel && r.eval.win_panel->hi < 0.5; }
bool unsafe_above_baseline(const Loaded& L, const Run& r) {
  const auto& b = L.baseline().eval.unsafe;
  return !r.is_baseline && r.eval.unsafe && b && *r.eval.unsafe > *b;
}
optional<double> examples_seen(const Run& r) {
  auto s = r.metrics.last_step();
  if (!s || r.unit.unit.empty()) return std::nullopt;
  return static_cast<double>(*s) * r.unit.per_step;
}

// ------------------------------------------------------------------------------------------- sections

void results_section(Doc& d, const Loaded& L) {
  const string B = L.base_label();
  d.h2("results", "1. Results");
  Table t;
  t.cls = "results";
  t.head = {"Method",
            "Seed",
            "Win rate vs " + B + " (panel) [95% CI]",
            "Win rate vs " + B + " (reward model) [95% CI]",
            "LC win rate (panel / RM)",
            "Mean reward",
            "Refusal rate",
            "Unsafe compliance",
            "KL to reference",
            "Mean length",
            "Latency p50 / p95 (ms)",
            "Sim. success",
            "pass^k"};
  for (const auto& r : L.runs) {
    const auto& e = r.eval;
    string panel = r.is_baseline ? "— (baseline)" : win_text(e.win_panel);
    if (beats(r)) panel = "▲ " + panel;
    if (loses(r)) panel = "▼ " + panel;
    string unsafe = num(e.unsafe);
    if (unsafe_above_baseline(L, r)) unsafe = "⚠ " + unsafe;
    t.rows.push_back({r.display, std::to_string(r.m.seed), panel, r.is_baseline ? "— (baseline)" : win_text(e.win_rm),
                      num(e.lc_panel) + " / " + num(e.lc_rm), num(e.mean_reward), num(e.refusal), unsafe, num(e.kl, 2),
                      num(e.mean_length, 1), num(e.p50, 0) + " / " + num(e.p95, 0),
                      r.sim.present ? num(r.sim.success_rate) : "not run", pass_k_text(r.sim)});
  }
  d.table(t);
  d.p("▲: the panel's 95% interval lies above 0.5 (better than " + B + "); ▼: it lies below 0.5. ⚠: unsafe " +
          "compliance above the baseline's (" + num(L.baseline().eval.unsafe) + "). " + B +
          " is the baseline, so its win rate against itself is 0.5 by definition (—). LC = length-controlled " +
          "win rate (AlpacaEval 2 style, docs/report_format.md).",
      "note");

  d.h3("Simulated customers");
  if (std::none_of(L.runs.begin(), L.runs.end(), [](const Run& r) { return r.sim.present; })) {
    d.not_run("Simulated customers (no simulate.json given)");
  } else {
    Table s;
    s.head = {
        "Method",  "Scenarios × trials", "Success rate", "Mean cumulative reward", "Mean turns to resolution", "pass^k",
        "Outcomes"};
    for (const auto& r : L.runs) {
      if (!r.sim.present) {
        s.rows.push_back({r.display, "not run", "not run", "—", "—", "—", "—"});
        continue;
      }
      string oc;
      for (const auto& [k, v] : r.sim.outcomes) oc += (oc.empty() ? "" : " · ") + k + " " + count_text(v);
      s.rows.push_back({r.display,
                        (r.sim.scenarios ? count_text(*r.sim.scenarios) : "—") + " × " +
                            (r.sim.trials ? count_text(*r.sim.trials) : "—"),
                        num(r.sim.success_rate), num(r.sim.mean_cumulative_reward, 2), num(r.sim.mean_turns, 2),
                        pass_k_text(r.sim), oc.empty() ? "—" : oc});
    }
    d.table(s);
    d.p("pass^k: the chance that all k trials of a scenario succeed (consistency, not best-of-k).", "note");
  }

  // Per intent, one column per method name (its first seed): where the gains and losses are.
  std::vector<const Run*> cols;
  std::set<string> intents;
  for (const auto& r : L.runs)
    if (!r.is_baseline && r.first_of_name && !r.eval.per_intent.empty()) {
      cols.push_back(&r);
      for (const auto& row : r.eval.per_intent) intents.insert(row.intent);
    }
  d.h3("Win rate by intent (panel)");
  if (cols.empty()) {
    d.not_run("Per-intent win rates (no per_intent in eval.json)");
  } else {
    Table pi;
    pi.head = {"Intent"};
    for (const auto* r : cols) pi.head.push_back(r->display);
    for (const auto& intent : intents) {
      std::vector<string> row = {intent + (adversarial_intents().count(intent) ? " (adversarial)" : "")};
      for (const auto* r : cols) {
        string cell = "—";
        for (const auto& x : r->eval.per_intent)
          if (x.intent == intent)
            cell = num(x.win_rate_panel) + (x.prompts ? " (n=" + count_text(*x.prompts) + ")" : "");
        row.push_back(cell);
      }
      pi.rows.push_back(row);
    }
    d.table(pi);
  }

  d.h3("Reward model");
  if (!L.rm.present) {
    d.not_run("Reward model evaluation (no reward-model eval.json given)");
  } else {
    string s = "Held-out accuracy " + num(L.rm.accuracy) +
               (L.rm.non_tie ? " over " + count_text(*L.rm.non_tie) + " non-tie pairs" : string()) + ", ECE " +
               num(L.rm.ece) + ". ";
    if (L.rm.agreement)
      s += "Label agreement ceiling " + num(L.rm.agreement) +
           (L.rm.bayes_accuracy ? " (best achievable accuracy " + num(L.rm.bayes_accuracy) + ")" : string()) +
           (L.rm.ceiling_source.empty() ? string() : ", source: " + L.rm.ceiling_source) + ".";
    else
      s += "The labels' agreement ceiling is unknown" +
           (L.rm.ceiling_source.empty() ? string() : " (source: " + L.rm.ceiling_source + ")") + ".";
    d.p(s);
  }
}

int charts_section(Doc& d, const Loaded& L) {
  d.h2("charts", "2. Charts");
  int charts = 0;
  auto figure = [&](const string& svg_text, const string& caption) {
    d.figure(svg_text, caption);
    ++charts;
  };

  std::vector<svg::Series> loss;
  for (const auto& r : L.runs) {
    auto s = r.metrics.series(r.display, "loss");
    if (!s.x.empty()) loss.push_back(std::move(s));
  }
  if (loss.empty()) {
    d.not_run("Training loss curves (no metrics.jsonl with \"loss\")");
  } else {
    svg::Axes a;
    a.title = "Training loss";
    a.subtitle = "each method's own objective, so levels are not comparable across methods";
    a.x_label = "step";
    a.y_label = "loss";
    figure(svg::line_chart(a, loss), "Training loss per method against optimizer step (metrics.jsonl \"loss\").");
  }

  std::vector<svg::Series> rl, dpo;
  for (const auto& r : L.runs) {
    auto s = r.metrics.series(r.display, "eval/panel_win_rate");
    if (!s.x.empty()) rl.push_back(std::move(s));
    auto q = r.metrics.series(r.display, "eval/rewards/accuracies");
    if (!q.x.empty()) dpo.push_back(std::move(q));
  }
  if (rl.empty()) {
    d.not_run("Panel win rate during RL (no \"eval/panel_win_rate\" logged)");
  } else {
    svg::Axes a;
    a.title = "RL: panel win rate against the reference during training";
    a.x_label = "RL step";
    a.y_label = "panel win rate";
    a.y_min = 0;
    a.y_max = 1;
    a.reference_y = 0.5;
    figure(
        svg::line_chart(a, rl),
        "RL evaluation hook: held-out panel win rate of the policy against its reference (\"eval/panel_win_rate\").");
  }
  if (dpo.empty()) {
    d.not_run("DPO held-out preference accuracy (no \"eval/rewards/accuracies\" logged)");
  } else {
    svg::Axes a;
    a.title = "DPO: held-out implicit-reward accuracy (not a win rate)";
    a.subtitle = "fraction of held-out pairs where the chosen reply gets the higher implicit reward";
    a.x_label = "step";
    a.y_label = "eval/rewards/accuracies";
    a.y_min = 0;
    a.y_max = 1;
    a.reference_y = 0.5;
    figure(svg::line_chart(a, dpo),
           "DPO \"eval/rewards/accuracies\": how often the policy ranks the labelled winner above the loser on "
           "held-out pairs. A different quantity from the panel win rate above.");
  }

  std::vector<svg::Point> pts;
  for (const auto& r : L.runs) {
    if (r.is_baseline) {
      pts.push_back({r.display + " (baseline)", 0.0, 0.5, std::nullopt, std::nullopt});
      continue;
    }
    if (!r.eval.win_panel || !r.eval.kl) continue;
    pts.push_back({r.display, *r.eval.kl, r.eval.win_panel->estimate, r.eval.win_panel->lo, r.eval.win_panel->hi});
  }
  if (pts.size() < 2) {
    d.not_run("Win rate against KL (no method with both a panel win rate and a KL to the reference)");
  } else {
    svg::Axes a;
    a.title = "Panel win rate vs KL to the reference";
    a.subtitle = "whiskers: 95% bootstrap interval; the baseline sits at KL 0, win rate 0.5 by definition";
    a.x_label = "KL(policy || reference), nats per reply";
    a.y_label = "panel win rate vs " + L.base_label();
    a.x_min = 0;
    a.reference_y = 0.5;
    figure(svg::scatter_chart(a, pts), "How far each method moved from the reference for what it gained.");
  }

  if (!L.rm.present || L.rm.bins.empty()) {
    d.not_run("Reward-model calibration (no reward-model eval.json with reliability bins)");
  } else {
    svg::Axes a;
    a.title = "Reward-model calibration";
    a.subtitle = "ECE " + num(L.rm.ece) + ", accuracy " + num(L.rm.accuracy);
    a.x_label = "predicted P(A wins) = sigmoid(r_a - r_b)";
    a.y_label = "observed frequency A won";
    figure(svg::reliability_diagram(a, L.rm.bins),
           "Reliability diagram of the reward model on held-out pairs; the dashed diagonal is perfect calibration.");
  }

  std::vector<svg::Sample> lens;
  for (const auto& r : L.runs) {
    if (!r.tr.present) continue;
    svg::Sample s{r.display, {}};
    for (const auto& t : r.tr.rows)
      if (t.length) s.values.push_back(*t.length);
    if (!s.values.empty()) lens.push_back(std::move(s));
  }
  if (lens.empty()) {
    d.not_run("Response-length distributions (no transcripts.jsonl with lengths)");
  } else {
    svg::Axes a;
    a.title = "Response lengths";
    a.x_label = "reply length (tokens)";
    a.y_label = "fraction of replies";
    figure(svg::histogram(a, lens), "Distribution of reply lengths on the evaluation prompts (transcripts.jsonl).");
  }
  return charts;
}

void analysis_section(Doc& d, const Loaded& L) {
  const string B = L.base_label();
  const auto& base = L.baseline();
  d.h2("analysis", "3. Comparative analysis");

  d.h3("Who beats " + B);
  std::vector<string> above, unclear, below, no_eval;
  for (const auto& r : L.runs) {
    if (r.is_baseline) continue;
    if (!r.eval.win_panel) {
      no_eval.push_back(r.display);
      continue;
    }
    const string s = r.display + " (" + win_text(r.eval.win_panel) + ")";
    (beats(r) ? above : loses(r) ? below : unclear).push_back(s);
  }
  std::vector<string> points;
  if (!above.empty())
    points.push_back("By the annotator panel, " + join(above) + (above.size() > 1 ? " beat " : " beats ") + B +
                     " with 95% intervals excluding 0.5.");
  else
    points.push_back("No method beats " + B + " by the panel with a 95% interval excluding 0.5.");
  if (!unclear.empty())
    points.push_back(join(unclear) + (unclear.size() > 1 ? " are" : " is") + " not distinguishable from " + B +
                     ": the interval contains 0.5.");
  if (!below.empty())
    points.push_back(join(below) + (below.size() > 1 ? " are" : " is") + " worse than " + B +
                     ": the whole interval lies below 0.5.");
  if (!no_eval.empty()) points.push_back(join(no_eval) + ": no panel win rate in eval.json.");
  const Run* best = nullptr;
  for (const auto& r : L.runs)
    if (!r.is_baseline && r.eval.win_panel && (!best || r.eval.win_panel->lo > best->eval.win_panel->lo)) best = &r;
  if (best)
    points.push_back("Highest lower bound of the panel interval: " + best->display + " (" +
                     num(best->eval.win_panel->lo) + ").");
  for (const auto& r : L.runs) {
    if (r.is_baseline || !r.eval.win_panel || !r.eval.win_rm) continue;
    const double gap = r.eval.win_rm->estimate - r.eval.win_panel->estimate;
    if (gap > 0.1)
      points.push_back("The reward model rates " + r.display + " well above the panel (" +
                       num(r.eval.win_rm->estimate) + " vs " + num(r.eval.win_panel->estimate) +
                       "): the policy may have learned what the reward model likes rather than what the panel likes "
                       "(reward hacking).");
    else if (gap < -0.1)
      points.push_back("The panel rates " + r.display + " well above the reward model (" +
                       num(r.eval.win_panel->estimate) + " vs " + num(r.eval.win_rm->estimate) +
                       "): the reward model misses part of what the panel rewards.");
  }
  for (const auto& r : L.runs) {
    if (r.is_baseline || !r.eval.win_panel || !r.eval.lc_panel) continue;
    const double drop = r.eval.win_panel->estimate - *r.eval.lc_panel;
    string len;
    if (r.eval.mean_length && base.eval.mean_length)
      len = " Its replies average " + num(r.eval.mean_length, 1) + " tokens against " + num(base.eval.mean_length, 1) +
            " for " + B + ".";
    if (drop > 0.03)
      points.push_back("Part of " + r.display +
                       "'s panel win rate comes from length: controlled for length it drops from " +
                       num(r.eval.win_panel->estimate) + " to " + num(r.eval.lc_panel) + "." + len);
    else if (drop < -0.03)
      points.push_back(r.display + " wins despite its length: the length-controlled win rate (" + num(r.eval.lc_panel) +
                       ") is above the raw one (" + num(r.eval.win_panel->estimate) + ")." + len);
    else
      points.push_back("Length explains little of " + r.display + "'s result (LC " + num(r.eval.lc_panel) + " vs raw " +
                       num(r.eval.win_panel->estimate) + ").");
  }
  for (const auto& r : L.runs)
    if (unsafe_above_baseline(L, r))
      points.push_back("Safety regression: " + r.display + " complies with unsafe requests more often than " + B +
                       " (" + num(r.eval.unsafe) + " vs " + num(base.eval.unsafe) + ").");
  d.bullets(points);

  d.h3("Stability across seeds");
  std::vector<string> stab;
  for (const auto& name : L.names) {
    std::vector<const Run*> rs;
    for (const auto& r : L.runs)
      if (r.m.name == name) rs.push_back(&r);
    if (rs.size() < 2) continue;
    std::vector<double> w, half;
    std::vector<string> seeds;
    for (const auto* r : rs) {
      seeds.push_back(std::to_string(r->m.seed));
      if (r->eval.win_panel) {
        w.push_back(r->eval.win_panel->estimate);
        half.push_back((r->eval.win_panel->hi - r->eval.win_panel->lo) / 2);
      }
    }
    const string label = rs[0]->m.label.empty() ? name : rs[0]->m.label;
    if (w.size() < 2) {
      stab.push_back(label + ": " + std::to_string(rs.size()) + " seeds, fewer than two with a panel win rate.");
      continue;
    }
    double mean = 0, mh = 0;
    for (double x : w) mean += x;
    for (double x : half) mh += x;
    mean /= static_cast<double>(w.size());
    mh /= static_cast<double>(half.size());
    const auto [mn, mx] = std::minmax_element(w.begin(), w.end());
    const double spread = *mx - *mn;
    stab.push_back(label + ", " + std::to_string(rs.size()) + " seeds (" + join(seeds, ", ") +
                   "): panel win rate mean " + num(mean) + ", min " + num(*mn) + ", max " + num(*mx) + "; the spread " +
                   num(spread) + (spread > 2 * mh ? " is larger than" : " is within") +
                   " the width of a typical 95% interval (" + num(2 * mh) + ")" +
                   (spread > 2 * mh ? ", so one seed's result does not replicate reliably." : "."));
  }
  if (stab.empty())
    d.p("Each method was trained with one seed, so seed-to-seed variation is not measured; differences between "
        "methods smaller than their intervals may not replicate.");
  else
    d.bullets(stab);

  d.h3("Sample efficiency");
  Table se;
  se.head = {"Method", "Steps", "Per step", "Seen", "Panel win rate", "(Win rate − 0.5) per 1,000 seen"};
  bool any = false;
  std::vector<string> eff;
  for (const auto& r : L.runs) {
    if (!r.metrics.present) continue;
    any = true;
    auto steps = r.metrics.last_step();
    auto seen = examples_seen(r);
    const auto& w = r.eval.win_panel;
    string gain = "—";
    if (seen && *seen > 0 && w && !r.is_baseline) gain = num((w->estimate - 0.5) / *seen * 1000.0, 4);
    se.rows.push_back({r.display, steps ? std::to_string(*steps) : "—",
                       r.unit.unit.empty() ? "—" : count_text(r.unit.per_step) + " " + r.unit.unit,
                       seen ? count_text(*seen) + " " + r.unit.unit : "—", r.is_baseline ? "— (baseline)" : win_text(w),
                       gain});
    // RL: the best evaluated win rate and when it came.
    std::optional<std::pair<double, int64_t>> peak;
    for (const auto& row : r.metrics.rows)
      if (auto it = row.v.find("eval/panel_win_rate"); it != row.v.end() && (!peak || it->second > peak->first))
        peak = {it->second, row.step};
    if (peak) {
      string s = r.display + ": best evaluated panel win rate during training " + num(peak->first) + " at step " +
                 std::to_string(peak->second);
      if (!r.unit.unit.empty())
        s += " (" + count_text(static_cast<double>(peak->second) * r.unit.per_step) + " " + r.unit.unit + ")";
      eff.push_back(s + ".");
    }
  }
  if (!any) {
    d.not_run("Sample efficiency (no training metrics given)");
  } else {
    d.table(se);
    eff.push_back(
        "Units differ: a DPO step consumes labelled pairs, an RL step prompts whose rollouts are judged "
        "online; compare gains within one unit.");
    d.bullets(eff);
  }

  d.h3("Compute");
  Table ct;
  ct.head = {"Method", "Train seconds", "Train tokens", "Tokens/s", "Panel win rate"};
  const Run *slow = nullptr, *fast = nullptr, *top = nullptr;
  for (const auto& r : L.runs) {
    const double s = r.m.train_seconds, tk = r.m.train_tokens;
    ct.rows.push_back({r.display, s > 0 ? num(s, 1) : "—", tk > 0 ? count_text(tk) : "—",
                       s > 0 && tk > 0 ? num(tk / s, 1) : "—",
                       r.is_baseline ? "— (baseline)" : win_text(r.eval.win_panel)});
    if (s > 0 && !r.is_baseline) {
      if (!slow || s > slow->m.train_seconds) slow = &r;
      if (!fast || s < fast->m.train_seconds) fast = &r;
      if (r.eval.win_panel && (!top || r.eval.win_panel->estimate > top->eval.win_panel->estimate)) top = &r;
    }
  }
  d.table(ct);
  if (!slow) {
    d.p("No training times were given.");
  } else {
    std::vector<string> cp;
    if (slow != fast)
      cp.push_back(slow->display + " took the longest to train (" + num(slow->m.train_seconds, 1) + " s), " +
                   num(slow->m.train_seconds / fast->m.train_seconds, 1) + "× " + fast->display + " (" +
                   num(fast->m.train_seconds, 1) + " s).");
    if (top)
      cp.push_back("The highest panel win rate, " + top->display + "'s " + num(top->eval.win_panel->estimate) +
                   ", took " + num(top->m.train_seconds, 1) + " s" +
                   (top->m.train_tokens > 0 ? " and " + count_text(top->m.train_tokens) + " tokens" : string()) +
                   (top == fast && slow != fast ? ": the best result was also the cheapest." : "."));
    d.bullets(cp);
  }
}

// A deterministic spread of prompts: hash order of the ids, the first adversarial prompt first, then new
// intents, then anything, up to `want`; shown in id order.
std::vector<string> pick_prompts(const Loaded& L, size_t want) {
  const auto& base = L.baseline().tr;
  std::vector<std::pair<string, string>> order;  // (hash, id)
  for (const auto& t : base.rows) {
    bool everywhere = true;
    for (const auto& r : L.runs)
      if (!r.is_baseline && r.first_of_name && r.tr.present && !r.tr.find(t.id)) everywhere = false;
    if (everywhere) order.emplace_back(fnv1a64_hex(t.id), t.id);
  }
  std::sort(order.begin(), order.end());
  std::vector<string> chosen;
  std::set<string> intents;
  auto take = [&](const string& id) {
    if (chosen.size() >= want || std::find(chosen.begin(), chosen.end(), id) != chosen.end()) return;
    chosen.push_back(id);
    intents.insert(base.find(id)->intent);
  };
  for (const auto& [h, id] : order)
    if (adversarial_intents().count(base.find(id)->intent)) {
      take(id);
      break;
    }
  for (const auto& [h, id] : order)
    if (!intents.count(base.find(id)->intent)) take(id);
  for (const auto& [h, id] : order) take(id);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

void transcripts_section(Doc& d, const Loaded& L) {
  const string B = L.base_label();
  d.h2("transcripts", "4. Before and after");
  if (!L.baseline().tr.present) {
    d.not_run("Side-by-side transcripts (no transcripts.jsonl for " + B + ")");
    return;
  }
  const auto ids = pick_prompts(L, 6);
  if (ids.empty()) {
    d.not_run("Side-by-side transcripts (no prompt answered by every method)");
    return;
  }
  d.p("The same prompt answered by " + B + " and by each method (first seed of each). P(beats " + B +
      ") is the panel's probability that the method's reply is preferred to " + B + "'s.");
  const auto& base = L.baseline().tr;
  for (const auto& id : ids) {
    const Transcript& bt = *base.find(id);
    const bool adv = adversarial_intents().count(bt.intent) > 0;
    d.h3(id + (bt.intent.empty() ? "" : " · " + bt.intent) + (adv ? " · adversarial" : ""));
    d.quote(bt.prompt);
    Table t;
    t.cls = "transcripts";
    t.head = {"Model", "Reply", "P(beats " + B + ")", "Reward"};
    t.rows.push_back({B + " (baseline)", bt.response, "—", num(bt.reward)});
    for (const auto& r : L.runs) {
      if (r.is_baseline || !r.first_of_name) continue;
      const string label = r.m.label.empty() ? r.m.name : r.m.label;
      const Transcript* mt = r.tr.present ? r.tr.find(id) : nullptr;
      if (!mt) {
        t.rows.push_back({label, "not run", "—", "—"});
        continue;
      }
      t.rows.push_back({label, mt->response, num(mt->panel_prob), num(mt->reward)});
    }
    d.table(t);
  }
}

void ethics_section(Doc& d, const Loaded& L) {
  const string B = L.base_label();
  d.h2("ethics", "5. Ethical considerations");
  d.h3("Escalation policy");
  d.p("Legal threats and messages about self-harm are not for the assistant to resolve: the policy is to stop, "
      "say so plainly and hand the conversation to a human (the legal team; a trained agent with crisis resources). "
      "Requests for other customers' data, phishing and abuse are refused. These are the adversarial intents of "
      "the evaluation set; unsafe compliance is the fraction of them the assistant went along with.");
  Table t;
  t.head = {"Method", "Unsafe compliance", "Refusal rate", "legal_threat win rate (panel)",
            "self_harm win rate (panel)"};
  for (const auto& r : L.runs) {
    auto intent = [&](const string& name) {
      for (const auto& x : r.eval.per_intent)
        if (x.intent == name) return num(x.win_rate_panel);
      return string("—");
    };
    string unsafe = num(r.eval.unsafe);
    if (unsafe_above_baseline(L, r)) unsafe = "⚠ " + unsafe;
    t.rows.push_back({r.display, unsafe, num(r.eval.refusal), r.is_baseline ? "—" : intent("legal_threat"),
                      r.is_baseline ? "—" : intent("self_harm")});
  }
  d.table(t);
  const auto& base = L.baseline().eval;
  if (base.adversarial_prompts && base.safe_prompts)
    d.p("Measured on " + count_text(*base.adversarial_prompts) + " adversarial and " + count_text(*base.safe_prompts) +
            " safe prompts.",
        "note");

  d.h3("Refusal behaviour");
  std::vector<string> rb;
  for (const auto& r : L.runs) {
    if (r.is_baseline || !r.eval.refusal || !r.eval.unsafe || !base.refusal || !base.unsafe) continue;
    const double dr = *r.eval.refusal - *base.refusal, du = *r.eval.unsafe - *base.unsafe;
    string s = r.display + ": refusal rate " + num(r.eval.refusal) + " (" + B + " " + num(base.refusal) +
               "), unsafe compliance " + num(r.eval.unsafe) + " (" + B + " " + num(base.unsafe) + ")";
    if (dr > 0.01 && du < -0.01)
      s += ": more cautious; check that the extra refusals are not on safe requests.";
    else if (dr < -0.01 && du > 0.01)
      s += ": more compliant, and less safe.";
    else if (dr > 0.01)
      s += ": refuses more without being safer: over-refusal.";
    else if (du > 0.01)
      s += ": complies with more unsafe requests.";
    else if (dr < -0.01 || du < -0.01)
      s += ": refuses less often where it should not and is no less safe.";
    else
      s += ": about the same as " + B + ".";
    rb.push_back(s);
  }
  d.p("Over-refusal (refusing a safe request) and unsafe compliance (helping with a request that must be refused) "
      "are both failures; preference optimization can trade one for the other, so both are reported for every method.");
  if (rb.empty())
    d.p("Refusal and unsafe-compliance rates were not reported by the evaluation.");
  else
    d.bullets(rb);

  d.h3("Data and anonymization");
  d.p("The synthetic support data (customers, orders, e-mail addresses, card numbers) is generated and made up; it "
      "describes no real person. Real transcripts imported into the pipeline must go through `supportrl data "
      "anonymize` (e-mail, phone, card, order and account numbers, IP and street addresses replaced by placeholders) "
      "before training or evaluation, and should be handled under the consent and retention terms they were "
      "collected with.");

  d.h3("The panel is a simulation");
  string panel =
      "Win rates here come from a simulated annotator panel (rubric scores with per-annotator weights, a "
      "length bias and noise) and from a reward model trained on that panel's labels, not from people or "
      "real customers. A method can learn the panel's quirks; the length-controlled win rate removes one "
      "known bias, not all. Confirm gains with human review before deployment.";
  if (L.rm.agreement) panel += " Measured label agreement ceiling of the preference data: " + num(L.rm.agreement) + ".";
  d.p(panel);
}

void provenance_section(Doc& d, const Loaded& L) {
  const auto& in = *L.in;
  d.h2("provenance", "6. How it was produced");
  d.p("Command:");
  d.pre(in.command.empty() ? "(not given)" : in.command);
  d.p("Report '" + in.name + "', baseline '" + in.baseline + "', written to " + in.out_dir + ".");
  Table t;
  t.head = {"Method", "Name", "Seed", "Training run", "Evaluation", "Simulation"};
  for (const auto& r : L.runs)
    t.rows.push_back({r.display, r.m.name, std::to_string(r.m.seed), r.m.run_dir.empty() ? "—" : r.m.run_dir,
                      r.m.eval_dir, r.m.sim_dir.empty() ? "—" : r.m.sim_dir});
  d.table(t);
  Table f;
  f.head = {"Input file", "FNV-1a 64"};
  auto add = [&](const string& path) {
    if (!path.empty()) f.rows.push_back({path, fnv1a64_file_hex(path)});
  };
  for (const auto& r : L.runs) {
    if (r.metrics.present) add(r.metrics.path);
    add(r.unit.path);
    add(r.eval.path);
    if (r.tr.present) add(r.tr.path);
    if (r.sim.present) add(r.sim.path);
  }
  if (L.rm.present) add(L.rm.path);
  d.table(f);
  d.p("Reward model: " + (in.reward_model_dir.empty() ? string("not given") : in.reward_model_dir) +
      ". Every number above is read from these files; the formats are in docs/report_format.md.");
}

const char* kCss =
    R"(body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f5f5f5}table.results td:nth-child(n+3){white-space:nowrap}
table.transcripts td:nth-child(2){white-space:pre-wrap;max-width:60em}
blockquote.prompt{white-space:pre-wrap;background:#f7f7f7;border-left:4px solid #4c78a8;margin:0;padding:.5em 1em}
figure{margin:1.5em 0}figcaption{font-size:.85em;color:#555;max-width:640px}
p.na{color:#888;font-style:italic}p.note{font-size:.85em;color:#555}pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap}
nav a{margin-right:1em})";

struct Rendered {
  string html, md;
  int charts = 0;
};

Rendered render(const Loaded& L) {
  const auto& in = *L.in;
  Doc d;
  const string title = "supportrl comparison report: " + in.name;
  std::vector<string> labels;
  for (const auto& r : L.runs)
    if (!r.is_baseline && r.first_of_name) labels.push_back(r.m.label.empty() ? r.m.name : r.m.label);
  const string intro = "Baseline: " + L.base_label() + ". Compared: " + (labels.empty() ? "nothing" : join(labels)) +
                       ". Win rates are P(method's reply preferred to the baseline's) on held-out prompts, with 95% "
                       "bootstrap intervals over prompts.";
  d.html << "<h1>" << html_escape(title) << "</h1>\n";
  d.md << "# " << md_escape(title) << "\n\n";
  d.p(intro);
  d.html << "<nav><a href=\"#results\">Results</a><a href=\"#charts\">Charts</a><a href=\"#analysis\">Analysis</a>"
            "<a href=\"#transcripts\">Before/after</a><a href=\"#ethics\">Ethics</a><a href=\"#provenance\">"
            "Provenance</a></nav>\n";
  results_section(d, L);
  Rendered out;
  out.charts = charts_section(d, L);
  analysis_section(d, L);
  transcripts_section(d, L);
  ethics_section(d, L);
  provenance_section(d, L);
  out.html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title) +
             "</title>\n<style>\n" + kCss + "\n</style>\n</head>\n<body>\n" + d.html.str() + "</body>\n</html>\n";
  out.md = d.md.str();
  return out;
}

// ------------------------------------------------------------------------------------------- summary

json opt_json(const optional<double>& v) { return v ? json(*v) : json(nullptr); }
json win_json(const optional<WinRate>& w) {
  return w ? json{{"estimate", w->estimate}, {"ci95", {w->lo, w->hi}}} : json(nullptr);
}

json run_json(const Loaded& L, const Run& r) {
  const auto& e = r.eval;
  json j;
  j["label"] = r.m.label.empty() ? r.m.name : r.m.label;
  j["is_baseline"] = r.is_baseline;
  j["seed"] = r.m.seed;
  j["win_rate_vs_sft"] = {{"panel", win_json(e.win_panel)}, {"reward_model", win_json(e.win_rm)}};
  j["lc_win_rate"] = {{"panel", opt_json(e.lc_panel)}, {"reward_model", opt_json(e.lc_rm)}};
  j["mean_reward"] = opt_json(e.mean_reward);
  j["refusal_rate"] = opt_json(e.refusal);
  j["unsafe_compliance_rate"] = opt_json(e.unsafe);
  j["kl_to_reference"] = opt_json(e.kl);
  j["mean_length"] = opt_json(e.mean_length);
  j["latency_ms"] = {{"p50", opt_json(e.p50)}, {"p95", opt_json(e.p95)}};
  j["sim_success_rate"] = r.sim.present ? opt_json(r.sim.success_rate) : json(nullptr);
  if (r.sim.present) {
    json pk = json::object();
    for (const auto& [k, v] : r.sim.pass_k) pk[std::to_string(k)] = v;
    j["pass_k"] = pk;
  } else {
    j["pass_k"] = nullptr;
  }
  j["train_seconds"] = r.m.train_seconds;
  j["train_tokens"] = r.m.train_tokens;
  j["beats_baseline"] = beats(r);
  j["unsafe_compliance_above_baseline"] = unsafe_above_baseline(L, r);
  auto steps = r.metrics.last_step();
  j["steps"] = steps ? json(*steps) : json(nullptr);
  auto seen = examples_seen(r);
  j["examples_seen"] = seen ? json{{"count", *seen}, {"unit", r.unit.unit}} : json(nullptr);
  return j;
}

json summary_of(const Loaded& L) {
  const auto& in = *L.in;
  json s;
  s["format"] = "srl-report-summary-v1";
  s["name"] = in.name;
  s["baseline"] = in.baseline;
  s["command"] = in.command;
  s["order"] = L.names;
  json policies = json::object();
  for (const auto& name : L.names) {
    std::vector<const Run*> rs;
    for (const auto& r : L.runs)
      if (r.m.name == name) rs.push_back(&r);
    json p = run_json(L, *rs[0]);
    if (rs.size() > 1) {
      json seeds = json::array(), values = json::array();
      double sum = 0;
      optional<double> mn, mx;
      for (const auto* r : rs) {
        seeds.push_back(r->m.seed);
        if (!r->eval.win_panel) continue;
        const double w = r->eval.win_panel->estimate;
        values.push_back(w);
        sum += w;
        mn = std::min(mn.value_or(w), w);
        mx = std::max(mx.value_or(w), w);
      }
      json wr =
          values.empty()
              ? json(nullptr)
              : json{
                    {"mean", sum / static_cast<double>(values.size())}, {"min", *mn}, {"max", *mx}, {"values", values}};
      p["seeds"] = {{"count", rs.size()}, {"seeds", seeds}, {"panel_win_rate", wr}};
    }
    policies[name] = p;
  }
  s["policies"] = policies;
  if (L.rm.present)
    s["reward_model"] = {{"accuracy", opt_json(L.rm.accuracy)},
                         {"ece", opt_json(L.rm.ece)},
                         {"label_ceiling", opt_json(L.rm.agreement)},
                         {"bayes_accuracy", opt_json(L.rm.bayes_accuracy)},
                         {"label_ceiling_source", L.rm.ceiling_source}};
  else
    s["reward_model"] = nullptr;
  return s;
}

}  // namespace

json build_summary(const ReportInput& in) { return summary_of(load(in)); }

void write_report(const ReportInput& in) {
  if (in.out_dir.empty()) fail("report", "no output directory given");
  const Loaded L = load(in);
  const Rendered r = render(L);
  const json s = summary_of(L);
  fs::make_dirs(in.out_dir);
  fs::write_file_atomic(join_path(in.out_dir, "index.html"), r.html);
  fs::write_file_atomic(join_path(in.out_dir, "report.md"), r.md);
  fs::write_file_atomic(join_path(in.out_dir, "summary.json"), s.dump(2) + "\n");
  spdlog::info("report: wrote {}/index.html ({} charts), report.md, summary.json", in.out_dir, r.charts);
}

}  // namespace srl::eval
