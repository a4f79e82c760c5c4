#include "text/ticket_features.hpp"

#include "core/hash.hpp"

namespace srl::text {

namespace {

// Bytes of the UTF-8 sequence starting with `lead` (0: not a valid lead byte).
size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 0;
}

bool word_char(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\''; }

// ASCII lowercase, digits -> '0', U+2018/U+2019 -> '.
char fold(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  if (c >= '0' && c <= '9') return '0';
  return static_cast<char>(c);
}

int64_t bucket(const std::string& feature, int64_t buckets) {
  return static_cast<int64_t>(Hasher().update(feature).value() % static_cast<uint64_t>(buckets));
}

}  // namespace

std::vector<std::string> ticket_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_length(c);
    if (n == 0 || i + n > text.size()) {  // invalid byte: dropped
      ++i;
      continue;
    }
    if (n == 3 && c == 0xE2 && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) == 0x98 || static_cast<unsigned char>(text[i + 2]) == 0x99)) {
      word += '\'';  // typographic apostrophe
    } else if (n > 1) {
      flush();
      out.push_back(text.substr(i, n));
    } else if (word_char(static_cast<unsigned char>(fold(c)))) {
      word += fold(c);
    } else {
      flush();
      if ((c == '!' || c == '?') && (out.empty() || out.back() != std::string(1, static_cast<char>(c))))
        out.emplace_back(1, static_cast<char>(c));
    }
    i += n;
  }
  flush();
  return out;
}

std::vector<int64_t> ticket_features(const std::string& text, const TicketFeatureConfig& cfg) {
  const auto tokens = ticket_tokens(text);
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() * 12);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const auto& w = tokens[t];
    ids.push_back(bucket("w:" + w, cfg.buckets));
    if (cfg.word_bigrams && t + 1 < tokens.size()) ids.push_back(bucket("b:" + w + " " + tokens[t + 1], cfg.buckets));
    const std::string framed = "<" + w + ">";
    if (static_cast<int>(framed.size()) <= cfg.char_max) continue;  // the unigram already covers it
    for (int n = cfg.char_min; n <= cfg.char_max; ++n)
      for (size_t s = 0; s + n <= framed.size(); ++s) ids.push_back(bucket("c:" + framed.substr(s, n), cfg.buckets));
  }
  if (ids.empty()) ids.push_back(bucket("w:", cfg.buckets));
  return ids;
}

}  // namespace srl::text
