// The project's tokenizer: a byte-fallback BPE sentencepiece model with the chat control symbols.
// decode(encode(s)) == s for every valid UTF-8 string (spaces, newlines, tabs, control characters,
// emoji, CJK, a literal U+2581 "▁"). Invalid UTF-8 given to encode() is not preserved: sentencepiece
// replaces each byte that does not start a valid sequence with U+FFFD, so it decodes as "\xEF\xBF\xBD".
//
// sentencepiece itself lives in libsrl_spm.so, loaded at run time (see spm_loader.hpp); this header
// pulls in neither sentencepiece nor torch.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace srl::text {

// Fixed ids of every tokenizer this project trains; load() checks a model against them by name.
inline constexpr int kUnkId = 0, kBosId = 1, kEosId = 2, kPadId = 3;
inline constexpr const char* kSystemPiece = "<|system|>";
inline constexpr const char* kUserPiece = "<|user|>";
inline constexpr const char* kAssistantPiece = "<|assistant|>";
inline constexpr const char* kEndPiece = "<|end|>";

struct TrainOptions {
  std::string input;    // text file, one sentence/document per line (lines over 4192 bytes are skipped)
  std::string out_dir;  // receives tokenizer.model (written atomically; the directory is created)
  int vocab_size = 8000;            // includes 8 special symbols and 256 byte pieces, so must be > 264
  std::string model_type = "bpe";   // "bpe" or "unigram"
  double character_coverage = 1.0;  // characters left out still round-trip through byte pieces
  uint32_t seed = 0;
  int threads = 1;
};

class Tokenizer {
 public:
  // `path` is a directory holding tokenizer.model, or the .model file itself. Missing, corrupt or
  // non-conforming models (no byte fallback, missing chat symbols) are srl::fail naming the path.
  static Tokenizer load(const std::string& path);
  // Same checks as load(); `source_name` is what errors name.
  static Tokenizer from_bytes(std::string model_bytes, std::string source_name);
  // Trains a model on opt.input and writes <opt.out_dir>/tokenizer.model. Bad options, a vocabulary
  // too small for the symbols and characters, or too large for the corpus are srl::fail.
  static void train(const TrainOptions& opt);

  // Ordinary text to ids; never yields control ids, so typing "<|end|>" cannot fake a turn boundary.
  // No BOS/EOS is added.
  std::vector<int> encode(std::string_view text) const;
  // Ids to text. Control symbols (<s>, </s>, <pad>, chat markers) decode to nothing; <unk> and byte
  // pieces that do not form valid UTF-8 decode to U+FFFD, so the result is always valid UTF-8.
  // An id outside [0, vocab_size) is srl::fail.
  std::string decode(const std::vector<int>& ids) const;
  // The raw vocabulary entry, e.g. "▁the", "<0x0A>", "<|end|>". Out-of-range id is srl::fail.
  std::string piece(int id) const;
  bool is_control(int id) const;
  int vocab_size() const;

  int unk_id() const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  int system_id() const;
  int user_id() const;
  int assistant_id() const;
  int end_id() const;

  const std::string& model_bytes() const;
  const std::string& source() const;  // path or name it was loaded from
  // Writes <dir>/tokenizer.model atomically (creating dir).
  void save(const std::string& dir) const;
  // srl::fnv1a64_hex(model_bytes()): 16 hex digits identifying the vocabulary in checkpoints.
  std::string hash() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  // Shared and immutable: copies are cheap and const use from many threads is safe.
  std::shared_ptr<const Impl> impl_;
};

}  // namespace srl::text
