// JSON Lines, read one way everywhere: line numbers count every line (blank ones are skipped, a trailing
// '\r' is dropped), each line's bytes are checked as UTF-8 before parsing, nesting is bounded, and a
// problem is reported as "FILE:LINE" with a reason code and a message. Every JSONL file of the project
// (preference pairs, prompts, conversations, metrics and transcripts) is read through this header.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace srl {

// A problem with one line: a reason code (below, or a caller's own) and a message.
struct LineIssue {
  std::string reason;
  std::string message;
};

namespace jsonl_reason {
inline constexpr const char* kInvalidUtf8 = "invalid_utf8";
inline constexpr const char* kInvalidJson = "invalid_json";
inline constexpr const char* kNotObject = "not_an_object";
}  // namespace jsonl_reason

// Deeper JSON nesting than this is rejected before parsing (recursive code never sees it).
inline constexpr int kMaxJsonDepth = 128;

// Calls fn(line_no, line) for each non-blank line of `text` (1-based numbers, trailing '\r' stripped).
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  for (int64_t line_no = 1; pos < text.size(); ++line_no) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    fn(line_no, line);
  }
}

// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
// On failure *bad_offset (if given) is the offset of the first bad byte.
bool is_valid_utf8(std::string_view bytes, size_t* bad_offset = nullptr);

// Parses one line into a JSON object after checking its bytes: invalid UTF-8, invalid JSON (including
// nesting deeper than kMaxJsonDepth) or a non-object is a LineIssue instead of an exception.
std::optional<LineIssue> parse_json_line(std::string_view line, nlohmann::json* out);

// nlohmann's exception text without its "[json.exception.parse_error.101] " prefix.
std::string strip_json_exception_prefix(const std::string& what);

// Reads the JSONL file at `path` and calls fn(object, where) for each non-blank line, where = "FILE:LINE".
// The first malformed line is srl::fail(where, "<reason>: <message>"); an unreadable file is srl::fail(path).
// Returns the number of lines read.
template <class Fn>
int64_t read_json_lines(const std::string& path, Fn&& fn);

std::string read_text_file(const std::string& path);  // fs::read_file, kept out of this header
[[noreturn]] void fail_line(const std::string& where, const LineIssue& issue);  // srl::fail(where, "reason: message")

template <class Fn>
int64_t read_json_lines(const std::string& path, Fn&& fn) {
  const std::string text = read_text_file(path);
  int64_t n = 0;
  for_each_line(text, [&](int64_t line_no, std::string_view line) {
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    if (auto issue = parse_json_line(line, &j)) fail_line(where, *issue);
    fn(j, where);
    ++n;
  });
  return n;
}

}  // namespace srl
