#include "data/preference.hpp"

#include <spdlog/spdlog.h>

#include <unordered_map>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/strings.hpp"
#include "text/conversation_json.hpp"

namespace srl::data {

namespace {

using json = nlohmann::json;



std::string quoted(const std::string& key) { return "\"" + key + "\""; }

// Collects problems for one record.
struct Checker {
  const ValidationLimits& limits;
  std::vector<Issue> issues;

  void add(const char* reason, std::string message) { issues.push_back({reason, std::move(message)}); }

  void length(const std::string& name, const std::string& s) {
    if (s.size() > limits.max_text_bytes)
      add(reason::kTooLong, name + " is " + std::to_string(s.size()) + " bytes (limit " +
                                std::to_string(limits.max_text_bytes) + ")");
  }

  // A required string field; returns it when present and a string.
  const std::string* required_string(const json& obj, const std::string& key, const std::string& name) {
    auto it = obj.find(key);
    if (it == obj.end()) {
      add(reason::kMissingField, quoted(name) + " is missing");
      return nullptr;
    }
    if (!it->is_string()) {
      add(reason::kWrongType, quoted(name) + " must be a string, not " + it->type_name());
      return nullptr;
    }
    return &it->get_ref<const std::string&>();
  }

  // An optional string field: absent or null is fine.
  std::optional<std::string> optional_string(const json& obj, const std::string& key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      add(reason::kWrongType, quoted(key) + " must be a string, not " + it->type_name());
      return std::nullopt;
    }
    return it->get<std::string>();
  }
};

bool is_known_key(const std::string& k) {
  static const char* known[] = {"prompt", "messages", "response_a", "response_b", "winner",
                                "tags",   "rationale", "id",        "source",     "annotator"};
  for (const char* s : known)
    if (k == s) return true;
  return false;
}


// Scans a whole file's text: fn(line_no, pair_or_null, issues) for each non-blank line.
// Duplicate ids are added to the later line's issues.
template <class Fn>
void scan_pairs(std::string_view text, const ValidationLimits& limits, Fn&& fn) {
  std::unordered_map<std::string, int64_t> first_line_of_id;
  for_each_line(text, [&](int64_t line_no, std::string_view line) {
    json j;
    std::vector<Issue> issues;
    PreferencePair pair;
    if (auto bad = parse_json_line(line, &j)) {
      issues.push_back(*bad);
    } else {
      issues = check_pair(j, limits, &pair);
      auto id = j.find("id");
      if (id != j.end() && id->is_string()) {
        const auto& s = id->get_ref<const std::string&>();
        auto [it, inserted] = first_line_of_id.emplace(s, line_no);
        if (!inserted)
          issues.push_back({reason::kDuplicateId,
                            "duplicate id \"" + s + "\" (first on line " + std::to_string(it->second) + ")"});
      }
    }
    fn(line_no, issues.empty() ? &pair : nullptr, issues);
  });
}

}  // namespace

const char* winner_name(Winner w) {
  switch (w) {
    case Winner::A: return "a";
    case Winner::B: return "b";
    case Winner::Tie: return "tie";
  }
  return "tie";
}

std::vector<text::Message> PreferencePair::conversation() const {
  if (prompt) return {text::Message{"user", *prompt}};
  return messages;
}

PreferencePair PreferencePair::from_json(const json& j, const ValidationLimits& limits) {
  PreferencePair p;
  auto issues = check_pair(j, limits, &p);
  if (!issues.empty()) fail("preference pair", issues.front().reason + ": " + issues.front().message);
  return p;
}

json PreferencePair::to_json() const {
  json j = extras.is_object() ? extras : json::object();
  if (prompt) {
    j["prompt"] = *prompt;
  } else {
    json msgs = json::array();
    for (const auto& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
    j["messages"] = std::move(msgs);
  }
  j["response_a"] = response_a;
  j["response_b"] = response_b;
  j["winner"] = winner_name(winner);
  j["tags"] = tags;
  if (rationale) j["rationale"] = *rationale;
  if (id) j["id"] = *id;
  if (source) j["source"] = *source;
  if (annotator) j["annotator"] = *annotator;
  return j;
}

namespace {

// The reason code of a problem with a pair's prompt or messages.
const char* prefix_reason(text::ConversationProblem::Kind k) {
  using Kind = text::ConversationProblem::Kind;
  switch (k) {
    case Kind::PromptXorMessages: return reason::kPromptXorMessages;
    case Kind::WrongType: return reason::kWrongType;
    case Kind::BadRole: return reason::kBadRole;
    case Kind::EmptyContent: return reason::kEmptyPrompt;
    case Kind::BadMessages:
    case Kind::NoAssistant: break;
  }
  return reason::kBadMessages;
}

}  // namespace

std::vector<Issue> check_pair(const json& j, const ValidationLimits& limits, PreferencePair* out) {
  Checker c{limits, {}};
  if (!j.is_object()) {
    c.add(reason::kNotObject, std::string("expected a JSON object, not ") + j.type_name());
    return c.issues;
  }
  PreferencePair p;

  // The prefix: exactly one of prompt / messages, ending with the user turn to answer.
  auto conv = text::parse_conversation_json(j);
  for (const auto& pr : conv.problems) c.add(prefix_reason(pr.kind), pr.message);
  if (conv.from_prompt) {
    c.length("prompt", conv.prompt);
    p.prompt = conv.prompt;
  } else {
    for (size_t i = 0; i < conv.messages.size(); ++i)
      c.length("messages[" + std::to_string(i) + "].content", conv.messages[i].content);
    p.messages = std::move(conv.messages);
  }

  // The two replies.
  const std::string* a = c.required_string(j, "response_a", "response_a");
  const std::string* b = c.required_string(j, "response_b", "response_b");
  for (auto [name, s] : {std::pair{"response_a", a}, std::pair{"response_b", b}}) {
    if (!s) continue;
    if (trim(*s).empty()) c.add(reason::kEmptyResponse, std::string(name) + " is empty");
    c.length(name, *s);
  }
  if (a && b && !trim(*a).empty() && trim(*a) == trim(*b))
    c.add(reason::kIdenticalResponses, "response_a and response_b are identical");
  if (a) p.response_a = *a;
  if (b) p.response_b = *b;

  // The judgment.
  if (const std::string* w = c.required_string(j, "winner", "winner")) {
    if (*w == "a") p.winner = Winner::A;
    else if (*w == "b") p.winner = Winner::B;
    else if (*w == "tie") p.winner = Winner::Tie;
    else c.add(reason::kBadWinner, "winner \"" + *w + "\" (expected \"a\", \"b\" or \"tie\")");
  }

  // Tags: intent, difficulty, segment required; other keys free.
  auto tags = j.find("tags");
  if (tags == j.end()) {
    c.add(reason::kMissingField, "\"tags\" is missing");
  } else if (!tags->is_object()) {
    c.add(reason::kWrongType, std::string("\"tags\" must be an object, not ") + tags->type_name());
  } else {
    for (const char* key : {"intent", "difficulty", "segment"}) {
      const std::string name = std::string("tags.") + key;
      const std::string* s = c.required_string(*tags, key, name);
      if (!s) continue;
      if (trim(*s).empty()) c.add(reason::kMissingField, quoted(name) + " is empty");
      else if (std::string_view(key) == "segment" && *s != "smb" && *s != "enterprise")
        c.add(reason::kBadSegment, "tags.segment \"" + *s + "\" (expected \"smb\" or \"enterprise\")");
    }
    p.tags = *tags;
  }

  p.rationale = c.optional_string(j, "rationale");
  if (p.rationale) c.length("rationale", *p.rationale);
  p.id = c.optional_string(j, "id");
  p.source = c.optional_string(j, "source");
  p.annotator = c.optional_string(j, "annotator");

  for (const auto& [k, v] : j.items())
    if (!is_known_key(k)) p.extras[k] = v;

  if (c.issues.empty() && out) *out = std::move(p);
  return c.issues;
}

ValidationReport validate_file(const std::string& path, const ValidationLimits& limits) {
  ValidationReport r;
  r.path = path;
  const std::string text = fs::read_file(path);
  scan_pairs(text, limits, [&](int64_t line_no, const PreferencePair* pair, const std::vector<Issue>& issues) {
    ++r.lines;
    if (pair) {
      ++r.valid;
      return;
    }
    ++r.invalid;
    for (const auto& is : issues) {
      r.problems.push_back({line_no, is.reason, is.message});
      ++r.counts[is.reason];
    }
  });
  if (r.lines == 0) {
    r.problems.push_back({0, reason::kEmptyFile, "no records (the file is empty or blank)"});
    ++r.counts[reason::kEmptyFile];
  }
  return r;
}

std::vector<PreferencePair> load_pairs(const std::string& path, OnInvalid mode, LoadStats* stats,
                                       const ValidationLimits& limits) {
  LoadStats local;
  LoadStats& st = stats ? *stats : local;
  st = LoadStats{};
  std::vector<PreferencePair> out;
  const std::string text = fs::read_file(path);
  scan_pairs(text, limits, [&](int64_t line_no, const PreferencePair* pair, const std::vector<Issue>& issues) {
    ++st.lines;
    if (pair) {
      out.push_back(*pair);
      ++st.loaded;
      return;
    }
    const std::string where = path + ":" + std::to_string(line_no);
    const Issue& first = issues.front();
    if (mode == OnInvalid::Error) fail(where, first.reason + ": " + first.message);
    ++st.skipped;
    ++st.skipped_by_reason[first.reason];
    for (const auto& is : issues) spdlog::warn("{}: {}: {} (line skipped)", where, is.reason, is.message);
  });
  if (st.lines == 0) fail(path, "no preference pairs in file");
  return out;
}

std::string to_jsonl(const std::vector<json>& rows) {
  std::string s;
  for (size_t i = 0; i < rows.size(); ++i) {
    try {
      s += rows[i].dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception& e) {
      fail("row " + std::to_string(i + 1), "cannot write as JSON: " + strip_json_exception_prefix(e.what()));
    }
    s += '\n';
  }
  return s;
}

void write_jsonl(const std::string& path, const std::vector<json>& rows) { fs::write_file_atomic(path, to_jsonl(rows)); }

void write_pairs(const std::string& path, const std::vector<PreferencePair>& pairs) {
  std::vector<json> rows;
  rows.reserve(pairs.size());
  for (const auto& p : pairs) rows.push_back(p.to_json());
  write_jsonl(path, rows);
}

}  // namespace srl::data
