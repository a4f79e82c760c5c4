// FNV-1a 64 implementation and chunked file hashing.
#include "core/hash.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.hpp"

namespace srl {

Hasher& Hasher::update(std::string_view bytes) {
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = state_;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kPrime;
  }
  state_ = h;
  return *this;
}

std::string Hasher::hex() const {
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  uint64_t v = state_;
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = digits[v & 0xf];
  return out;
}

std::string fnv1a64_hex(std::string_view bytes) { return Hasher().update(bytes).hex(); }

std::string fnv1a64_file_hex(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  Hasher h;
  std::vector<char> buf(1 << 20);  // files can be GBs (model weights): don't read them whole
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) fail(path, "read error");
  return h.hex();
}

}  // namespace srl
