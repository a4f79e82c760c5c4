// Tests for core/run_dir.hpp: checkpoint naming, completeness, the final link, pruning, resolving.
#include "core/run_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.hpp"
#include "test_util.hpp"

namespace stdfs = std::filesystem;

namespace {

// A checkpoint dir with config.json; COMPLETE only if `complete`.
void make_ckpt(const srl::RunDir& run, int64_t step, bool complete) {
  const std::string dir = run.checkpoint_dir(step);
  srl::fs::write_file_atomic(dir + "/config.json", "{}");
  if (complete) srl::fs::write_file_atomic(dir + "/COMPLETE", "");
}

}  // namespace

TEST(RunDir, Paths) {
  srl::RunDir run("runs/x/");
  EXPECT_EQ(run.root(), "runs/x");
  EXPECT_EQ(run.path("metrics.jsonl"), "runs/x/metrics.jsonl");
  EXPECT_EQ(run.checkpoint_dir(200), "runs/x/checkpoints/step_000200");
  EXPECT_EQ(run.checkpoint_dir(0), "runs/x/checkpoints/step_000000");
  EXPECT_EQ(run.checkpoint_dir(1234567), "runs/x/checkpoints/step_1234567");
}

TEST(RunDir, LatestCheckpointIgnoresIncompleteAndStrayEntries) {
  auto root = srl_test::fresh_dir("r");
  srl::RunDir run(root.string());
  EXPECT_FALSE(run.latest_checkpoint().has_value());  // no checkpoints/ at all
  make_ckpt(run, 100, true);
  make_ckpt(run, 200, true);
  make_ckpt(run, 300, false);  // cut off mid-write
  stdfs::create_directories(root / "checkpoints" / "step_abc");
  srl::fs::write_file_atomic((root / "checkpoints" / "step_000900").string(), "a file, not a dir");
  ASSERT_TRUE(run.latest_checkpoint().has_value());
  EXPECT_EQ(*run.latest_checkpoint(), run.checkpoint_dir(200));
  EXPECT_EQ(run.complete_steps(), (std::vector<int64_t>{100, 200}));
  // Steps sort numerically, not by name: step_1000000 (7 digits) is newer than step_999999.
  make_ckpt(run, 999999, true);
  make_ckpt(run, 1000000, true);
  EXPECT_EQ(*run.latest_checkpoint(), run.checkpoint_dir(1000000));
}

TEST(RunDir, SetFinalIsRelativeLinkReplacedInPlace) {
  auto root = srl_test::fresh_dir("r");
  srl::RunDir run(root.string());
  make_ckpt(run, 100, true);
  make_ckpt(run, 200, true);
  run.set_final(100);
  EXPECT_EQ(stdfs::read_symlink(root / "final").string(), "checkpoints/step_000100");
  run.set_final(200);
  EXPECT_EQ(stdfs::read_symlink(root / "final").string(), "checkpoints/step_000200");
  EXPECT_TRUE(stdfs::exists(root / "final" / "config.json"));
  // Moving the whole run keeps the link valid (relative target).
  stdfs::rename(root, root.string() + "_moved");
  EXPECT_TRUE(stdfs::exists(stdfs::path(root.string() + "_moved") / "final" / "config.json"));
  stdfs::rename(root.string() + "_moved", root);
  // Only checkpoints/, final: no temp links left.
  int n = 0;
  for (auto& e : stdfs::directory_iterator(root)) { (void)e; ++n; }
  EXPECT_EQ(n, 2);
  make_ckpt(run, 300, false);
  int code = 0;
  srl_test::error_of([&] { run.set_final(300); }, &code);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(stdfs::read_symlink(root / "final").string(), "checkpoints/step_000200");
}

TEST(RunDir, PruneKeepsNewestFinalAndInProgress) {
  auto root = srl_test::fresh_dir("r");
  srl::RunDir run(root.string());
  make_ckpt(run, 50, false);  // crash leftover, older than newest complete: deleted
  for (int s = 100; s <= 500; s += 100) make_ckpt(run, s, true);
  make_ckpt(run, 600, false);  // newer than any complete one (maybe being written): kept
  run.set_final(100);
  run.prune_checkpoints(2);
  std::vector<std::string> left;
  for (auto& e : stdfs::directory_iterator(root / "checkpoints")) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"step_000100", "step_000400", "step_000500", "step_000600"}));
  EXPECT_EQ(*run.latest_checkpoint(), run.checkpoint_dir(500));
}

TEST(RunDir, ResolveModelDir) {
  auto root = srl_test::fresh_dir("r");
  srl::RunDir run(root.string());
  make_ckpt(run, 100, true);
  make_ckpt(run, 200, true);
  make_ckpt(run, 300, false);
  // A checkpoint dir is itself.
  EXPECT_EQ(srl::resolve_model_dir(run.checkpoint_dir(100)), run.checkpoint_dir(100));
  // A run dir without final: latest complete checkpoint.
  EXPECT_EQ(srl::resolve_model_dir(root.string()), run.checkpoint_dir(200));
  // With final: its target, even if newer checkpoints exist.
  run.set_final(100);
  EXPECT_EQ(srl::resolve_model_dir(root.string()), run.checkpoint_dir(100));
}

TEST(RunDir, ResolveModelDirErrorsNamePath) {
  auto root = srl_test::fresh_dir("r");
  auto expect_bad = [](const std::string& path, const std::string& fragment) {
    int code = 0;
    std::string msg = srl_test::error_of([&] { srl::resolve_model_dir(path); }, &code);
    EXPECT_EQ(code, 2) << msg;
    EXPECT_EQ(msg.rfind(path, 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  };
  expect_bad((root / "nope").string(), "no such model or run directory");
  expect_bad(root.string(), "not a model directory");
  srl::RunDir run(root.string());
  make_ckpt(run, 100, false);
  expect_bad(root.string(), "no complete checkpoint");
  stdfs::create_symlink("checkpoints/step_000999", root / "final");
  expect_bad(root.string(), "final: does not lead to a checkpoint");
}
