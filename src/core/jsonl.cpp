#include "core/jsonl.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

namespace srl {

bool is_valid_utf8(std::string_view s, size_t* bad_offset) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto bad = [&](size_t at) {
    if (bad_offset) *bad_offset = at;
    return false;
  };
  while (i < n) {
    unsigned char c = b[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return bad(i);  // continuation byte, 0xC0/0xC1 (overlong) or > 0xF4
    if (i + len > n) return bad(i);
    for (size_t k = 1; k < len; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return bad(i);
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return bad(i);
    i += len;
  }
  return true;
}

std::optional<LineIssue> parse_json_line(std::string_view line, nlohmann::json* out) {
  size_t bad = 0;
  if (!is_valid_utf8(line, &bad)) return LineIssue{jsonl_reason::kInvalidUtf8, "invalid UTF-8 at byte " + std::to_string(bad + 1)};
  // Depth pre-scan: keeps pathological nesting away from recursive code (dump, destructors).
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : line) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxJsonDepth)
        return LineIssue{jsonl_reason::kInvalidJson, "nesting deeper than " + std::to_string(kMaxJsonDepth)};
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  try {
    *out = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return LineIssue{jsonl_reason::kInvalidJson, "invalid JSON: " + strip_json_exception_prefix(e.what())};
  }
  if (!out->is_object()) return LineIssue{jsonl_reason::kNotObject, std::string("expected a JSON object, not ") + out->type_name()};
  return std::nullopt;
}

std::string strip_json_exception_prefix(const std::string& what) {
  // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
  if (!what.empty() && what[0] == '[') {
    size_t close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

std::string read_text_file(const std::string& path) { return fs::read_file(path); }

void fail_line(const std::string& where, const LineIssue& issue) { fail(where, issue.reason + ": " + issue.message); }

}  // namespace srl
