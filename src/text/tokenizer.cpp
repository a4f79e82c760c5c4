// Tokenizer over the sentencepiece bridge: training options, model checks, exact-round-trip encode
// and a table-driven decode.
#include "text/tokenizer.hpp"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "text/spm_loader.hpp"

namespace srl::text {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, sentencepiece's escaped space
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr int kMetaPieces = 8 + 256;                        // specials + chat symbols + byte pieces

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [&](size_t k, int lo, int hi) { return k < s.size() && b(k) >= lo && b(k) <= hi; };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return in(i + 1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    int lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;  // no overlongs, no surrogates
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    int lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

// Byte pieces can spell invalid UTF-8 (e.g. a model emitting half a character); downstream JSON
// writers reject that, so each offending byte becomes U+FFFD.
std::string make_valid_utf8(std::string s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t n = utf8_len(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;
  std::string out(s, 0, i);
  while (i < s.size()) {
    size_t n = utf8_len(s, i);
    if (n == 0) {
      out += kReplacement;
      i += 1;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

struct Tokenizer::Impl {
  const detail::SpmApi* api = nullptr;
  std::unique_ptr<srl_spm, srl_spm_free_fn> model{nullptr, nullptr};
  std::string source;
  std::string bytes;
  std::string hash;
  std::vector<std::string> pieces;    // raw vocabulary entries
  std::vector<std::string> surfaces;  // what each id decodes to
  std::vector<char> control;
  int byte_ids[256] = {};
  int unk = 0, bos = 0, eos = 0, pad = 0, system = 0, user = 0, assistant = 0, end = 0;
};

Tokenizer Tokenizer::load(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "tokenizer.model").string();
  return from_bytes(fs::read_file(file), file);
}

Tokenizer Tokenizer::from_bytes(std::string model_bytes, std::string source_name) {
  const auto& api = detail::spm();
  auto impl = std::make_shared<Impl>();
  impl->api = &api;
  impl->source = std::move(source_name);
  const std::string& src = impl->source;
  if (model_bytes.empty()) fail(src, "empty tokenizer model file");
  srl_spm* m = api.load(model_bytes.data(), model_bytes.size());
  if (!m) fail(src, std::string("not a valid sentencepiece model: ") + api.last_error());
  impl->model = std::unique_ptr<srl_spm, srl_spm_free_fn>(m, api.free);
  impl->bytes = std::move(model_bytes);
  impl->hash = fnv1a64_hex(impl->bytes);

  int n = api.vocab_size(m);
  if (n <= kMetaPieces) fail(src, "vocabulary of " + std::to_string(n) + " pieces is too small for a supportrl tokenizer");
  impl->pieces.resize(n);
  impl->surfaces.resize(n);
  impl->control.resize(n);
  for (int id = 0; id < n; ++id) {
    size_t len = 0;
    const char* p = api.id_to_piece(m, id, &len);
    impl->pieces[id].assign(p, len);
    impl->control[id] = api.is_control(m, id) == 1;
    if (impl->control[id]) continue;  // surface stays empty
    if (api.is_byte(m, id) == 1) {
      unsigned v = 0;
      if (std::sscanf(impl->pieces[id].c_str(), "<0x%2X>", &v) != 1 || v > 255)
        fail(src, "unexpected byte piece '" + impl->pieces[id] + "'");
      impl->surfaces[id] = std::string(1, static_cast<char>(v));
    } else if (api.is_unknown(m, id) == 1) {
      impl->surfaces[id] = std::string(kReplacement);
    } else {
      impl->surfaces[id] = replace_all(impl->pieces[id], kSpaceMark, " ");
    }
  }

  // A model we did not train could have other ids or lack byte fallback; catch that here rather than
  // as silently lossy text or misplaced turn markers later.
  auto require = [&](const std::string& piece, int want_id, bool control) {
    int id = api.piece_to_id(m, piece.data(), piece.size());
    if (id < 0 || id >= n || impl->pieces[id] != piece)
      fail(src, "not a supportrl tokenizer: piece " + piece + " is missing");
    if (want_id >= 0 && id != want_id)
      fail(src, "not a supportrl tokenizer: " + piece + " has id " + std::to_string(id) + ", expected " +
                    std::to_string(want_id));
    if (control && !impl->control[id]) fail(src, "not a supportrl tokenizer: " + piece + " is not a control symbol");
    return id;
  };
  impl->unk = require("<unk>", kUnkId, false);
  impl->bos = require("<s>", kBosId, true);
  impl->eos = require("</s>", kEosId, true);
  impl->pad = require("<pad>", kPadId, true);
  impl->system = require(kSystemPiece, -1, true);
  impl->user = require(kUserPiece, -1, true);
  impl->assistant = require(kAssistantPiece, -1, true);
  impl->end = require(kEndPiece, -1, true);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    impl->byte_ids[b] = require(name, -1, false);
  }

  Tokenizer tok(std::move(impl));
  // Normalization settings are inside the model; a probe catches one trained without identity
  // normalization, dummy prefix or whitespace preservation.
  const std::string probe = "  Hi,\tthere\n  1 2\xE2\x96\x81 ";
  if (tok.decode(tok.encode(probe)) != probe)
    fail(src, "tokenizer does not round-trip text exactly (trained with normalization, a dummy prefix or "
              "whitespace folding?)");
  return tok;
}

void Tokenizer::train(const TrainOptions& opt) {
  const std::string where = opt.input.empty() ? "tokenizer training" : opt.input;
  if (opt.input.empty()) fail(where, "no training input file given");
  if (opt.out_dir.empty()) fail(where, "no output directory given");
  // sentencepiece splits `input` at commas; options travel as lines.
  if (opt.input.find_first_of(",\n") != std::string::npos)
    fail(where, "training input path must not contain ',' or a newline");
  if (!std::filesystem::is_regular_file(opt.input)) fail(where, "training input file not found");
  if (opt.vocab_size <= kMetaPieces)
    fail(where, "vocab_size " + std::to_string(opt.vocab_size) + " is too small: the 8 special symbols and 256 "
                "byte-fallback pieces take " + std::to_string(kMetaPieces) +
                " ids, plus one per distinct character of the input");
  if (opt.model_type != "bpe" && opt.model_type != "unigram")
    fail(where, "model_type must be 'bpe' or 'unigram', got '" + opt.model_type + "'");
  if (!(opt.character_coverage > 0.0 && opt.character_coverage <= 1.0))
    fail(where, "character_coverage must be in (0, 1]");
  if (opt.threads < 1) fail(where, "threads must be >= 1");

  std::ostringstream o;
  o.precision(17);
  o << "input=" << opt.input << "\n"
    << "model_type=" << opt.model_type << "\n"
    << "vocab_size=" << opt.vocab_size << "\n"
    << "character_coverage=" << opt.character_coverage << "\n"
    << "num_threads=" << opt.threads << "\n"
    << "random_seed=" << opt.seed << "\n"
    // Exact round trip: no normalization, no invented or folded whitespace, bytes for unseen chars.
    << "normalization_rule_name=identity\n"
    << "add_dummy_prefix=false\n"
    << "remove_extra_whitespaces=false\n"
    << "byte_fallback=true\n"
    << "split_digits=true\n"
    << "allow_whitespace_only_pieces=true\n"
    << "unk_id=" << kUnkId << "\nbos_id=" << kBosId << "\neos_id=" << kEosId << "\npad_id=" << kPadId << "\n"
    // CONTROL symbols are only ever inserted by id; encode() never produces them from text.
    << "control_symbols=" << kSystemPiece << "," << kUserPiece << "," << kAssistantPiece << "," << kEndPiece << "\n"
    << "minloglevel=2\n";

  const auto& api = detail::spm();
  std::string model;
  auto sink = [](void* ctx, const char* d, size_t n) { static_cast<std::string*>(ctx)->append(d, n); };
  if (api.train(o.str().c_str(), sink, &model) != 0) {
    std::string err = api.last_error();
    if (err.find("smaller than required_chars") != std::string::npos)
      fail(where, "vocab_size " + std::to_string(opt.vocab_size) +
                      " is too small for the distinct characters of this input (sentencepiece: " + err + ")");
    if (auto p = err.find("Vocabulary size too high"); p != std::string::npos)
      fail(where, "vocab_size " + std::to_string(opt.vocab_size) + " is larger than this input supports: " +
                      err.substr(p));
    fail(where, "tokenizer training failed: " + err);
  }
  // Validate before writing so a bad model never lands on disk.
  Tokenizer tok = from_bytes(std::move(model), opt.out_dir + "/tokenizer.model");
  tok.save(opt.out_dir);
}

std::vector<int> Tokenizer::encode(std::string_view text) const {
  const Impl& im = *impl_;
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 1);
  auto sink = [](void* ctx, const int* d, size_t n) {
    auto* v = static_cast<std::vector<int>*>(ctx);
    v->insert(v->end(), d, d + n);
  };
  // sentencepiece reads a literal U+2581 as an escaped space; spell it as its three bytes instead.
  while (!text.empty()) {
    size_t pos = text.find(kSpaceMark);
    std::string_view seg = text.substr(0, pos);
    if (!seg.empty() && im.api->encode(im.model.get(), seg.data(), seg.size(), sink, &ids) != 0)
      fail(im.source, std::string("encode failed: ") + im.api->last_error());
    if (pos == std::string_view::npos) break;
    for (char c : kSpaceMark) ids.push_back(im.byte_ids[static_cast<unsigned char>(c)]);
    text.remove_prefix(pos + kSpaceMark.size());
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  const Impl& im = *impl_;
  std::string out;
  for (int id : ids) {
    if (id < 0 || id >= static_cast<int>(im.surfaces.size()))
      fail(im.source, "token id " + std::to_string(id) + " out of range [0, " + std::to_string(im.surfaces.size()) + ")");
    out += im.surfaces[id];
  }
  return make_valid_utf8(std::move(out));
}

std::string Tokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size())
    fail(impl_->source, "token id " + std::to_string(id) + " out of range [0, " + std::to_string(vocab_size()) + ")");
  return impl_->pieces[id];
}

bool Tokenizer::is_control(int id) const {
  return id >= 0 && id < vocab_size() && impl_->control[id];
}

int Tokenizer::vocab_size() const { return static_cast<int>(impl_->pieces.size()); }
int Tokenizer::unk_id() const { return impl_->unk; }
int Tokenizer::bos_id() const { return impl_->bos; }
int Tokenizer::eos_id() const { return impl_->eos; }
int Tokenizer::pad_id() const { return impl_->pad; }
int Tokenizer::system_id() const { return impl_->system; }
int Tokenizer::user_id() const { return impl_->user; }
int Tokenizer::assistant_id() const { return impl_->assistant; }
int Tokenizer::end_id() const { return impl_->end; }
const std::string& Tokenizer::model_bytes() const { return impl_->bytes; }
const std::string& Tokenizer::source() const { return impl_->source; }
std::string Tokenizer::hash() const { return impl_->hash; }

void Tokenizer::save(const std::string& dir) const {
  fs::make_dirs(dir);
  fs::write_file_atomic((std::filesystem::path(dir) / "tokenizer.model").string(), impl_->bytes);
}

}  // namespace srl::text
