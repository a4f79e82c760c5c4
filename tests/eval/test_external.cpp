// Tests for eval/external.hpp with the fixture scripts in tests/eval/fixtures/: the line protocol both
// ways, one process per run, and each failure mode (exit, signal, timeout, SIGTERM ignored, garbage, not
// found, not executable) ending in an unhealthy evaluator with a one-line reason, a reaped process and no
// SIGPIPE reaching the test process. Also EvaluatorSet carrying on with the built-ins.
#include "eval/external.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"

using namespace srl::eval;

namespace {

const std::string kFixtures = std::string(SRL_SOURCE_DIR) + "/tests/eval/fixtures/";

EvaluatorSpec python(const std::string& name, const std::string& script, std::vector<std::string> args = {},
                     double timeout_s = 10) {
  EvaluatorSpec s;
  s.name = name;
  s.type = "external";
  s.command = {"/usr/bin/python3", kFixtures + script};
  for (auto& a : args) s.command.push_back(a);
  s.timeout_s = timeout_s;
  return s;
}

EvalInput item(const std::string& reply) { return EvalInput{{{"user", "Where is my order?"}}, reply}; }

std::filesystem::path temp_dir() {
  return std::filesystem::temp_directory_path() / ("srl_test_external_" + std::to_string(::getpid()));
}
// Removes the pid files when the test program ends.
struct TempDirCleanup {
  ~TempDirCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir(), ec);
  }
} cleanup;

// A fresh file path under the test's temp directory for a fixture to write pids to.
std::string pid_file(const std::string& tag) {
  auto dir = temp_dir();
  std::filesystem::create_directories(dir);
  auto p = dir / (tag + ".pid");
  std::filesystem::remove(p);
  return p.string();
}
std::vector<pid_t> read_pids(const std::string& path) {
  std::ifstream f(path);
  std::vector<pid_t> pids;
  long p;
  while (f >> p) pids.push_back(static_cast<pid_t>(p));
  return pids;
}
// Gone entirely: not running and not a zombie (a zombie still answers kill(pid, 0)).
bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }
// Dead: gone, or a zombie waiting for its parent (an orphan's parent is init, which we do not control).
bool process_dead(pid_t pid) {
  if (process_gone(pid)) return true;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(f, stat);
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

bool sigpipe_pending() {
  sigset_t s;
  sigemptyset(&s);
  sigpending(&s);
  return sigismember(&s, SIGPIPE) == 1;
}

void expect_failed_results(const std::vector<EvalResult>& r, size_t from, const std::string& failure) {
  for (size_t i = from; i < r.size(); ++i) {
    EXPECT_FALSE(r[i].ok) << i;
    EXPECT_TRUE(r[i].scores.empty()) << i;
    EXPECT_EQ(r[i].explanation, failure) << i;
  }
}

}  // namespace

TEST(ExternalEvaluator, ScoresBatchesThroughOneProcess) {
  auto pids = pid_file("good");
  auto ev = make_external_evaluator(python("length", "length_scorer.py", {pids}));
  EXPECT_EQ(ev->name(), "length");
  // Quotes, backslashes, newlines and UTF-8 must survive the JSON line both ways.
  const std::string tricky = "line one\nline \"two\" \\ caf\xC3\xA9";
  auto r = ev->evaluate({item("hello"), item(tricky), EvalInput{{{"system", "s"}, {"user", "u"}}, ""}});
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) EXPECT_TRUE(x.ok) << x.explanation;
  EXPECT_EQ(r[0].scores, (std::map<std::string, double>{{"bytes", 5}, {"turns", 1}, {"seen", 1}}));
  EXPECT_EQ(r[1].scores.at("bytes"), static_cast<double>(tricky.size()));
  EXPECT_EQ(r[2].scores, (std::map<std::string, double>{{"bytes", 0}, {"turns", 2}, {"seen", 3}}));
  EXPECT_EQ(r[0].explanation, "first role user");
  EXPECT_EQ(r[2].explanation, "first role system");
  // The second batch goes to the same process: its line counter carries on.
  auto r2 = ev->evaluate({item("abc")});
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].scores.at("seen"), 4);
  EXPECT_TRUE(ev->evaluate({}).empty());
  EXPECT_TRUE(ev->healthy());
  EXPECT_EQ(ev->failure(), "");
  auto pid = read_pids(pids);
  ASSERT_EQ(pid.size(), 1u);
  EXPECT_FALSE(process_gone(pid[0]));
  ev.reset();  // closes stdin; the script ends at EOF and is reaped
  EXPECT_TRUE(process_gone(pid[0]));
}

TEST(ExternalEvaluator, CrashAfterFirstLineReportsExitStatusAndKeepsFirstAnswer) {
  auto ev = make_external_evaluator(python("crashy", "crash_after_first.py", {"exit"}));
  // Big enough (> one pipe buffer) that writing the rest hits EPIPE after the child is gone.
  std::vector<EvalInput> batch(40, item(std::string(4096, 'a')));
  auto r = ev->evaluate(batch);
  ASSERT_EQ(r.size(), batch.size());
  EXPECT_TRUE(r[0].ok);
  EXPECT_EQ(r[0].scores.at("x"), 1);
  EXPECT_FALSE(ev->healthy());
  const std::string f = ev->failure();
  EXPECT_NE(f.find("exited with status 3"), std::string::npos) << f;
  EXPECT_NE(f.find("with 1 of 40 lines of batch 1 answered"), std::string::npos) << f;
  EXPECT_NE(f.find("stderr: boom: crashed on purpose"), std::string::npos) << f;
  EXPECT_EQ(f.find('\n'), std::string::npos);
  expect_failed_results(r, 1, f);
  EXPECT_FALSE(sigpipe_pending());
  // Unhealthy for the rest of the run: no work, same reason.
  auto again = ev->evaluate({item("x"), item("y")});
  expect_failed_results(again, 0, f);
}

TEST(ExternalEvaluator, KilledBySignalIsReported) {
  auto ev = make_external_evaluator(python("segv", "crash_after_first.py", {"signal"}));
  auto r = ev->evaluate({item("a"), item("b")});
  EXPECT_TRUE(r[0].ok);
  EXPECT_FALSE(r[1].ok);
  EXPECT_NE(ev->failure().find("killed by signal 11 (SIGSEGV"), std::string::npos) << ev->failure();
}

TEST(ExternalEvaluator, HangTimesOutAndProcessIsKilledAndReaped) {
  auto pids = pid_file("hang");
  auto ev = make_external_evaluator(python("slow", "hang.py", {pids}, 1.0));
  auto r = ev->evaluate({item("a"), item("b")});
  expect_failed_results(r, 0, ev->failure());
  EXPECT_FALSE(ev->healthy());
  EXPECT_NE(ev->failure().find("timed out after 1 s (timeout_s) with 0 of 2 lines of batch 1 answered; process killed"), std::string::npos) << ev->failure();
  auto pid = read_pids(pids);
  ASSERT_EQ(pid.size(), 1u);
  EXPECT_TRUE(process_gone(pid[0]));  // killed and reaped before evaluate returned
}

TEST(ExternalEvaluator, SigtermIgnoredThenSigkill) {
  auto pids = pid_file("stubborn");
  auto ev = make_external_evaluator(python("stubborn", "hang.py", {pids, "ignore-term"}, 0.5));
  auto r = ev->evaluate({item("a")});
  EXPECT_FALSE(r[0].ok);
  EXPECT_NE(ev->failure().find("timed out"), std::string::npos) << ev->failure();
  auto pid = read_pids(pids);
  ASSERT_EQ(pid.size(), 1u);
  EXPECT_TRUE(process_gone(pid[0]));
}

TEST(ExternalEvaluator, TimeoutKillsTheWholeProcessGroup) {
  auto pids = pid_file("group");
  EvaluatorSpec s{"shell", "external", {"/bin/sh", kFixtures + "hang_with_child.sh", pids}, 0.5};
  auto ev = make_external_evaluator(s);
  auto r = ev->evaluate({item("a")});
  EXPECT_FALSE(r[0].ok);
  auto pid = read_pids(pids);
  ASSERT_EQ(pid.size(), 2u);  // the shell and its `sleep`
  EXPECT_TRUE(process_gone(pid[0]));
  // The sleep was the shell's child, so init reaps it, not us: dead is what we can require. Its death
  // follows the group SIGKILL at once, but /proc may lag a moment under load, hence the short poll.
  bool dead = false;
  for (int i = 0; i < 200 && !(dead = process_dead(pid[1])); ++i) usleep(10000);
  EXPECT_TRUE(dead);
}

TEST(ExternalEvaluator, GarbageLinesNameTheLineAndTheText) {
  struct Case {
    std::string mode, expect;
  };
  const Case cases[] = {
      {"notjson", "line 1 of its output (item 1 of batch 1) is not JSON: 'this is not json'"},
      {"notobject", "line 1 of its output (item 1 of batch 1) is not a JSON object: '[1, 2, 3]'"},
      {"noscores", "has no \"scores\" object: '{\"score\": 1}'"},
      {"nonnumeric", "has a non-numeric score \"x\""},
      {"nonfinite", "line 1 of its output (item 1 of batch 1)"},
      {"badexplain", "has a non-string \"explanation\""},
      {"late", "line 2 of its output (item 2 of batch 1) is not JSON: '{{{ garbage'"},
  };
  for (const auto& c : cases) {
    auto ev = make_external_evaluator(python("junk_" + c.mode, "garbage.py", {c.mode}));
    auto r = ev->evaluate({item("a"), item("b"), item("c")});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_FALSE(ev->healthy()) << c.mode;
    EXPECT_NE(ev->failure().find(c.expect), std::string::npos) << c.mode << ": " << ev->failure();
    size_t first_bad = c.mode == "late" ? 1 : 0;
    if (first_bad) EXPECT_TRUE(r[0].ok);
    expect_failed_results(r, first_bad, ev->failure());
  }
}

TEST(ExternalEvaluator, ExtraLinesInvalidateTheBatch) {
  auto ev = make_external_evaluator(python("chatty", "garbage.py", {"extra"}));
  auto r = ev->evaluate({item("a"), item("b")});
  // The surplus is seen at the end of a batch or before the next one, depending on when the script's extra
  // lines arrive; give it a few batches (each adds more surplus) with a pause for the script to write.
  for (int i = 0; i < 20 && ev->healthy(); ++i) {
    usleep(50000);
    r = ev->evaluate({item("c")});
  }
  EXPECT_FALSE(ev->healthy());
  EXPECT_NE(ev->failure().find("wrote more lines than"), std::string::npos) << ev->failure();
  expect_failed_results(r, 0, ev->failure());
}

TEST(ExternalEvaluator, CommandThatCannotStart) {
  auto missing = make_external_evaluator({"missing", "external", {"srl-no-such-evaluator-command"}, 5});
  auto r = missing->evaluate({item("a")});
  EXPECT_FALSE(r[0].ok);
  EXPECT_EQ(missing->failure(), "cannot start 'srl-no-such-evaluator-command': command not found on PATH");
  auto nopath = make_external_evaluator({"nopath", "external", {"/nonexistent/dir/evaluator"}, 5});
  nopath->evaluate({item("a")});
  EXPECT_EQ(nopath->failure(), "cannot start '/nonexistent/dir/evaluator': No such file or directory");
  // A directory is not executable: execve says so through the status pipe.
  auto dir = make_external_evaluator({"dir", "external", {kFixtures}, 5});
  dir->evaluate({item("a")});
  EXPECT_EQ(dir->failure(), "cannot start '" + kFixtures + "': Permission denied");
}

TEST(ExternalEvaluator, BadSpecsAreConfigErrors) {
  EXPECT_THROW(make_external_evaluator({"x", "external", {}, 5}), srl::Error);
  EXPECT_THROW(make_external_evaluator({"x", "external", {""}, 5}), srl::Error);
  EXPECT_THROW(make_external_evaluator({"x", "external", {"/bin/true"}, 0}), srl::Error);
  EXPECT_THROW(make_external_evaluator({"x", "external", {"/bin/true"}, -1}), srl::Error);
  EXPECT_THROW(make_external_evaluator({"", "external", {"/bin/true"}, 5}), srl::Error);
  // make_evaluator routes type external here.
  EXPECT_EQ(make_evaluator(python("via_registry", "length_scorer.py"))->name(), "via_registry");
}

TEST(ExternalEvaluator, SetKeepsBuiltinsRunningWhenExternalFails) {
  std::vector<std::unique_ptr<Evaluator>> evs;
  evs.push_back(make_evaluator({"support_helpfulness"}));
  evs.push_back(make_evaluator(python("crashy", "crash_after_first.py", {"exit"})));
  evs.push_back(make_evaluator({"safety_guardrails"}));
  evs.push_back(make_evaluator(python("length", "length_scorer.py")));
  EvaluatorSet set(std::move(evs));
  std::vector<EvalInput> batch = {item("Your order ships within one business day."), item("Track it under Orders.")};
  std::vector<std::map<std::string, EvalResult>> per_item;
  auto m = set.run(batch, "eval/", &per_item);
  EXPECT_TRUE(m.count("eval/support_helpfulness/helpfulness"));
  EXPECT_TRUE(m.count("eval/safety_guardrails/safe"));
  EXPECT_DOUBLE_EQ(m.at("eval/length/turns"), 1);
  EXPECT_DOUBLE_EQ(m.at("eval/crashy/x"), 1);  // the one item it answered before dying
  ASSERT_EQ(set.failed().size(), 1u);
  EXPECT_EQ(set.failed()[0].rfind("crashy: process exited with status 3", 0), 0u) << set.failed()[0];
  EXPECT_FALSE(per_item[1].at("crashy").ok);

  auto m2 = set.run(batch, "eval/", &per_item);
  EXPECT_EQ(m2.count("eval/crashy/x"), 0u);
  EXPECT_DOUBLE_EQ(m2.at("eval/length/seen"), 3.5);  // lines 3 and 4 of the same process
  EXPECT_TRUE(m2.count("eval/safety_guardrails/safe"));
  EXPECT_EQ(set.failed().size(), 1u);
  EXPECT_FALSE(per_item[0].at("crashy").ok);
}
