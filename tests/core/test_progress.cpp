// Tests for core/progress.hpp: silent off-terminal, frame text, and throttled drawing (forced on a plain file).
#include "core/progress.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

TEST(Progress, SilentWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    srl::ProgressBar bar(10, "tokenize", f);
    EXPECT_FALSE(bar.enabled());
    for (int i = 0; i <= 10; ++i) bar.update(i, "x");
    bar.finish();
  }
  std::fflush(f);
  EXPECT_EQ(std::ftell(f), 0L);
  std::fclose(f);
}

TEST(Progress, RenderShowsPercentCountRateEta) {
  srl::ProgressBar bar(100, "train", nullptr);
  const std::string line = bar.render(50, 10.0, "loss 1.23", 80);
  EXPECT_EQ(line.rfind("train [", 0), 0u) << line;
  EXPECT_NE(line.find(" 50% 50/100 5.0 it/s ETA 0:10 loss 1.23"), std::string::npos) << line;
  // Half the bar is filled.
  const size_t open = line.find('['), close = line.find(']');
  ASSERT_NE(close, std::string::npos);
  const std::string inner = line.substr(open + 1, close - open - 1);
  EXPECT_EQ(std::count(inner.begin(), inner.end(), '#'), static_cast<long>(inner.size() / 2)) << line;
  EXPECT_LE(line.size(), 79u);
}

TEST(Progress, RenderSlowStepsLongEtaAndNarrowTerminal) {
  srl::ProgressBar bar(1000, "train", nullptr);
  const std::string slow = bar.render(2, 10.0, "", 120);
  EXPECT_NE(slow.find("5.0 s/it"), std::string::npos) << slow;
  EXPECT_NE(slow.find("ETA 1:23:10"), std::string::npos) << slow;  // 998 steps * 5 s
  EXPECT_LE(bar.render(500, 10.0, "a long suffix that will not fit", 30).size(), 29u);
  srl::ProgressBar unknown(0, "read", nullptr);
  const std::string u = unknown.render(30, 10.0, "", 80);
  EXPECT_EQ(u.find('%'), std::string::npos) << u;
  EXPECT_NE(u.find("30 3.0 it/s"), std::string::npos) << u;
}

TEST(Progress, DrawsAtMostTenTimesASecond) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    srl::ProgressBar off(10, "quiet", f);  // a plain file is not a terminal: nothing is drawn
    EXPECT_FALSE(off.enabled());
    off.update(10);
  }
  EXPECT_EQ(std::ftell(f), 0L);
  {
    srl::ProgressBar bar(100000, "work", f, /*always_draw=*/true);
    EXPECT_TRUE(bar.enabled());
    for (int i = 1; i < 100000; ++i) bar.update(i);  // far faster than 100 ms
    bar.update(100000);                              // reaching the total always draws
    bar.finish();
  }
  std::string out(static_cast<size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  ASSERT_EQ(std::fread(out.data(), 1, out.size(), f), out.size());
  std::fclose(f);
  const auto frames = std::count(out.begin(), out.end(), '\r');
  EXPECT_GE(frames, 2) << out;  // the first update and the final state
  EXPECT_LE(frames, 20) << out.size() << " bytes";
  EXPECT_NE(out.find("100000/100000"), std::string::npos);
  EXPECT_NE(out.find("work ["), std::string::npos);
}
