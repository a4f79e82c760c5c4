// Small string helpers every stage uses: one definition each.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace srl {

// Every ASCII whitespace character (what std::isspace accepts in the C locale).
inline constexpr std::string_view kWhitespace = " \t\n\r\f\v";

// `s` without leading and trailing characters of `ws`.
inline std::string_view trim(std::string_view s, std::string_view ws = kWhitespace) {
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// True when `s` holds only characters of `ws` (or nothing).
inline bool blank(std::string_view s, std::string_view ws = kWhitespace) {
  return s.find_first_not_of(ws) == std::string_view::npos;
}

// The parts with `sep` between them: {"a", "b", "c"} -> "a, b, c".
inline std::string join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? std::string() : std::string(sep)) + parts[i];
  return out;
}

// An English list: {"a", "b", "c"} -> "a, b and c" (`last_sep` before the last part).
inline std::string join_list(const std::vector<std::string>& parts, std::string_view last_sep = " and ") {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? std::string(last_sep) : std::string(", ");
    out += parts[i];
  }
  return out;
}

}  // namespace srl
