#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/fs.hpp"

TEST(Fs, AtomicWriteThenReadRoundTrips) {
  auto dir = std::filesystem::temp_directory_path() / "srl_fs_test";
  std::filesystem::remove_all(dir);
  std::string path = (dir / "sub" / "x.bin").string();
  std::string bytes("a\0b\xff", 4);
  srl::fs::write_file_atomic(path, bytes);
  EXPECT_EQ(srl::fs::read_file(path), bytes);
  // No temp file left behind.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir / "sub")) { (void)e; ++n; }
  EXPECT_EQ(n, 1);
}

TEST(Fs, MissingFileIsBadInputNamingPath) {
  try {
    srl::fs::read_file("/nonexistent/zzz.txt");
    FAIL() << "expected srl::Error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/zzz.txt"), std::string::npos);
  }
}
