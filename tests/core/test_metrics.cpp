// Tests for core/metrics.hpp: line-per-row appends visible immediately, and resume truncation.
#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/fs.hpp"
#include "test_util.hpp"

namespace {

std::vector<nlohmann::json> read_rows(const std::string& path) {
  std::vector<nlohmann::json> rows;
  const std::string text = srl::fs::read_file(path);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    EXPECT_NE(end, std::string::npos) << "every row must end with a newline";
    if (end == std::string::npos) break;
    rows.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return rows;
}

}  // namespace

TEST(Metrics, AppendsOneLinePerRowVisibleBeforeClose) {
  auto dir = srl_test::fresh_dir("m");
  const std::string path = (dir / "runs" / "x" / "metrics.jsonl").string();  // parents created
  srl::MetricsLog log(path);
  log.log({{"step", 1}, {"loss", 2.5}});
  log.log({{"step", 2}, {"loss", std::nan("")}, {"tag", "a\xff"}});  // NaN -> null; bad UTF-8 replaced
  // Read while the log is still open: nothing may sit in a buffer.
  auto rows = read_rows(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["step"], 1);
  EXPECT_DOUBLE_EQ(rows[0]["loss"].get<double>(), 2.5);
  EXPECT_TRUE(rows[1]["loss"].is_null());
  EXPECT_EQ(rows[1]["tag"].get<std::string>(), "a\xEF\xBF\xBD");
}

TEST(Metrics, ReopeningAppends) {
  auto dir = srl_test::fresh_dir("m");
  const std::string path = (dir / "metrics.jsonl").string();
  { srl::MetricsLog(path).log({{"step", 1}}); }
  { srl::MetricsLog(path).log({{"step", 2}}); }
  auto rows = read_rows(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["step"], 2);
}

TEST(Metrics, NonObjectRowIsInternalError) {
  auto dir = srl_test::fresh_dir("m");
  srl::MetricsLog log((dir / "m.jsonl").string());
  int code = 0;
  srl_test::error_of([&] { log.log(nlohmann::json::array({1, 2})); }, &code);
  EXPECT_EQ(code, 1);
}

TEST(Metrics, TruncateAfterStepKeepsEarlierRows) {
  auto dir = srl_test::fresh_dir("m");
  const std::string path = (dir / "metrics.jsonl").string();
  {
    srl::MetricsLog log(path);
    log.log({{"event", "start"}});  // no step, before the cut: kept
    for (int s = 1; s <= 5; ++s) log.log({{"step", s}, {"loss", 1.0 / s}});
    log.log({{"event", "summary"}});  // no step, after rows past the cut: dropped
  }
  srl::MetricsLog::truncate_after_step(path, 3);
  auto rows = read_rows(path);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["event"], "start");
  EXPECT_EQ(rows[1]["step"], 1);
  EXPECT_EQ(rows[3]["step"], 3);
  // Appending after the truncation continues cleanly.
  srl::MetricsLog(path).log({{"step", 4}});
  rows = read_rows(path);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[4]["step"], 4);
  // No temp files left next to it.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) { (void)e; ++n; }
  EXPECT_EQ(n, 1);
}

TEST(Metrics, TruncateDropsTornLastLineAndRejectsCorruptMiddle) {
  auto dir = srl_test::fresh_dir("m");
  const std::string path = (dir / "metrics.jsonl").string();
  srl::fs::write_file_atomic(path, "{\"step\":1}\n{\"step\":2}\n{\"step\":3,\"lo");
  srl::MetricsLog::truncate_after_step(path, 10);
  EXPECT_EQ(srl::fs::read_file(path), "{\"step\":1}\n{\"step\":2}\n");

  srl::fs::write_file_atomic(path, "{\"step\":1}\nnot json\n{\"step\":2}\n");
  int code = 0;
  std::string msg = srl_test::error_of([&] { srl::MetricsLog::truncate_after_step(path, 10); }, &code);
  EXPECT_NE(msg.find(path + ":2"), std::string::npos) << msg;
  EXPECT_EQ(code, 2);
}

TEST(Metrics, TruncateMissingFileDoesNothing) {
  auto dir = srl_test::fresh_dir("m");
  const std::string path = (dir / "none.jsonl").string();
  srl::MetricsLog::truncate_after_step(path, 3);
  EXPECT_FALSE(srl::fs::exists(path));
}
