// The anonymizer's scanner: one pass over the bytes, detectors tried in priority order at each token
// start, each bounded to a short window (see anonymize.hpp for the rules and why there is no std::regex).
#include "data/anonymize.hpp"

#include <array>
#include <cstddef>
#include <vector>

namespace srl::data {
namespace {

using Sv = std::string_view;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
char lower(char c) { return is_upper(c) ? char(c - 'A' + 'a') : c; }
bool is_num_joiner(char c) { return c == '.' || c == ',' || c == ':' || c == '/' || c == '-'; }
// Context checks treat placeholder braces like the alphanumerics they replaced (every match starts and
// ends with one), so a second pass sees no token boundary the first pass did not: idempotence.
bool wordish(char c) { return is_word(c) || c == '{' || c == '}'; }
bool digitish(char c) { return is_digit(c) || c == '{' || c == '}'; }

std::string lower_str(Sv s) {
  std::string r(s);
  for (auto& c : r) c = lower(c);
  return r;
}

template <size_t N>
bool in(Sv word, const std::array<Sv, N>& list) {
  for (auto w : list)
    if (w == word) return true;
  return false;
}

struct Match {
  size_t len = 0;
  const char* type = nullptr;
};

// A token may start at i when it does not continue a word or a number ("1.5", "12-34", "a_b").
bool token_start(Sv s, size_t i) {
  if (i == 0) return true;
  char p = s[i - 1];
  if (wordish(p)) return false;
  if (is_num_joiner(p) && i >= 2 && digitish(s[i - 2])) return false;
  return true;
}

// A match may end at j when the next bytes do not continue it (a letter/digit, or "-5", ".5", ",5").
bool end_ok(Sv s, size_t j) {
  if (j >= s.size()) return true;
  char c = s[j];
  if (wordish(c) || c == '@' || c == '%') return false;
  if (is_num_joiner(c) && j + 1 < s.size() && digitish(s[j + 1])) return false;
  return true;
}

size_t digits_at(Sv s, size_t i, size_t max) {
  size_t j = i;
  while (j < s.size() && j - i <= max && is_digit(s[j])) ++j;
  return j - i;
}

// ---- EMAIL ----
bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

Match match_email(Sv s, size_t i) {
  if (!is_alnum(s[i])) return {};
  size_t j = i;
  while (j < s.size() && j - i < 64 && is_local_char(s[j])) ++j;
  if (j >= s.size() || s[j] != '@' || s[j - 1] == '.') return {};
  size_t d0 = ++j;
  while (j < s.size() && j - d0 < 253 && (is_alnum(s[j]) || s[j] == '.' || s[j] == '-')) ++j;
  // Longest prefix of the domain run that ends a label with an alphabetic TLD at a boundary.
  for (size_t e = j; e > d0; --e) {
    if (e < j && s[e] != '.' && s[e] != '-') continue;
    Sv domain = s.substr(d0, e - d0);
    size_t last_dot = domain.rfind('.');
    if (last_dot == Sv::npos || last_dot == 0 || last_dot + 3 > domain.size()) continue;
    bool tld_ok = true;
    for (size_t k = last_dot + 1; k < domain.size(); ++k) tld_ok = tld_ok && is_alpha(domain[k]);
    if (!tld_ok || domain.find("..") != Sv::npos || domain.find(".-") != Sv::npos ||
        domain.find("-.") != Sv::npos || domain[0] == '-')
      continue;
    if (!end_ok(s, e)) continue;
    return {e - i, "EMAIL"};
  }
  return {};
}

// ---- IP ----
// Parses an IPv4 address at i; returns its length or 0 (no boundary checks).
size_t parse_ipv4(Sv s, size_t i) {
  size_t j = i;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (j >= s.size() || s[j] != '.') return 0;
      ++j;
    }
    size_t n = digits_at(s, j, 3);
    if (n == 0 || n > 3) return 0;
    int v = 0;
    for (size_t k = j; k < j + n; ++k) v = v * 10 + (s[k] - '0');
    if (v > 255) return 0;
    j += n;
  }
  return j - i;
}

Match match_ipv4(Sv s, size_t i) {
  if (!is_digit(s[i])) return {};
  size_t n = parse_ipv4(s, i);
  if (n == 0 || !end_ok(s, i + n)) return {};
  return {n, "IP"};
}

// Counts the colon-separated hex groups of one side of "::" (-1 if malformed); a dotted IPv4 may end
// the address and counts as two groups.
int ipv6_groups(Sv side, bool last_side) {
  if (side.empty()) return 0;
  int groups = 0;
  size_t k = 0;
  while (true) {
    size_t e = side.find(':', k);
    Sv g = side.substr(k, e == Sv::npos ? Sv::npos : e - k);
    if (g.empty()) return -1;
    if (g.find('.') != Sv::npos) {
      if (e != Sv::npos || !last_side || parse_ipv4(g, 0) != g.size()) return -1;
      groups += 2;
    } else {
      if (g.size() > 4) return -1;
      for (char ch : g)
        if (!is_hex(ch)) return -1;
      ++groups;
    }
    if (e == Sv::npos) return groups;
    k = e + 1;
  }
}

bool valid_ipv6(Sv c) {
  int colons = 0, digits = 0;
  for (char ch : c) {
    colons += ch == ':';
    digits += is_digit(ch);
  }
  if (colons < 2 || digits == 0) return false;
  size_t dbl = c.find("::");
  if (dbl == Sv::npos) return ipv6_groups(c, true) == 8;
  if (c.find("::", dbl + 1) != Sv::npos) return false;
  int head = ipv6_groups(c.substr(0, dbl), false), tail = ipv6_groups(c.substr(dbl + 2), true);
  return head >= 0 && tail >= 0 && head + tail >= 1 && head + tail <= 7;
}

Match match_ipv6(Sv s, size_t i) {
  if (!is_hex(s[i]) && s[i] != ':') return {};
  size_t j = i;
  while (j < s.size() && j - i < 46 && (is_hex(s[j]) || s[j] == ':' || s[j] == '.')) ++j;
  if (j - i >= 46) return {};
  while (j > i && s[j - 1] == '.') --j;                                   // sentence full stop
  if (j - i >= 2 && s[j - 1] == ':' && s[j - 2] != ':') --j;             // "at fe80::1: ..."
  if (!valid_ipv6(s.substr(i, j - i))) return {};
  if (!end_ok(s, j)) return {};
  return {j - i, "IP"};
}

// ---- CARD ----
bool luhn_ok(Sv digits) {
  int sum = 0;
  bool dbl = false;
  for (size_t k = digits.size(); k-- > 0;) {
    int d = digits[k] - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool card_shape(const std::vector<size_t>& g, size_t k, size_t total) {
  if (total < 13 || total > 19) return false;
  if (k == 1) return true;
  if (k == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4)) return true;
  for (size_t x = 0; x + 1 < k; ++x)
    if (g[x] != 4) return false;
  return g[k - 1] >= 1 && g[k - 1] <= 4;
}

Match match_card(Sv s, size_t i) {
  if (!is_digit(s[i])) return {};
  std::vector<size_t> groups, ends;
  std::string digits;
  char sep = 0;
  size_t j = i;
  while (groups.size() < 6) {
    size_t n = digits_at(s, j, 19);
    if (n == 0 || n > 19) return {};
    digits.append(s.substr(j, n));
    j += n;
    groups.push_back(n);
    ends.push_back(j);
    if (j + 1 < s.size() && (s[j] == ' ' || s[j] == '-') && (sep == 0 || s[j] == sep) && is_digit(s[j + 1])) {
      sep = s[j];
      ++j;
    } else {
      break;
    }
  }
  size_t total = digits.size();
  for (size_t k = groups.size(); k >= 1; --k) {
    if (card_shape(groups, k, total) && end_ok(s, ends[k - 1]) && luhn_ok(Sv(digits).substr(0, total)))
      return {ends[k - 1] - i, "CARD"};
    total -= groups[k - 1];
  }
  return {};
}

// ---- ORDER_ID / ACCOUNT_ID ----
constexpr std::array<Sv, 13> kOrderWords = {"order",        "purchase",  "invoice",     "bill", "receipt",
                                            "tracking",     "shipment",  "confirmation", "reference",
                                            "ref",          "transaction", "ticket",    "case"};
constexpr std::array<Sv, 8> kAccountWords = {"account", "acct",       "acc",  "customer",
                                             "client",  "membership", "member", "user"};
constexpr std::array<Sv, 5> kStrongConnectors = {"number", "no", "num", "nr", "id"};
constexpr std::array<Sv, 4> kWeakConnectors = {"is", "was", "code", "ref"};
// Allowed only further from the id than a strong connector: "order with the number 00123842".
constexpr std::array<Sv, 5> kFillerConnectors = {"the", "with", "your", "my", "its"};
constexpr std::array<Sv, 10> kAccountPrefixes = {"ACC", "ACCT", "ACT", "CUST", "CUS",
                                                 "CID", "UID",  "USR", "MEM",  "CLI"};

// Prefixes of standards and identifiers that are not personal: ISO 27001, RFC 12345, CVE numbers.
constexpr std::array<Sv, 9> kStandards = {"ISO", "RFC", "IEC", "CVE", "EN", "DIN", "IEEE", "ANSI", "PEP"};

bool date_like(Sv t) {  // 2024-06-01 or 01-06-2024
  auto shape = [&](std::initializer_list<int> parts) {
    size_t k = 0;
    for (int p : parts) {
      if (k > 0) {
        if (k >= t.size() || t[k] != '-') return false;
        ++k;
      }
      for (int x = 0; x < p; ++x, ++k)
        if (k >= t.size() || !is_digit(t[k])) return false;
    }
    return k == t.size();
  };
  return shape({4, 2, 2}) || shape({2, 2, 4}) || shape({4, 2}) || shape({4, 4});
}

// The keyword (and kind) that introduces the token at i, looking back over at most 3 connectors.
const char* keyword_before(Sv s, size_t i, bool* strong) {
  size_t j = i;
  *strong = false;
  for (int connectors = 0; connectors <= 4; ++connectors) {
    bool dot = false;
    size_t skipped = 0;
    while (j > 0 && skipped < 4) {
      char p = s[j - 1];
      if (p == ' ' || p == '\t' || p == ':' || p == '-' || p == '=') {
      } else if (p == '#') {
        *strong = true;
      } else if (p == '.') {
        dot = true;
      } else {
        break;
      }
      --j;
      ++skipped;
    }
    size_t k = j;
    while (k > 0 && j - k < 16 && is_alpha(s[k - 1])) --k;
    if (k == j || (k > 0 && is_word(s[k - 1]))) return nullptr;
    std::string w = lower_str(s.substr(k, j - k));
    if (!dot && in(w, kOrderWords)) return "ORDER_ID";
    if (!dot && in(w, kAccountWords)) return "ACCOUNT_ID";
    if (in(w, kStrongConnectors)) {
      *strong = true;
    } else if (dot || !(in(w, kWeakConnectors) || (*strong && in(w, kFillerConnectors)))) {
      return nullptr;
    }
    j = k;
  }
  return nullptr;
}

Match match_code(Sv s, size_t i) {
  size_t j = i;
  while (j < s.size() && j - i < 6 && is_upper(s[j])) ++j;
  size_t nl = j - i;
  if (nl < 1 || nl > 5) return {};
  Sv prefix = s.substr(i, nl);
  if (j < s.size() && (s[j] == '-' || s[j] == '_')) ++j;
  size_t nd = digits_at(s, j, 20);
  if (nd < 5 || nd > 20) return {};
  j += nd;
  if (!end_ok(s, j) || in(prefix, kStandards)) return {};
  return {j - i, in(prefix, kAccountPrefixes) ? "ACCOUNT_ID" : "ORDER_ID"};
}

Match match_keyword_id(Sv s, size_t i) {
  if (!is_alnum(s[i])) return {};
  size_t j = i;
  while (j < s.size() && j - i <= 40 && (is_alnum(s[j]) || s[j] == '-')) ++j;
  while (j > i && s[j - 1] == '-') --j;
  if (j - i > 40 || !end_ok(s, j)) return {};
  Sv tok = s.substr(i, j - i);
  size_t nd = 0, na = 0;
  for (char c : tok) {
    nd += is_digit(c);
    na += is_alpha(c);
  }
  if (nd < 3) return {};
  bool strong = false;
  const char* type = keyword_before(s, i, &strong);
  if (!type) return {};
  if (na == 0) {
    if (nd < (strong ? 3u : 5u) || date_like(tok)) return {};
  }
  if (is_upper(s[i])) {  // a code with an account prefix is an account id even after "ref"
    Match code = match_code(s, i);
    if (code.len == j - i && Sv(code.type) == "ACCOUNT_ID") type = code.type;
  }
  return {j - i, type};
}

// ---- ADDRESS ----
constexpr std::array<Sv, 12> kFullSuffixes = {"street",  "avenue",  "road",    "boulevard", "lane",   "drive",
                                              "terrace", "parkway", "highway", "crescent",  "square", "trail"};
constexpr std::array<Sv, 21> kOtherSuffixes = {"st",  "ave", "rd",  "blvd", "ln",  "dr",   "way",
                                               "court", "ct", "place", "pl", "pkwy", "hwy", "sq",
                                               "circle", "cir", "close", "alley", "av", "trl", "ter"};
constexpr std::array<Sv, 30> kStopwords = {"a",    "an",   "the",  "of",   "on",    "in",     "to",   "at",
                                           "by",   "for",  "and",  "or",   "my",    "your",   "our",  "is",
                                           "are",  "was",  "with", "from", "it",    "this",   "that", "items",
                                           "days", "times", "more", "than", "hours", "minutes"};
constexpr std::array<Sv, 24> kNotBeforeHouseNumber = {
    "step",  "steps", "stage",   "option", "page",  "item", "items", "point", "line",  "no",  "number", "chapter",
    "section", "part", "version", "level", "phase", "rule", "tip",   "day",   "days",  "week", "weeks",  "top"};
constexpr std::array<Sv, 9> kUnitWords = {"apt", "apartment", "suite", "ste", "unit", "fl", "floor", "room", "rm"};

size_t skip_spaces(Sv s, size_t j, size_t max) {
  size_t k = j;
  while (k < s.size() && k - j < max && s[k] == ' ') ++k;
  return k;
}

// Word at j: letters, or an ordinal such as 5th / 21st. Returns its end (== j when none).
size_t word_end(Sv s, size_t j) {
  size_t k = j;
  while (k < s.size() && k - j < 24 && is_alpha(s[k])) ++k;
  if (k == j) {
    size_t nd = digits_at(s, j, 3);
    if (nd == 0 || nd > 3 || j + nd + 2 > s.size()) return j;
    std::string suf = lower_str(s.substr(j + nd, 2));
    if (suf != "st" && suf != "nd" && suf != "rd" && suf != "th") return j;
    k = j + nd + 2;
  }
  if (k < s.size() && (is_word(s[k]) || s[k] == '@')) return j;
  return k;
}

Match match_address(Sv s, size_t i) {
  size_t nd = digits_at(s, i, 6);
  if (nd == 0 || nd > 6) return {};
  // The word before the number must not make it a step, page, item, ... number.
  if (i > 0) {
    if (s[i - 1] == '$' || s[i - 1] == '#') return {};
    size_t e = i;
    while (e > 0 && s[e - 1] == ' ') --e;
    size_t b = e;
    while (b > 0 && e - b < 16 && is_alpha(s[b - 1])) --b;
    if (b < e && in(lower_str(s.substr(b, e - b)), kNotBeforeHouseNumber)) return {};
  }
  size_t j = i + nd;
  if (j < s.size() && is_alpha(s[j]) && j + 1 < s.size() && s[j + 1] == ' ') ++j;  // 221B
  if (j >= s.size() || s[j] != ' ') return {};
  std::vector<std::pair<size_t, size_t>> words;
  size_t k = j;
  while (words.size() < 4) {
    size_t b = skip_spaces(s, k, 2);
    if (b == k) break;
    size_t e = word_end(s, b);
    if (e == b) break;
    words.push_back({b, e});
    k = e;
  }
  for (size_t n = 1; n < words.size() && n <= 3; ++n) {
    Sv suffix = s.substr(words[n].first, words[n].second - words[n].first);
    std::string ls = lower_str(suffix);
    bool full = in(ls, kFullSuffixes);
    if (!full && !in(ls, kOtherSuffixes)) continue;
    bool cap_ok = is_upper(suffix[0]);
    bool low_ok = is_lower(suffix[0]) && full && n <= 2;
    for (size_t w = 0; w < n; ++w) {
      Sv name = s.substr(words[w].first, words[w].second - words[w].first);
      if (is_digit(name[0])) continue;  // ordinal: 5th Avenue, 5th avenue
      bool stop = in(lower_str(name), kStopwords);
      if (is_upper(name[0])) {
        low_ok = false;
        if (stop) cap_ok = false;  // "12 On Place", "3 The Court"
      } else {
        cap_ok = false;
        if (stop) low_ok = false;  // "2 cars on the road"
      }
    }
    if (!cap_ok && !low_ok) return {};
    size_t end = words[n].second;
    if (!end_ok(s, end)) return {};
    // Optional unit: ", Apt 4B", " Suite 200", " #12".
    size_t u = end;
    if (u < s.size() && s[u] == '.') ++u;
    if (u < s.size() && s[u] == ',') ++u;
    size_t ub = skip_spaces(s, u, 2);
    size_t code = 0;
    if (ub > end && ub < s.size()) {
      if (s[ub] == '#') {
        code = ub + 1;
      } else {
        size_t we = ub;
        while (we < s.size() && we - ub < 10 && is_alpha(s[we])) ++we;
        if (we > ub && in(lower_str(s.substr(ub, we - ub)), kUnitWords)) {
          code = we;
          if (code < s.size() && s[code] == '.') ++code;
          code = skip_spaces(s, code, 1);
          if (code < s.size() && s[code] == '#') ++code;
        }
      }
    }
    if (code > 0) {
      size_t ce = code;
      while (ce < s.size() && ce - code < 7 && (is_alnum(s[ce]) || s[ce] == '-')) ++ce;
      if (ce > code && ce - code <= 6 && is_alnum(s[ce - 1]) && end_ok(s, ce)) end = ce;
    }
    return {end - i, "ADDRESS"};
  }
  return {};
}

// ---- PHONE ----
Match match_phone(Sv s, size_t i) {
  size_t j = i;
  bool plus = false;
  if (s[j] == '+') {
    plus = true;
    ++j;
  }
  std::vector<size_t> groups, ends;
  bool first_paren = false, mixed = false;
  char sep = 0;
  while (groups.size() < 7) {
    size_t n;
    bool paren = j < s.size() && s[j] == '(';
    if (paren) {
      n = digits_at(s, j + 1, 4);
      if (groups.size() > 1 || n == 0 || n > 4 || j + 1 + n >= s.size() || s[j + 1 + n] != ')') break;
      j += n + 2;
      if (groups.empty()) first_paren = true;
    } else {
      n = digits_at(s, j, 15);
      if (n == 0 || n > 15) break;
      j += n;
    }
    groups.push_back(n);
    ends.push_back(j);
    size_t k = j;
    if (k < s.size() && (s[k] == ' ' || s[k] == '-' || s[k] == '.')) {
      if (!paren) {  // "(555) 123" / "(555)-123": the area code's own spacing is not the separator
        if (sep == 0) sep = s[k];
        else if (sep != s[k]) mixed = true;
      } else if (s[k] == '.') {
        break;
      }
      ++k;
    }
    if (k == j || k >= s.size() || !(is_digit(s[k]) || s[k] == '(')) break;
    j = k;
  }
  if (groups.empty()) return {};
  size_t total = 0;
  for (auto g : groups) total += g;
  // Longest prefix of the groups that is a valid phone number and ends at a boundary.
  for (size_t k = groups.size(); k >= 1; --k) {
    bool ok;
    if (k == 1) {
      ok = !first_paren && (plus ? (total >= 8 && total <= 15) : (total == 10 || total == 11));
    } else {
      ok = total >= (plus ? 8u : 10u) && total <= 15 && k <= (plus ? 6u : 4u) && !(mixed && sep == '.');
      bool all_four = true;
      for (size_t g = 0; g < k && ok; ++g) {
        all_four = all_four && groups[g] == 4;
        if (g + 1 == k) ok = groups[g] >= (plus ? 2u : 3u) && groups[g] <= (plus ? 8u : 4u);
        else if (g == 0) ok = groups[g] <= 4;
        else ok = groups[g] >= (plus && g == 1 ? 1u : 2u) && groups[g] <= 4;  // +33 1 23 45 67 89
      }
      if (all_four && !plus && !first_paren) ok = false;  // "2022 2023 2024" are years
    }
    if (ok && end_ok(s, ends[k - 1])) return {ends[k - 1] - i, "PHONE"};
    total -= groups[k - 1];
  }
  return {};
}

// Existing {{...}} placeholder at i: its length, or 0.
size_t placeholder_at(Sv s, size_t i) {
  if (i + 1 >= s.size() || s[i] != '{' || s[i + 1] != '{') return 0;
  for (size_t k = i + 2; k + 1 < s.size() && k - i < 68; ++k) {
    if (s[k] == '\n' || s[k] == '{') return 0;
    if (s[k] == '}' && s[k + 1] == '}') return k + 2 - i;
  }
  return 0;
}

Match match_at(Sv s, size_t i);

// Bitext writes some real values in braces ("order number {{370795561790}}"). A braced span holding a
// digit or '@' is checked as if the braces were not there (with up to 40 bytes of context before it);
// when one detector matches the whole inside, the whole span becomes that placeholder.
const char* braced_data(Sv s, size_t i, size_t n) {
  Sv inner = s.substr(i + 2, n - 4);
  bool data = false;
  for (char c : inner) data = data || is_digit(c) || c == '@';
  if (!data) return nullptr;
  size_t b = i >= 40 ? i - 40 : 0;
  std::string tmp(s.substr(b, i - b));
  const size_t at = tmp.size();
  tmp.append(inner);
  Match m = match_at(tmp, at);
  return m.len == inner.size() ? m.type : nullptr;
}

Match match_at(Sv s, size_t i) {
  char c = s[i];
  bool start = token_start(s, i);
  if (is_alnum(c) && (i == 0 || !(is_local_char(s[i - 1]) || wordish(s[i - 1])))) {
    if (auto m = match_email(s, i); m.len) return m;
  }
  if (!start) return {};
  if (is_alnum(c) || c == ':') {
    if (auto m = match_ipv6(s, i); m.len) return m;
  }
  if (is_digit(c)) {
    if (auto m = match_ipv4(s, i); m.len) return m;
  }
  // A grouped card number wins over a keyword ("order 4111 1111 1111 1111"); a plain digit run after a
  // keyword is an id even when it happens to pass the Luhn check ("purchase 113542617735902").
  Match card = is_digit(c) ? match_card(s, i) : Match{};
  if (card.len && card.len != digits_at(s, i, 19)) return card;
  if (is_alnum(c)) {
    if (auto m = match_keyword_id(s, i); m.len) return m;
  }
  if (card.len) return card;
  if (is_upper(c)) {
    if (auto m = match_code(s, i); m.len) return m;
  }
  if (is_digit(c)) {
    if (auto m = match_address(s, i); m.len) return m;
  }
  if (is_digit(c) || c == '+' || c == '(') {
    if (auto m = match_phone(s, i); m.len) return m;
  }
  return {};
}

}  // namespace

std::string anonymize(std::string_view text, AnonymizeStats* stats) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '{') {
      if (size_t n = placeholder_at(text, i)) {
        if (const char* type = braced_data(text, i, n)) {
          out += "{{";
          out += type;
          out += "}}";
          if (stats) ++stats->counts[type];
        } else {
          out.append(text.substr(i, n));
        }
        i += n;
        continue;
      }
    }
    if (is_alnum(c) || c == '+' || c == '(' || c == ':') {
      Match m = match_at(text, i);
      if (m.len) {
        out += "{{";
        out += m.type;
        out += "}}";
        if (stats) ++stats->counts[m.type];
        i += m.len;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace srl::data
