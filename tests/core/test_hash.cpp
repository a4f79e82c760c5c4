// Tests for core/hash.hpp against independently computed FNV-1a 64 values.
#include "core/hash.hpp"

#include <gtest/gtest.h>

#include "core/fs.hpp"
#include "test_util.hpp"

// Expected values computed outside this code base with a python3 one-liner:
//   def f(b):
//     h = 0xcbf29ce484222325
//     for c in b: h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
//     return '%016x' % h
TEST(Hash, KnownValues) {
  EXPECT_EQ(srl::fnv1a64_hex(""), "cbf29ce484222325");
  EXPECT_EQ(srl::fnv1a64_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(srl::fnv1a64_hex("foobar"), "85944171f73967e8");
  EXPECT_EQ(srl::fnv1a64_hex("hello world"), "779a65e7023cd2e7");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);  // bytes >= 0x80 must not sign-extend
  EXPECT_EQ(srl::fnv1a64_hex(all), "4242dc5249c33625");
}

TEST(Hash, IncrementalMatchesOneShot) {
  srl::Hasher h;
  h.update("hello").update(" ").update("world");
  EXPECT_EQ(h.hex(), "779a65e7023cd2e7");
  EXPECT_EQ(h.value(), 0x779a65e7023cd2e7ULL);
  EXPECT_EQ(srl::Hasher().hex(), "cbf29ce484222325");
}

TEST(Hash, FileHashMatchesBytes) {
  auto dir = srl_test::fresh_dir("h");
  // Larger than the 1 MiB read chunk, so the chunk boundary is crossed.
  std::string bytes;
  for (int i = 0; i < (3 << 19) + 17; ++i) bytes += static_cast<char>((i * 131) & 0xff);
  const std::string path = (dir / "blob.bin").string();
  srl::fs::write_file_atomic(path, bytes);
  EXPECT_EQ(srl::fnv1a64_file_hex(path), srl::fnv1a64_hex(bytes));
  int code = 0;
  std::string msg = srl_test::error_of([&] { srl::fnv1a64_file_hex((dir / "missing").string()); }, &code);
  EXPECT_NE(msg.find("missing"), std::string::npos);
  EXPECT_EQ(code, 2);
}
