// Non-template half of the config reader: parsing, scalar conversion with typed errors, --set,
// unknown-key hints, and emitting values so they read back unchanged.
#include "core/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/strings.hpp"

namespace srl::config {
namespace {

// Optimal string alignment distance (Levenshtein plus adjacent swaps: "learnign" -> 1 edit).
size_t edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::string leaf_of(const std::string& key) {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// "; did you mean 'x'?" for the closest candidate within 3 edits, or one with the same last
// component (a key put in the wrong section); empty when nothing is close.
std::string hint(const std::string& key, const std::vector<std::string>& candidates) {
  const std::string leaf = leaf_of(key);
  const std::string* best = nullptr;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    const size_t d = edit_distance(key, c);
    if (d < best_d) best_d = d, best = &c;
  }
  // The leaf-length bound keeps a 2-letter typo from "matching" every short key.
  if (best && best_d <= 3 && best_d < leaf.size()) return "; did you mean '" + *best + "'?";
  for (const auto& c : candidates)
    if (leaf_of(c) == leaf) return "; did you mean '" + c + "'?";
  return "";
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return "'" + s + "'" + (n.Tag() == "!" ? " (quoted, so a string)" : "");
    }
    default:
      return "nothing";
  }
}

// A plain (unquoted) scalar: the only kind that may be a number or a bool.
bool is_plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

std::string where_for(const detail::Context& ctx, const std::string& key, std::string* set_key_out = nullptr) {
  // The longest --set key that is `key` or a section containing it.
  const std::string* best = nullptr;
  for (const auto& [k, where] : ctx.set_keys) {
    if (key == k || (key.size() > k.size() && key.compare(0, k.size(), k) == 0 && key[k.size()] == '.')) {
      if (!best || k.size() > best->size()) best = &k;
    }
  }
  if (!best) return ctx.source;
  if (set_key_out) *set_key_out = *best;
  return ctx.set_keys.at(*best);
}

void check_segments(const std::string& assignment, const std::string& key) {
  if (key.empty()) fail("--set '" + assignment + "'", "expected section.key=value");
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string seg = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (seg.empty() || seg.find_first_of(" \t") != std::string::npos)
      fail("--set '" + assignment + "'", "expected section.key=value");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
}


}  // namespace

namespace detail {

YAML::Node parse_document(const std::string& text, const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) fail(source, e.msg);
    fail(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1), e.msg);
  }
  if (docs.size() > 1) fail(source, "contains " + std::to_string(docs.size()) + " YAML documents, expected one");
  if (docs.empty() || docs[0].IsNull()) return YAML::Node(YAML::NodeType::Null);  // empty file: all defaults
  if (!docs[0].IsMap()) fail(source, "the top level must be a mapping of keys, got " + describe(docs[0]));
  return docs[0];
}

std::string set_key(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) fail("--set '" + assignment + "'", "expected section.key=value");
  const std::string key(trim(assignment.substr(0, eq), " \t"));
  check_segments(assignment, key);
  return key;
}

void fail_key(const Context& ctx, const std::string& key, const std::string& what) {
  std::string from_set;
  const std::string where = where_for(ctx, key, &from_set);
  // `--set optim.lr: expected ...` already names the key; don't repeat it.
  if (from_set == key) fail(where, what);
  fail(where, key + ": " + what);
}

void fail_missing(const Context& ctx, const std::string& key) {
  fail(ctx.source, "missing required key '" + key + "'");
}

void check_known(const Context& ctx, const std::string& key, const std::string& where) {
  if (std::find(ctx.known.begin(), ctx.known.end(), key) != ctx.known.end()) return;
  fail(where, "unknown key '" + key + "'" + hint(key, ctx.known));
}

void check_keys(const YAML::Node& map, const std::string& prefix, const Context& ctx) {
  if (!map.IsMap()) return;
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: it-> yields a temporary proxy
    const std::string section = prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1);
    if (!k.IsScalar()) {
      fail(where_for(ctx, section), (section.empty() ? "" : section + ": ") + "keys must be plain names, got " + describe(k));
    }
    const std::string dotted = prefix + k.Scalar();
    const std::string where = where_for(ctx, dotted);
    // A literal `optim.lr:` key would otherwise pass the dotted-key lookup and be silently ignored.
    if (k.Scalar().find('.') != std::string::npos)
      fail(where, "unknown key '" + dotted + "' (dots are for --set; nest sections in YAML)");
    if (!seen.insert(k.Scalar()).second) fail(where, "duplicate key '" + dotted + "'");
    check_known(ctx, dotted, where);
  }
}

YAML::Node section_node(const YAML::Node& node, const std::string& key, const Context& ctx) {
  if (!node.IsDefined() || node.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!node.IsMap()) fail_key(ctx, key, "expected a section (a mapping of keys), got " + describe(node));
  return node;
}

void check_choice(const Context& ctx, const std::string& key, const std::string& value,
                  const std::vector<std::string>& list, bool given) {
  if (std::find(list.begin(), list.end(), value) != list.end()) return;
  std::string joined;
  for (const auto& c : list) joined += (joined.empty() ? "" : ", ") + c;
  if (!given) fail_internal(key, "default '" + value + "' is not one of " + joined);
  std::string h;
  size_t best = 4;
  for (const auto& c : list) {
    const size_t d = edit_distance(value, c);
    if (d < best && d < value.size()) best = d, h = "; did you mean '" + c + "'?";
  }
  fail_key(ctx, key, "'" + value + "' is not one of " + joined + h);
}

void read_value(const YAML::Node& n, bool& out, const Context& ctx, const std::string& key) {
  if (is_plain_scalar(n)) {
    if (n.Scalar() == "true") return void(out = true);
    if (n.Scalar() == "false") return void(out = false);
  }
  fail_key(ctx, key, "expected true or false, got " + describe(n));
}

void read_value(const YAML::Node& n, int64_t& out, const Context& ctx, const std::string& key) {
  if (!is_plain_scalar(n)) fail_key(ctx, key, "expected an integer, got " + describe(n));
  std::string s = n.Scalar();
  if (!s.empty() && s[0] == '+') s.erase(0, 1);  // from_chars takes '-' but not '+'
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) fail_key(ctx, key, "integer " + describe(n) + " is out of range");
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty())
    fail_key(ctx, key, "expected an integer, got " + describe(n));
  out = v;
}

void read_value(const YAML::Node& n, int& out, const Context& ctx, const std::string& key) {
  int64_t v = 0;
  read_value(n, v, ctx, key);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    fail_key(ctx, key, "integer " + describe(n) + " is out of range");
  out = static_cast<int>(v);
}

void read_value(const YAML::Node& n, double& out, const Context& ctx, const std::string& key) {
  if (!is_plain_scalar(n)) fail_key(ctx, key, "expected a number, got " + describe(n));
  std::string s = n.Scalar();
  // YAML's spellings of infinity and NaN.
  static const std::set<std::string> pos_inf = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  static const std::set<std::string> neg_inf = {"-.inf", "-.Inf", "-.INF"};
  static const std::set<std::string> nan = {".nan", ".NaN", ".NAN"};
  if (pos_inf.count(s)) return void(out = std::numeric_limits<double>::infinity());
  if (neg_inf.count(s)) return void(out = -std::numeric_limits<double>::infinity());
  if (nan.count(s)) return void(out = std::numeric_limits<double>::quiet_NaN());
  // Only decimal notation: from_chars would also take "inf", "nan" and hex digits.
  if (s.empty() || s.find_first_not_of("0123456789.eE+-") != std::string::npos)
    fail_key(ctx, key, "expected a number, got " + describe(n));
  if (s[0] == '+') s.erase(0, 1);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) fail_key(ctx, key, "number " + describe(n) + " is out of range");
  if (ec != std::errc() || ptr != s.data() + s.size()) fail_key(ctx, key, "expected a number, got " + describe(n));
  out = v;
}

void read_value(const YAML::Node& n, std::string& out, const Context& ctx, const std::string& key) {
  if (!n.IsScalar()) {
    std::string extra = n.IsNull() ? " (write '' for an empty string)" : "";
    fail_key(ctx, key, "expected a string, got " + describe(n) + extra);
  }
  out = n.Scalar();
}

template <class E>
static void read_list(const YAML::Node& n, std::vector<E>& out, const Context& ctx, const std::string& key,
                      const char* what) {
  if (!n.IsSequence()) {
    std::string extra = n.IsNull() ? " (write [] for an empty list)" : "";
    fail_key(ctx, key, std::string("expected a list of ") + what + ", got " + describe(n) + extra);
  }
  std::vector<E> v;
  for (size_t i = 0; i < n.size(); ++i) {
    E e{};
    read_value(n[i], e, ctx, key + "[" + std::to_string(i) + "]");
    v.push_back(std::move(e));
  }
  out = std::move(v);
}

void read_value(const YAML::Node& n, std::vector<std::string>& out, const Context& ctx, const std::string& key) {
  read_list(n, out, ctx, key, "strings");
}

void read_value(const YAML::Node& n, std::vector<int64_t>& out, const Context& ctx, const std::string& key) {
  read_list(n, out, ctx, key, "integers");
}

void emit_value(YAML::Emitter& e, bool v) { e << (v ? "true" : "false"); }
void emit_value(YAML::Emitter& e, int v) { e << v; }
void emit_value(YAML::Emitter& e, int64_t v) { e << static_cast<long long>(v); }

void emit_value(YAML::Emitter& e, double v) {
  if (std::isnan(v)) return void(e << ".nan");
  if (std::isinf(v)) return void(e << (v > 0 ? ".inf" : "-.inf"));
  // fmt's "{}" is the shortest text that reads back to the same double.
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";  // keep it visibly a float
  e << s;
}

// Strings that other YAML readers (Python, yq) would take as a bool, number or special float.
// Our reader would take them back as strings anyway; quoting keeps the file unambiguous.
bool looks_typed(const std::string& s) {
  if (s.empty()) return false;
  std::string low;
  for (char c : s) low += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> words = {"true", "false", "yes", "no", "on", "off", "y", "n"};
  if (words.count(low) || low[0] == '.' || (low.size() > 1 && (low[0] == '+' || low[0] == '-') && low[1] == '.'))
    return true;
  const char* b = s.data() + (s[0] == '+' ? 1 : 0);
  double d;
  const auto [ptr, ec] = std::from_chars(b, s.data() + s.size(), d);
  return ptr == s.data() + s.size() && ec != std::errc::invalid_argument;
}

void emit_value(YAML::Emitter& e, const std::string& v) {
  // The emitter itself quotes strings that would read as null ("~", "null", "").
  if (looks_typed(v)) e << YAML::DoubleQuoted;
  e << v;
}

void emit_value(YAML::Emitter& e, const std::vector<std::string>& v) {
  e << YAML::Flow << YAML::BeginSeq;
  for (const auto& s : v) emit_value(e, s);
  e << YAML::EndSeq;
}

void emit_value(YAML::Emitter& e, const std::vector<int64_t>& v) {
  e << YAML::Flow << YAML::BeginSeq;
  for (int64_t x : v) e << static_cast<long long>(x);
  e << YAML::EndSeq;
}

}  // namespace detail

void apply_set(YAML::Node& root, const std::string& assignment) {
  const std::string key = detail::set_key(assignment);
  const std::string where = "--set " + key;
  const std::string text = assignment.substr(assignment.find('=') + 1);
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(where, "cannot parse value '" + text + "': " + e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) fail(where, "the config's top level is not a mapping");

  std::vector<std::string> segs;
  for (size_t start = 0;;) {
    const size_t dot = key.find('.', start);
    segs.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // yaml-cpp nodes are handles: `cur = x` would overwrite cur's contents, so move with reset().
  YAML::Node cur;
  cur.reset(root);
  std::string path;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    path += (path.empty() ? "" : ".") + segs[i];
    YAML::Node next = cur[segs[i]];
    if (!next.IsDefined() || next.IsNull()) {
      next = YAML::Node(YAML::NodeType::Map);  // inserts the new section into cur
    } else if (!next.IsMap()) {
      fail(where, "'" + path + "' is not a section in the config (it is " + describe(next) + ")");
    }
    cur.reset(next);
  }
  cur[segs.back()] = value;
}

std::string read_config_text(const std::string& path) { return fs::read_file(path); }

}  // namespace srl::config
