// FNV-1a 64-bit content hashes, used to fingerprint data, model and tokenizer files so a run can
// tell whether its inputs changed. Not cryptographic: it detects accidents, not tampering.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace srl {

// Incremental FNV-1a 64: feeding "ab" then "c" gives the same hash as "abc".
class Hasher {
 public:
  Hasher& update(std::string_view bytes);
  uint64_t value() const { return state_; }
  // 16 lowercase hex digits, zero-padded.
  std::string hex() const;

 private:
  uint64_t state_ = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
};

std::string fnv1a64_hex(std::string_view bytes);
// Hash of a file's bytes, read in chunks (srl::fail naming the path if it cannot be read).
std::string fnv1a64_file_hex(const std::string& path);

}  // namespace srl
