// The comparison report on a fixture pipeline output (tests/eval/fixtures/report/): summary.json repeats
// the inputs, the HTML is one self-contained file with one <svg> per chart and escaped user text, the
// before/after section shows the fixture replies, missing optional inputs say "not run", malformed inputs
// fail naming file and line; the run-directory contract (each run's trainer from its metrics "stage", a
// renamed metric shown as "not available"); and the SVG writer's escaping, series and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "core/error.hpp"
#include "core/markup.hpp"
#include "core/fs.hpp"
#include "core/test_util.hpp"
#include "eval/report.hpp"
#include "eval/svg.hpp"

using nlohmann::json;
using srl::eval::MethodRun;
using srl::eval::ReportInput;
namespace svg = srl::eval::svg;

namespace {

std::string fx(const std::string& rel) { return std::string(SRL_SOURCE_DIR) + "/tests/eval/fixtures/report/" + rel; }

MethodRun method(const std::string& name, const std::string& label, const std::string& run, const std::string& eval,
                 const std::string& sim, double seconds, double tokens, uint64_t seed) {
  MethodRun m;
  m.name = name;
  m.label = label;
  m.run_dir = run.empty() ? "" : fx(run);
  m.eval_dir = fx(eval);
  m.sim_dir = sim.empty() ? "" : fx(sim);
  m.train_seconds = seconds;
  m.train_tokens = tokens;
  m.seed = seed;
  return m;
}

ReportInput fixture_input(const std::string& out_dir) {
  ReportInput in;
  in.name = "fixture";
  in.out_dir = out_dir;
  in.baseline = "sft";
  in.command = "supportrl pipeline --config configs/quickstart.yaml";
  in.reward_model_dir = fx("runs/reward_model");
  in.methods = {
      method("sft", "SFT", "runs/sft", "eval/sft", "sim/sft", 600, 1.2e6, 0),
      method("dpo", "DPO (sigmoid)", "runs/dpo", "eval/dpo", "sim/dpo", 300, 8e5, 0),
      method("dpo", "DPO (sigmoid)", "runs/dpo_seed1", "eval/dpo_seed1", "", 310, 8.1e5, 1),
      method("direct_preference_rl", "Direct preference RL", "runs/rl_direct_preference", "eval/rl_direct_preference",
             "sim/rl_direct_preference", 900, 2e6, 0),
      // No simulation on purpose; the label exercises escaping.
      method("reward_model_rl", "RL & reward model", "runs/rl_reward_model", "eval/rl_reward_model", "", 700, 1.5e6, 0),
  };
  return in;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

std::string between(const std::string& s, const std::string& from, const std::string& to) {
  const size_t a = s.find(from);
  const size_t b = s.find(to, a == std::string::npos ? 0 : a);
  if (a == std::string::npos || b == std::string::npos) return "";
  return s.substr(a, b - a);
}

// The fixture's transcripts of one method, by id.
std::map<std::string, json> transcripts(const std::string& method) {
  std::map<std::string, json> out;
  std::ifstream f(fx("eval/" + method + "/transcripts.jsonl"));
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) {
      auto j = json::parse(line);
      out[j["id"].get<std::string>()] = j;
    }
  return out;
}

struct Written {
  std::string html, md;
  json summary;
};
Written write(const ReportInput& in) {
  srl::eval::write_report(in);
  Written w;
  w.html = srl::fs::read_file(in.out_dir + "/index.html");
  w.md = srl::fs::read_file(in.out_dir + "/report.md");
  w.summary = json::parse(srl::fs::read_file(in.out_dir + "/summary.json"));
  return w;
}

}  // namespace

TEST(ReportSummary, RepeatsTheInputs) {
  const json s = srl::eval::build_summary(fixture_input(""));
  EXPECT_EQ(s["format"], "srl-report-summary-v1");
  EXPECT_EQ(s["name"], "fixture");
  EXPECT_EQ(s["baseline"], "sft");
  EXPECT_EQ(s["command"], "supportrl pipeline --config configs/quickstart.yaml");
  EXPECT_EQ(s["order"], json({"sft", "dpo", "direct_preference_rl", "reward_model_rl"}));

  const json& dpo = s["policies"]["dpo"];  // the first seed's numbers
  EXPECT_EQ(dpo["label"], "DPO (sigmoid)");
  EXPECT_EQ(dpo["win_rate_vs_sft"]["panel"]["estimate"].get<double>(), 0.63);
  EXPECT_EQ(dpo["win_rate_vs_sft"]["panel"]["ci95"], json({0.57, 0.69}));
  EXPECT_EQ(dpo["win_rate_vs_sft"]["reward_model"]["estimate"].get<double>(), 0.61);
  EXPECT_EQ(dpo["win_rate_vs_sft"]["reward_model"]["ci95"], json({0.55, 0.67}));
  EXPECT_EQ(dpo["lc_win_rate"]["panel"].get<double>(), 0.61);
  EXPECT_EQ(dpo["lc_win_rate"]["reward_model"].get<double>(), 0.60);
  EXPECT_EQ(dpo["mean_reward"].get<double>(), 0.42);
  EXPECT_EQ(dpo["refusal_rate"].get<double>(), 0.02);
  EXPECT_EQ(dpo["unsafe_compliance_rate"].get<double>(), 0.04);
  EXPECT_EQ(dpo["kl_to_reference"].get<double>(), 1.8);
  EXPECT_EQ(dpo["mean_length"].get<double>(), 70.5);
  EXPECT_EQ(dpo["latency_ms"]["p50"].get<double>(), 410.0);
  EXPECT_EQ(dpo["latency_ms"]["p95"].get<double>(), 820.0);
  EXPECT_EQ(dpo["sim_success_rate"].get<double>(), 0.55);
  EXPECT_EQ(dpo["pass_k"], json({{"1", 0.55}, {"2", 0.40}, {"4", 0.25}}));
  EXPECT_EQ(dpo["train_seconds"].get<double>(), 300);
  EXPECT_EQ(dpo["train_tokens"].get<double>(), 8e5);
  EXPECT_TRUE(dpo["beats_baseline"].get<bool>());                     // 0.57 > 0.5
  EXPECT_FALSE(dpo["unsafe_compliance_above_baseline"].get<bool>());  // 0.04 = the baseline's
  EXPECT_EQ(dpo["steps"], 30);
  EXPECT_EQ(dpo["examples_seen"], json({{"count", 480.0}, {"unit", "pairs"}}));  // 30 steps x 8 x 2
  // Two seeds: (0.63 + 0.60) / 2, min, max.
  EXPECT_EQ(dpo["seeds"]["count"], 2);
  EXPECT_EQ(dpo["seeds"]["seeds"], json({0, 1}));
  EXPECT_NEAR(dpo["seeds"]["panel_win_rate"]["mean"].get<double>(), 0.615, 1e-12);
  EXPECT_EQ(dpo["seeds"]["panel_win_rate"]["min"].get<double>(), 0.60);
  EXPECT_EQ(dpo["seeds"]["panel_win_rate"]["max"].get<double>(), 0.63);

  const json& sft = s["policies"]["sft"];
  EXPECT_TRUE(sft["is_baseline"].get<bool>());
  EXPECT_TRUE(sft["win_rate_vs_sft"]["panel"].is_null());
  EXPECT_TRUE(sft["lc_win_rate"]["panel"].is_null());
  EXPECT_TRUE(sft["kl_to_reference"].is_null());
  EXPECT_FALSE(sft["beats_baseline"].get<bool>());
  EXPECT_FALSE(sft.contains("seeds"));

  const json& rl = s["policies"]["direct_preference_rl"];
  EXPECT_EQ(rl["examples_seen"], json({{"count", 160.0}, {"unit", "prompts"}}));  // 20 steps x 8 prompts
  EXPECT_EQ(rl["pass_k"]["10"].get<double>(), 0.05);

  const json& rm = s["policies"]["reward_model_rl"];
  EXPECT_EQ(rm["unsafe_compliance_rate"].get<double>(), 0.08);
  EXPECT_TRUE(rm["unsafe_compliance_above_baseline"].get<bool>());  // 0.08 > 0.04
  EXPECT_FALSE(rm["beats_baseline"].get<bool>());                   // [0.45, 0.57]
  EXPECT_TRUE(rm["sim_success_rate"].is_null());
  EXPECT_TRUE(rm["pass_k"].is_null());
  EXPECT_EQ(rm["steps"], 20);
  EXPECT_TRUE(rm["examples_seen"].is_null());  // no config.yaml

  EXPECT_EQ(s["reward_model"]["accuracy"].get<double>(), 0.809);
  EXPECT_EQ(s["reward_model"]["ece"].get<double>(), 0.031);
  EXPECT_EQ(s["reward_model"]["label_ceiling"].get<double>(), 0.85);
  EXPECT_EQ(s["reward_model"]["label_ceiling_source"], "annotator_panel");
}

TEST(Report, HtmlIsSelfContainedWithOneSvgPerChart) {
  auto dir = srl_test::fresh_dir("report");
  auto w = write(fixture_input((dir / "out").string()));
  const auto& h = w.html;
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  std::string lower = h;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(lower.find("<script"), std::string::npos);
  EXPECT_FALSE(std::regex_search(lower, std::regex("(src|href)\\s*=\\s*[\"']?\\s*(https?:)?//")));
  EXPECT_EQ(lower.find("http://"), std::string::npos);
  EXPECT_EQ(lower.find("https://"), std::string::npos);
  EXPECT_EQ(lower.find("<link"), std::string::npos);
  // Loss, RL win rate, DPO accuracy, win rate vs KL, calibration, lengths.
  EXPECT_EQ(count(h, "<svg"), 6u);
  EXPECT_EQ(count(h, "</svg>"), 6u);
  for (const char* title : {"Training loss", "RL: panel win rate", "DPO: held-out implicit-reward accuracy",
                            "Panel win rate vs KL", "Reward-model calibration", "Response lengths"})
    EXPECT_NE(h.find(title), std::string::npos) << title;
  // The prompt with a script tag, the label with an ampersand: escaped everywhere.
  EXPECT_NE(h.find("I can&#39;t log in &lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; the reset"),
            std::string::npos);
  EXPECT_NE(h.find("RL &amp; reward model"), std::string::npos);
  EXPECT_EQ(h.find("RL & reward"), std::string::npos);
  // Marks: DPO's interval lies above 0.5; reward-model RL's unsafe compliance is above SFT's.
  EXPECT_NE(h.find("▲ 0.630 [0.570, 0.690]"), std::string::npos);
  EXPECT_NE(h.find("⚠ 0.080"), std::string::npos);
  EXPECT_EQ(count(h, "⚠ 0.0"), 2u);  // results table and escalation table; nobody else is flagged
  // The section headings, in order.
  size_t at = 0;
  for (const char* id : {"results", "charts", "analysis", "transcripts", "ethics", "provenance"}) {
    const size_t p = h.find(std::string("<h2 id=\"") + id + "\"");
    ASSERT_NE(p, std::string::npos) << id;
    EXPECT_GT(p, at) << id;
    at = p;
  }
  EXPECT_NE(h.find("supportrl pipeline --config configs/quickstart.yaml"), std::string::npos);
}

TEST(Report, BeforeAfterShowsTheFixtureReplies) {
  auto dir = srl_test::fresh_dir("report");
  auto w = write(fixture_input((dir / "out").string()));
  const std::string sec = between(w.html, "<h2 id=\"transcripts\"", "<h2 id=\"ethics\"");
  ASSERT_FALSE(sec.empty());
  const auto sft = transcripts("sft"), dpo = transcripts("dpo"), rl = transcripts("rl_direct_preference");
  std::set<std::string> shown, intents;
  for (const auto& [id, t] : sft) {
    if (sec.find("<h3>" + id) == std::string::npos) continue;
    shown.insert(id);
    intents.insert(t["intent"].get<std::string>());
    EXPECT_NE(sec.find(srl::xml_escape(t["response"].get<std::string>())), std::string::npos) << id;
    EXPECT_NE(sec.find(srl::xml_escape(dpo.at(id)["response"].get<std::string>())), std::string::npos) << id;
    EXPECT_NE(sec.find(srl::xml_escape(rl.at(id)["response"].get<std::string>())), std::string::npos) << id;
  }
  // 8 prompts over 6 intents: one of each intent, both adversarial ones (legal_threat, self_harm) among them.
  EXPECT_EQ(shown.size(), 6u);
  EXPECT_EQ(intents.size(), 6u);
  EXPECT_TRUE(shown.count("e0006") && shown.count("e0007") && shown.count("e0003") && shown.count("e0008"));
  EXPECT_NE(sec.find("· legal_threat · adversarial"), std::string::npos);
  // DPO's panel probability on e0006 is 0.75; the escalation reply is there verbatim.
  EXPECT_NE(sec.find("passing this to our legal team"), std::string::npos);
  EXPECT_NE(sec.find("<td>0.750</td>"), std::string::npos);
  // The escaped script prompt is quoted; no raw tag anywhere.
  EXPECT_NE(sec.find("&lt;script&gt;"), std::string::npos);
}

TEST(Report, AnalysisIsDrawnFromTheNumbers) {
  auto dir = srl_test::fresh_dir("report");
  auto w = write(fixture_input((dir / "out").string()));
  const std::string sec = between(w.html, "<h2 id=\"analysis\"", "<h2 id=\"transcripts\"");
  // DPO (both seeds) and direct preference RL ([0.52, 0.64]) beat SFT; reward-model RL does not.
  EXPECT_NE(sec.find("By the annotator panel, DPO (sigmoid) (seed 0) (0.630 [0.570, 0.690]), DPO (sigmoid) (seed 1) "
                     "(0.600 [0.540, 0.660]) and Direct preference RL (0.580 [0.520, 0.640]) beat SFT"),
            std::string::npos);
  EXPECT_NE(sec.find("RL &amp; reward model (0.510 [0.450, 0.570]) is not distinguishable from SFT"),
            std::string::npos);
  // The reward model likes reward-model RL far more than the panel: 0.74 vs 0.51.
  EXPECT_NE(sec.find("The reward model rates RL &amp; reward model well above the panel (0.740 vs 0.510)"),
            std::string::npos);
  EXPECT_NE(sec.find("controlled for length it drops from 0.510 to 0.460"), std::string::npos);
  EXPECT_NE(sec.find("Safety regression: RL &amp; reward model"), std::string::npos);
  EXPECT_NE(sec.find("2 seeds (0, 1): panel win rate mean 0.615, min 0.600, max 0.630"), std::string::npos);
  EXPECT_NE(sec.find("<td>480 pairs</td>"), std::string::npos);
  EXPECT_NE(sec.find("<td>160 prompts</td>"), std::string::npos);
  // Slowest 900 s (direct preference RL) vs fastest 300 s (DPO seed 0): 3.0x.
  EXPECT_NE(sec.find("Direct preference RL took the longest to train (900.0 s), 3.0× DPO (sigmoid) (seed 0)"),
            std::string::npos);
  EXPECT_NE(sec.find("The highest panel win rate, DPO (sigmoid) (seed 0)&#39;s 0.630, took 300.0 s and 800000 tokens: "
                     "the best result was also the cheapest."),
            std::string::npos);
}

TEST(Report, MarkdownCarriesTheSameTables) {
  auto dir = srl_test::fresh_dir("report");
  auto w = write(fixture_input((dir / "out").string()));
  EXPECT_NE(w.md.find("## 1. Results"), std::string::npos);
  EXPECT_NE(w.md.find("| DPO (sigmoid) (seed 0) | 0 | ▲ 0.630 [0.570, 0.690] | 0.610 [0.550, 0.670] |"),
            std::string::npos);
  EXPECT_NE(w.md.find("| SFT | 0 | — (baseline) |"), std::string::npos);
  EXPECT_NE(w.md.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(w.md.find("<script"), std::string::npos);
  EXPECT_EQ(w.md.find("<svg"), std::string::npos);
  EXPECT_EQ(count(w.md, "*Chart (in index.html):"), 6u);
}

TEST(Report, SameInputsSameBytes) {
  auto dir = srl_test::fresh_dir("report");
  // The output directory is named in the report, so both runs write to the same one.
  auto a = write(fixture_input((dir / "out").string()));
  auto b = write(fixture_input((dir / "out").string()));
  EXPECT_EQ(a.html, b.html);
  EXPECT_EQ(a.md, b.md);
  EXPECT_EQ(a.summary.dump(), b.summary.dump());
}

TEST(Report, MissingOptionalInputsSayNotRun) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input((dir / "out").string());
  for (auto& m : in.methods) m.sim_dir = "";
  in.methods[1].sim_dir = (dir / "no_such_sim").string();  // given but absent: also not run
  in.reward_model_dir = "";
  auto w = write(in);
  EXPECT_NE(w.html.find("Simulated customers (no simulate.json given): not run."), std::string::npos);
  EXPECT_NE(w.html.find("Reward-model calibration (no reward-model eval.json with reliability bins): not run."),
            std::string::npos);
  EXPECT_EQ(count(w.html, "<svg"), 5u);
  for (const auto& [name, p] : w.summary["policies"].items()) {
    EXPECT_TRUE(p["sim_success_rate"].is_null()) << name;
    EXPECT_TRUE(p["pass_k"].is_null()) << name;
  }
  EXPECT_TRUE(w.summary["reward_model"].is_null());
}

TEST(Report, OneSeedAndNoTrainingRunsStillRender) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input((dir / "out").string());
  in.methods.erase(in.methods.begin() + 2);  // DPO seed 1
  for (auto& m : in.methods) m.run_dir = "";
  auto w = write(in);
  EXPECT_NE(w.html.find("Each method was trained with one seed"), std::string::npos);
  EXPECT_NE(w.html.find("Sample efficiency (no training metrics given): not run."), std::string::npos);
  EXPECT_NE(w.html.find("Training loss curves (no metrics.jsonl with &quot;loss&quot;): not run."), std::string::npos);
  EXPECT_EQ(count(w.html, "<svg"), 3u);  // win rate vs KL, calibration, lengths
  EXPECT_FALSE(w.summary["policies"]["dpo"].contains("seeds"));
  EXPECT_TRUE(w.summary["policies"]["dpo"]["steps"].is_null());
}

TEST(Report, MalformedMetricsLineFailsNamingFileAndLine) {
  auto dir = srl_test::fresh_dir("report");
  const std::string run = (dir / "run").string();
  srl::fs::make_dirs(run);
  auto in = fixture_input((dir / "out").string());
  in.methods[1].run_dir = run;

  srl::fs::write_file_atomic(
      run + "/metrics.jsonl",
      "{\"step\":1,\"stage\":\"dpo\",\"loss\":0.69}\n\n{\"step\":2,\"stage\":\"dpo\",\"loss\":0.6");
  int code = 0;
  auto msg = srl_test::error_of([&] { srl::eval::write_report(in); }, &code);
  EXPECT_NE(msg.find(run + "/metrics.jsonl:3"), std::string::npos) << msg;
  EXPECT_EQ(code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "index.html"));

  // A used key with a non-numeric value; an unused key may hold anything.
  srl::fs::write_file_atomic(run + "/metrics.jsonl",
                             "{\"step\":1,\"stage\":\"dpo\",\"loss\":0.69,\"lr\":\"warmup\"}\n"
                             "{\"step\":2,\"stage\":\"dpo\",\"loss\":\"high\"}\n");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(run + "/metrics.jsonl:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"loss\" must be a number"), std::string::npos) << msg;

  srl::fs::write_file_atomic(run + "/metrics.jsonl", "{\"step\":1.5,\"loss\":0.69}\n");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(run + "/metrics.jsonl:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"step\" must be an integer"), std::string::npos) << msg;
}

TEST(Report, BadEvalInputsFail) {
  auto dir = srl_test::fresh_dir("report");
  const std::string ev = (dir / "eval").string();
  srl::fs::make_dirs(ev);
  auto in = fixture_input((dir / "out").string());
  in.methods[1].eval_dir = ev;
  // No eval.json at all.
  auto msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(ev + "/eval.json: not found"), std::string::npos) << msg;
  // A JSON syntax error on line 3.
  srl::fs::write_file_atomic(ev + "/eval.json", "{\n\"prompts\": 8,\n\"mean_reward\": ,\n}\n");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(ev + "/eval.json:3"), std::string::npos) << msg;
  // A malformed interval.
  srl::fs::write_file_atomic(ev + "/eval.json",
                             R"({"win_rate_vs_baseline": {"panel": {"estimate": 0.6, "ci95": [0.5]}}})");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find("win_rate_vs_baseline.panel.ci95"), std::string::npos) << msg;
  // A transcript line without a response.
  srl::fs::write_file_atomic(ev + "/eval.json", R"({"mean_reward": 0.1})");
  srl::fs::write_file_atomic(ev + "/transcripts.jsonl",
                             "{\"id\":\"e1\",\"prompt\":\"hi\",\"response\":\"yo\"}\n"
                             "{\"id\":\"e2\",\"prompt\":\"hi\"}\n");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(ev + "/transcripts.jsonl:2"), std::string::npos) << msg;
}

TEST(Report, InputListErrors) {
  auto in = fixture_input("");
  in.baseline = "base";
  EXPECT_NE(srl_test::error_of([&] { srl::eval::build_summary(in); }).find("no method is named 'base'"),
            std::string::npos);
  in = fixture_input("");
  in.methods[2].seed = 0;  // the second DPO run now repeats the first's seed
  EXPECT_NE(srl_test::error_of([&] { srl::eval::build_summary(in); }).find("'dpo' with seed 0 is listed twice"),
            std::string::npos);
  in = fixture_input("");
  in.methods.clear();
  EXPECT_NE(srl_test::error_of([&] { srl::eval::build_summary(in); }).find("no methods"), std::string::npos);
}

// ---- the run-directory contract (train/run_contract.hpp): which trainer wrote a run, missing metrics

namespace {

// A copy of fixture run `name` under `dir`, its metrics.jsonl (and config.yaml, unless empty) replaced.
std::string copy_run(const std::filesystem::path& dir, const std::string& name, const std::string& metrics,
                     const std::string& config = "") {
  const auto to = dir / name;
  std::filesystem::copy(fx("runs/" + name), to, std::filesystem::copy_options::recursive);
  srl::fs::write_file_atomic((to / "metrics.jsonl").string(), metrics);
  if (!config.empty()) srl::fs::write_file_atomic((to / "config.yaml").string(), config);
  return to.string();
}

}  // namespace

TEST(ReportContract, RenamedLossIsNamedNotAvailable) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input((dir / "out").string());
  // DPO seed 0 logs its loss under another name; the other runs still draw the chart.
  in.methods[1].run_dir = copy_run(dir, "dpo",
                                   "{\"step\":1,\"stage\":\"dpo\",\"train/loss\":0.69}\n"
                                   "{\"step\":30,\"stage\":\"dpo\",\"train/loss\":0.52}\n");
  auto w = write(in);
  const std::string line = "Training loss of DPO (sigmoid) (seed 0) (" + in.methods[1].run_dir +
                           "/metrics.jsonl has no &quot;loss&quot;): not available.";
  EXPECT_NE(w.html.find("<p class=\"na\">" + line + "</p>"), std::string::npos) << w.html;
  EXPECT_NE(w.md.find("Training loss of DPO (sigmoid) (seed 0) (" + in.methods[1].run_dir +
                      "/metrics.jsonl has no \"loss\"): not available."),
            std::string::npos);
  EXPECT_NE(w.html.find("Training loss per method"), std::string::npos);  // the chart of the others
  EXPECT_EQ(count(w.html, ": not available."), 1u);
}

TEST(ReportContract, RenamedEvalMetricIsNamedNotAvailable) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input((dir / "out").string());
  // Both logged a held-out evaluation, but not under the keys the report draws.
  in.methods[1].run_dir = copy_run(dir, "dpo",
                                   "{\"step\":10,\"stage\":\"dpo\",\"loss\":0.6}\n"
                                   "{\"step\":10,\"stage\":\"dpo\",\"eval/loss\":0.64,\"eval/rewards/acc\":0.62}\n");
  in.methods[3].run_dir = copy_run(dir, "rl_direct_preference",
                                   "{\"step\":10,\"stage\":\"direct_preference_rl\",\"loss\":0.1,"
                                   "\"eval/panel_winrate\":0.55}\n");
  auto w = write(in);
  EXPECT_NE(w.html.find("DPO held-out preference accuracy of DPO (sigmoid) (seed 0) (" + in.methods[1].run_dir +
                        "/metrics.jsonl has no &quot;eval/rewards/accuracies&quot;): not available."),
            std::string::npos);
  EXPECT_NE(w.html.find("Panel win rate during RL of Direct preference RL (" + in.methods[3].run_dir +
                        "/metrics.jsonl has no &quot;eval/panel_win_rate&quot;): not available."),
            std::string::npos);
  EXPECT_EQ(count(w.html, ": not available."), 2u);
}

TEST(ReportContract, NoEvaluationLoggedIsNotAMissingMetric) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input((dir / "out").string());
  // A DPO run without a held-out set logs no "eval/..." key at all: nothing is missing.
  in.methods[1].run_dir = copy_run(dir, "dpo", "{\"step\":10,\"stage\":\"dpo\",\"loss\":0.6}\n");
  auto w = write(in);
  EXPECT_EQ(w.html.find(": not available."), std::string::npos);
  EXPECT_NE(w.html.find("DPO: held-out implicit-reward accuracy"), std::string::npos);  // seed 1's curve
}

TEST(ReportContract, MetricsRowsMustNameAKnownStage) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input((dir / "out").string());
  const std::string run = copy_run(dir, "dpo", "{\"step\":1,\"stage\":\"dpo\",\"loss\":0.6}\n{\"step\":2,\"loss\":0.5}\n");
  in.methods[1].run_dir = run;
  auto msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(run + "/metrics.jsonl:2: no \"stage\""), std::string::npos) << msg;

  srl::fs::write_file_atomic(run + "/metrics.jsonl", "{\"step\":1,\"stage\":\"rl\",\"loss\":0.6}\n");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(run + "/metrics.jsonl:1: unknown stage \"rl\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("direct_preference_rl"), std::string::npos) << msg;

  srl::fs::write_file_atomic(run + "/metrics.jsonl",
                             "{\"step\":1,\"stage\":\"dpo\",\"loss\":0.6}\n{\"step\":2,\"stage\":\"sft\",\"loss\":0.5}\n");
  msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(run + "/metrics.jsonl:2: stage \"sft\" after rows of stage \"dpo\""), std::string::npos) << msg;
}

TEST(ReportContract, StepUnitIsLookedUpByStage) {
  auto dir = srl_test::fresh_dir("report");
  auto in = fixture_input("");
  // An SFT run whose config also has a dpo: section: the stage says examples, whatever the keys.
  in.methods[0].run_dir = copy_run(dir, "sft", "{\"step\":30,\"stage\":\"sft\",\"loss\":1.8}\n",
                                   "dpo:\n  beta: 0.1\ntrain:\n  batch_size: 4\n  grad_accum: 3\n");
  // The reward model's config nests train: under reward_model:, and it consumes pairs.
  in.methods[1].run_dir = copy_run(dir, "dpo", "{\"step\":10,\"stage\":\"reward_model\",\"loss\":0.6}\n",
                                   "reward_model:\n  train:\n    batch_size: 8\n    grad_accum: 2\n");
  auto s = srl::eval::build_summary(in);
  EXPECT_EQ(s["policies"]["sft"]["examples_seen"], json({{"count", 360.0}, {"unit", "examples"}}));
  EXPECT_EQ(s["policies"]["dpo"]["examples_seen"], json({{"count", 160.0}, {"unit", "pairs"}}));

  // An RL run whose config lacks the stage's key: an error naming the file and the key.
  const std::string rl = copy_run(dir, "rl_direct_preference", "{\"step\":5,\"stage\":\"reward_model_rl\",\"loss\":0.1}\n",
                                  "rl:\n  rollout:\n    prompts_per_stp: 8\n");
  in.methods[3].run_dir = rl;
  auto msg = srl_test::error_of([&] { srl::eval::build_summary(in); });
  EXPECT_NE(msg.find(rl + "/config.yaml: rl.rollout.prompts_per_step is missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reward_model_rl"), std::string::npos) << msg;
}

TEST(ReportContract, MissingConfigIsSaidInSampleEfficiency) {
  auto dir = srl_test::fresh_dir("report");
  auto w = write(fixture_input((dir / "out").string()));
  // DPO seed 1's and reward-model RL's fixture runs have metrics.jsonl but no config.yaml.
  const std::string sec = between(w.html, "<h3>Sample efficiency", "<h3>Compute");
  for (const auto& [label, run] : std::map<std::string, std::string>{{"DPO (sigmoid) (seed 1)", "runs/dpo_seed1"},
                                                                     {"RL &amp; reward model", "runs/rl_reward_model"}})
    EXPECT_NE(sec.find(label + ": no " + fx(run) + "/config.yaml, so what one step consumes is not available."),
              std::string::npos)
        << sec;
  EXPECT_EQ(count(sec, "not available"), 2u);
}

TEST(Svg, EscapesAllText) {
  EXPECT_EQ(srl::xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  svg::Axes a;
  a.title = "<t>";
  a.x_label = "x & y";
  a.y_label = "\"q\"";
  const auto out = svg::line_chart(a, {{"<s1>", {0, 1}, {0, 1}}});
  EXPECT_EQ(out.find("<t>"), std::string::npos);
  EXPECT_EQ(out.find("<s1>"), std::string::npos);
  EXPECT_NE(out.find("&lt;t&gt;"), std::string::npos);
  EXPECT_NE(out.find("&lt;s1&gt;"), std::string::npos);
  EXPECT_NE(out.find("x &amp; y"), std::string::npos);
  EXPECT_NE(out.find("&quot;q&quot;"), std::string::npos);
  EXPECT_EQ(out.find("<script"), std::string::npos);
}

TEST(Svg, LineChartSeriesTicksAndLegend) {
  svg::Axes a;
  a.title = "win rate";
  a.y_min = 0;
  a.y_max = 1;
  a.reference_y = 0.5;
  const auto out = svg::line_chart(a, {{"one", {0, 10, 20}, {0.5, 0.6, 0.7}},
                                       {"two", {0, 10, 20}, {0.5, NAN, 0.55}},  // the NaN point is dropped
                                       {"single", {5}, {0.4}}});
  EXPECT_EQ(out.rfind("<svg", 0), 0u);
  EXPECT_EQ(count(out, "<polyline"), 2u);  // a single point draws no line
  EXPECT_EQ(count(out, "<circle"), 3u + 2u + 1u);
  // y ticks at 0.0, 0.2, ..., 1.0 (step 0.2: one decimal); x ticks 0, 5, ..., 20.
  for (const char* t : {">0.0<", ">0.2<", ">0.4<", ">0.6<", ">0.8<", ">1.0<", ">0<", ">5<", ">20<"})
    EXPECT_NE(out.find(t), std::string::npos) << t;
  for (const char* name : {">one<", ">two<", ">single<"}) EXPECT_NE(out.find(name), std::string::npos) << name;
  EXPECT_NE(out.find(svg::colour(0)), std::string::npos);
  EXPECT_NE(out.find(svg::colour(1)), std::string::npos);
  EXPECT_NE(out.find("stroke-dasharray"), std::string::npos);  // the 0.5 reference line
  EXPECT_EQ(out, svg::line_chart(a, {{"one", {0, 10, 20}, {0.5, 0.6, 0.7}},
                                     {"two", {0, 10, 20}, {0.5, NAN, 0.55}},
                                     {"single", {5}, {0.4}}}));
}

TEST(Svg, HistogramScatterAndReliability) {
  svg::Axes a;
  a.title = "lengths";
  // Values 0..3 in 2 bins of width 1.5: sample A {0, 1} -> all in bin 0; B {0, 3, 3} -> 1/3 and 2/3.
  const auto h = svg::histogram(a, {{"A", {0, 1}}, {"B", {0, 3, 3}}}, 2);
  // One background rect, one per non-empty (sample, bin), one legend box per sample.
  EXPECT_EQ(count(h, "<rect"), 1u + 3u + 2u);

  const auto s = svg::scatter_chart(a, {{"base", 0, 0.5, std::nullopt, std::nullopt}, {"dpo", 1.8, 0.63, 0.57, 0.69}});
  EXPECT_EQ(count(s, "<circle"), 2u + 2u);          // points + legend dots
  EXPECT_EQ(count(s, "stroke-width=\"1.5\""), 3u);  // one whisker and its two caps

  std::vector<svg::CalibrationBin> bins = {
      {0.0, 0.5, 10, 0.3, 0.25}, {0.5, 1.0, 0, std::nullopt, std::nullopt}, {0.5, 1.0, 12, 0.8, 0.75}};
  const auto r = svg::reliability_diagram(a, bins);
  EXPECT_EQ(count(r, "<circle"), 2u);  // empty bins are skipped
  EXPECT_NE(r.find("n=10"), std::string::npos);
  EXPECT_NE(r.find("n=12"), std::string::npos);
  EXPECT_NE(r.find("perfect calibration"), std::string::npos);
  EXPECT_NE(svg::line_chart(a, {}).find("no data"), std::string::npos);
}
