#include "data/importers.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/strings.hpp"

namespace srl::data {

namespace {

using json = nlohmann::json;

// A problem with one input record, before it becomes a FILE:LINE error or a skipped line.
struct RecordError {
  std::string reason;
  std::string message;
};

[[noreturn]] void reject(const char* reason, std::string message) { throw RecordError{reason, std::move(message)}; }


uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Reports a bad record: Error mode fails, Skip mode logs and counts.
void on_bad_record(const std::string& where, const RecordError& e, const ImportOptions& opt, ImportStats& st) {
  if (opt.on_invalid == OnInvalid::Error) fail(where, e.reason + ": " + e.message);
  ++st.skipped;
  ++st.skipped_by_reason[e.reason];
  spdlog::warn("{}: {}: {} (skipped)", where, e.reason, e.message);
}

void apply_transform(json& s, const ImportOptions& opt) {
  if (opt.transform && s.is_string()) s = opt.transform(s.get_ref<const std::string&>());
}

// Fills the chosen/rejected replies, winner, tags, source and id, anonymizes, then checks the pair.
PreferencePair finish_pair(json pj, const std::string& chosen, const std::string& rejected, int64_t line_no,
                           const std::string& format, const std::string& stem, const ImportOptions& opt) {
  const bool first = chosen_first(opt.seed, line_no);
  pj["response_a"] = first ? chosen : rejected;
  pj["response_b"] = first ? rejected : chosen;
  pj["winner"] = first ? "a" : "b";
  auto tags = pj.find("tags");
  if (tags == pj.end()) {
    pj["tags"] = opt.default_tags;
  } else if (tags->is_object() && opt.default_tags.is_object()) {
    for (const auto& [k, v] : opt.default_tags.items())
      if (!tags->contains(k)) (*tags)[k] = v;
  }
  if (!pj.contains("source")) pj["source"] = opt.source.empty() ? format : opt.source;
  if (!pj.contains("id")) pj["id"] = format + ":" + stem + ":" + std::to_string(line_no);

  if (opt.transform) {
    if (pj.contains("prompt")) apply_transform(pj["prompt"], opt);
    if (pj.contains("messages") && pj["messages"].is_array())
      for (auto& m : pj["messages"])
        if (m.is_object() && m.contains("content")) apply_transform(m["content"], opt);
    apply_transform(pj["response_a"], opt);
    apply_transform(pj["response_b"], opt);
    if (pj.contains("rationale")) apply_transform(pj["rationale"], opt);
  }
  PreferencePair p;
  auto issues = check_pair(pj, opt.limits, &p);
  if (!issues.empty()) throw RecordError{issues.front().reason, issues.front().message};
  return p;
}

// Sets "prompt" (a lone user turn) or "messages" from a conversation prefix.
void set_prefix(json& pj, const std::vector<text::Message>& prefix) {
  if (prefix.size() == 1 && prefix[0].role == "user") {
    pj["prompt"] = prefix[0].content;
    return;
  }
  json msgs = json::array();
  for (const auto& m : prefix) msgs.push_back({{"role", m.role}, {"content", m.content}});
  pj["messages"] = std::move(msgs);
}

// Splits a conversation at its last assistant turn: prefix + final reply.
std::pair<std::vector<text::Message>, std::string> split_last_assistant(const std::vector<text::Message>& turns,
                                                                        const char* side) {
  int64_t last = -1;
  for (size_t i = 0; i < turns.size(); ++i)
    if (turns[i].role == "assistant") last = static_cast<int64_t>(i);
  if (last < 0) reject("no_assistant_turn", std::string(side) + " has no Assistant turn");
  if (static_cast<size_t>(last) + 1 != turns.size())
    reject("bad_transcript", std::string(side) + " continues after its last Assistant turn");
  if (last == 0) reject("bad_transcript", std::string(side) + " has no Human turn before the Assistant reply");
  return {std::vector<text::Message>(turns.begin(), turns.begin() + last), turns[last].content};
}

std::string first_difference(const std::vector<text::Message>& a, const std::vector<text::Message>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "chosen and rejected differ before the final Assistant turn (turn " + std::to_string(i + 1) + ")";
}

std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) reject(reason::kMissingField, std::string("\"") + key + "\" is missing");
  if (!it->is_string())
    reject(reason::kWrongType, std::string("\"") + key + "\" must be a string, not " + it->type_name());
  return it->get<std::string>();
}

// A TRL message list -> messages (role and content must be strings).
std::vector<text::Message> trl_messages(const json& arr, const char* key) {
  std::vector<text::Message> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& m = arr[i];
    auto role = m.is_object() ? m.find("role") : m.end();
    auto content = m.is_object() ? m.find("content") : m.end();
    if (!m.is_object() || role == m.end() || !role->is_string() || content == m.end() || !content->is_string())
      reject(reason::kBadMessages, std::string(key) + "[" + std::to_string(i) +
                                       "] must be an object with string \"role\" and \"content\"");
    out.push_back({role->get<std::string>(), content->get<std::string>()});
  }
  return out;
}

// A TRL completion: a string, or a list holding exactly one assistant message.
std::string trl_completion(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) reject(reason::kMissingField, std::string("\"") + key + "\" is missing");
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array())
    reject(reason::kWrongType, std::string("\"") + key + "\" must be a string or a message list, not " + it->type_name());
  auto msgs = trl_messages(*it, key);
  if (msgs.size() != 1 || msgs[0].role != "assistant")
    reject(reason::kBadMessages, std::string("\"") + key + "\" must hold exactly one assistant message (has " +
                                     std::to_string(msgs.size()) + ")");
  return msgs[0].content;
}

// Drives a JSONL importer: convert(json line, line_no) -> pair, or throws RecordError.
template <class Convert>
std::vector<PreferencePair> import_jsonl(const std::string& path, const ImportOptions& opt, ImportStats* stats,
                                         Convert&& convert) {
  ImportStats local;
  ImportStats& st = stats ? *stats : local;
  st = ImportStats{};
  const std::string text = fs::read_file(path);
  std::vector<PreferencePair> out;
  for_each_line(text, [&](int64_t line_no, std::string_view line) {
    ++st.lines;
    const std::string where = path + ":" + std::to_string(line_no);
    try {
      json j;
      if (auto bad = parse_json_line(line, &j)) throw RecordError{bad->reason, bad->message};
      PreferencePair p = convert(j, line_no);
      if (p.winner == Winner::A) ++st.chosen_a;
      ++st.imported;
      out.push_back(std::move(p));
    } catch (const RecordError& e) {
      on_bad_record(where, e, opt, st);
    } catch (const Error& e) {  // e.g. a transform that rejects its input
      on_bad_record(where, RecordError{"error", e.what()}, opt, st);
    }
  });
  if (st.lines == 0) fail(path, "no records in file");
  return out;
}

std::string stem_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

}  // namespace

bool chosen_first(uint64_t seed, int64_t line) {
  return (splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(line)) >> 63) == 0;
}

std::vector<text::Message> parse_hh_transcript(std::string_view t) {
  static constexpr std::string_view kHuman = "\n\nHuman:", kAssistant = "\n\nAssistant:";
  auto next_marker = [&](size_t from, std::string_view* which) {
    size_t h = t.find(kHuman, from), a = t.find(kAssistant, from);
    if (h == std::string_view::npos && a == std::string_view::npos) return std::string_view::npos;
    *which = h < a ? kHuman : kAssistant;
    return std::min(h, a);
  };
  std::vector<text::Message> turns;
  std::string_view which;
  size_t pos = next_marker(0, &which);
  if (pos == std::string_view::npos) return turns;
  if (!blank(t.substr(0, pos))) fail("hh transcript", "text before the first \"Human:\" turn");
  while (pos != std::string_view::npos) {
    const std::string role = which == kHuman ? "user" : "assistant";
    size_t start = pos + which.size();
    if (start < t.size() && t[start] == ' ') ++start;
    std::string_view next_which;
    size_t next = next_marker(start, &next_which);
    const size_t end = next == std::string_view::npos ? t.size() : next;
    turns.push_back({role, std::string(t.substr(start, end - start))});
    pos = next;
    which = next_which;
  }
  return turns;
}

std::vector<PreferencePair> import_hh(const std::string& path, const ImportOptions& opt, ImportStats* stats) {
  const std::string stem = stem_of(path);
  return import_jsonl(path, opt, stats, [&](const json& j, int64_t line_no) {
    const std::string chosen = string_field(j, "chosen");
    const std::string rejected = string_field(j, "rejected");
    std::vector<text::Message> ct, rt;
    try {
      ct = parse_hh_transcript(chosen);
      rt = parse_hh_transcript(rejected);
    } catch (const Error& e) {
      reject("bad_transcript", std::string(e.what()).substr(std::string("hh transcript: ").size()));
    }
    auto [cprefix, creply] = split_last_assistant(ct, "chosen");
    auto [rprefix, rreply] = split_last_assistant(rt, "rejected");
    if (cprefix != rprefix) reject("prefix_mismatch", first_difference(cprefix, rprefix));
    json pj = json::object();
    for (const auto& [k, v] : j.items())
      if (k != "chosen" && k != "rejected") pj[k] = v;
    set_prefix(pj, cprefix);
    return finish_pair(std::move(pj), creply, rreply, line_no, "hh", stem, opt);
  });
}

std::vector<PreferencePair> import_trl(const std::string& path, const ImportOptions& opt, ImportStats* stats) {
  const std::string stem = stem_of(path);
  return import_jsonl(path, opt, stats, [&](const json& j, int64_t line_no) {
    json pj = json::object();
    for (const auto& [k, v] : j.items())
      if (k != "prompt" && k != "chosen" && k != "rejected") pj[k] = v;
    auto prompt = j.find("prompt");
    std::string chosen, rejected;
    if (prompt == j.end()) {
      // Implicit prompt: chosen and rejected are whole conversations sharing a prefix.
      for (const char* key : {"chosen", "rejected"}) {
        if (!j.contains(key)) reject(reason::kMissingField, std::string("\"") + key + "\" is missing");
        if (!j[key].is_array())
          reject(reason::kMissingField, "\"prompt\" is missing (needed unless chosen/rejected are conversations)");
      }
      auto [cprefix, creply] = split_last_assistant(trl_messages(j["chosen"], "chosen"), "chosen");
      auto [rprefix, rreply] = split_last_assistant(trl_messages(j["rejected"], "rejected"), "rejected");
      if (cprefix != rprefix) reject("prefix_mismatch", first_difference(cprefix, rprefix));
      set_prefix(pj, cprefix);
      chosen = creply;
      rejected = rreply;
    } else {
      if (prompt->is_string()) {
        pj["prompt"] = *prompt;
      } else if (prompt->is_array()) {
        json msgs = json::array();
        for (const auto& m : trl_messages(*prompt, "prompt")) msgs.push_back({{"role", m.role}, {"content", m.content}});
        pj["messages"] = std::move(msgs);
      } else {
        reject(reason::kWrongType, std::string("\"prompt\" must be a string or a message list, not ") + prompt->type_name());
      }
      chosen = trl_completion(j, "chosen");
      rejected = trl_completion(j, "rejected");
    }
    return finish_pair(std::move(pj), chosen, rejected, line_no, "trl", stem, opt);
  });
}

std::vector<CsvRecord> parse_csv(std::string_view t, const std::string& name) {
  std::vector<CsvRecord> out;
  size_t i = 0;
  const size_t n = t.size();
  int64_t line = 1;
  if (t.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  auto at_record_end = [&](size_t k) { return k >= n || t[k] == '\n' || (t[k] == '\r' && k + 1 < n && t[k + 1] == '\n'); };
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    while (true) {
      std::string field;
      if (i < n && t[i] == '"') {
        const int64_t open_line = line;
        ++i;
        while (true) {
          if (i >= n) fail(name + ":" + std::to_string(open_line), "unterminated quoted field");
          const char c = t[i];
          if (c == '"') {
            if (i + 1 < n && t[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (!(i >= n || t[i] == ',' || at_record_end(i)))
          fail(name + ":" + std::to_string(line), "unexpected character after a closing quote");
      } else {
        while (i < n && t[i] != ',' && !at_record_end(i)) {
          if (t[i] == '"') fail(name + ":" + std::to_string(line), "quote inside an unquoted field");
          field += t[i++];
        }
      }
      rec.fields.push_back(std::move(field));
      if (i < n && t[i] == ',') {
        ++i;
        continue;
      }
      if (i < n) {  // record end: "\n" or "\r\n"
        i += t[i] == '\r' ? 2 : 1;
        ++line;
      }
      break;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

json SftExample::to_json() const {
  json msgs = json::array();
  for (const auto& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  return {{"messages", std::move(msgs)}, {"tags", tags}};
}

json SftExample::prompt_json() const {
  std::string prompt;
  for (const auto& m : messages)
    if (m.role == "user") {
      prompt = m.content;
      break;
    }
  return {{"prompt", prompt}, {"tags", tags}};
}

std::vector<SftExample> import_bitext(const std::string& path, const ImportOptions& opt, ImportStats* stats) {
  ImportStats local;
  ImportStats& st = stats ? *stats : local;
  st = ImportStats{};
  const auto rows = parse_csv(fs::read_file(path), path);
  if (rows.empty()) fail(path, "empty CSV (expected a header row)");
  const auto& header = rows[0].fields;
  auto column = [&](const char* col) {
    for (size_t k = 0; k < header.size(); ++k)
      if (header[k] == col) return k;
    fail(path + ":1", std::string("missing column \"") + col + "\" (need instruction, intent, category, response)");
  };
  const size_t ci = column("instruction"), cn = column("intent"), cc = column("category"), cr = column("response");
  std::vector<SftExample> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& rec = rows[r];
    if (rec.fields.size() == 1 && blank(rec.fields[0])) continue;  // blank line
    ++st.lines;
    const std::string where = path + ":" + std::to_string(rec.line);
    try {
      if (rec.fields.size() != header.size())
        reject("bad_row", "has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                              std::to_string(header.size()));
      for (size_t k = 0; k < rec.fields.size(); ++k)
        if (!is_valid_utf8(rec.fields[k]))
          reject(reason::kInvalidUtf8, "invalid UTF-8 in column \"" + header[k] + "\"");
      std::string instruction = rec.fields[ci], response = rec.fields[cr];
      if (blank(instruction)) reject(reason::kEmptyPrompt, "empty instruction");
      if (blank(response)) reject(reason::kEmptyResponse, "empty response");
      if (blank(rec.fields[cn])) reject(reason::kMissingField, "empty intent");
      if (opt.transform) {
        instruction = opt.transform(instruction);
        response = opt.transform(response);
      }
      SftExample ex;
      ex.messages = {{"user", std::move(instruction)}, {"assistant", std::move(response)}};
      ex.tags = {{"intent", rec.fields[cn]}, {"category", rec.fields[cc]}};
      out.push_back(std::move(ex));
      ++st.imported;
    } catch (const RecordError& e) {
      on_bad_record(where, e, opt, st);
    }
  }
  if (st.lines == 0) fail(path, "no data rows after the header");
  return out;
}

std::vector<json> to_trl(const std::vector<PreferencePair>& pairs, ExportStats* stats) {
  ExportStats local;
  ExportStats& st = stats ? *stats : local;
  st = ExportStats{};
  std::vector<json> out;
  for (const auto& p : pairs) {
    if (p.winner == Winner::Tie) {
      ++st.ties_skipped;
      continue;
    }
    json row;
    if (p.prompt) {
      row = {{"prompt", *p.prompt}, {"chosen", p.chosen()}, {"rejected", p.rejected()}};
    } else {
      json msgs = json::array();
      for (const auto& m : p.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
      auto reply = [](const std::string& s) { return json::array({{{"role", "assistant"}, {"content", s}}}); };
      row = {{"prompt", std::move(msgs)}, {"chosen", reply(p.chosen())}, {"rejected", reply(p.rejected())}};
    }
    out.push_back(std::move(row));
    ++st.exported;
  }
  return out;
}

}  // namespace srl::data
