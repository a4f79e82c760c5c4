// `supportrl data anonymize` and `supportrl data split`: clean preference JSONL before training.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/strings.hpp"
#include "data/anonymize.hpp"
#include "data/split.hpp"

namespace srl::cli {
namespace {

using nlohmann::json;

const char* const kPiiTypes[] = {"EMAIL", "PHONE", "CARD", "ORDER_ID", "ACCOUNT_ID", "IP", "ADDRESS"};

// Lines without their terminators ('\n', and a '\r' before it).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t b = 0;
  while (b < text.size()) {
    size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    size_t end = e;
    if (end > b && text[end - 1] == '\r') --end;
    lines.push_back(text.substr(b, end - b));
    b = e + 1;
  }
  return lines;
}


// Parses one JSONL line as an object; errors name `path:line`.
json parse_object(const std::string& line, const std::string& where) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos) what = what.substr(p + 2);
    fail(where, "malformed JSON: " + what);
  }
  if (!j.is_object()) fail(where, std::string("expected a JSON object, got ") + j.type_name());
  return j;
}

void anonymize_values(json& j, data::AnonymizeStats& stats) {
  if (j.is_string()) {
    j = data::anonymize(j.get_ref<const std::string&>(), &stats);
  } else if (j.is_array() || j.is_object()) {
    for (auto& v : j) anonymize_values(v, stats);
  }
}

void print_counts(const data::AnonymizeStats& stats) {
  for (const char* type : kPiiTypes) {
    auto it = stats.counts.find(type);
    std::printf("  %-10s %lld\n", type, (long long)(it == stats.counts.end() ? 0 : it->second));
  }
}

void run_anonymize(const std::string& in, const std::string& out, bool text_mode) {
  const std::string input = fs::read_file(in);
  data::AnonymizeStats stats;
  std::string result;
  int64_t records = 0;
  if (text_mode) {
    // Line by line, keeping the line endings exactly.
    size_t b = 0;
    while (b < input.size()) {
      size_t e = input.find('\n', b);
      size_t end = e == std::string::npos ? input.size() : e;
      result += data::anonymize(std::string_view(input).substr(b, end - b), &stats);
      if (e != std::string::npos) result += '\n';
      ++records;
      b = end + 1;
    }
  } else {
    auto lines = split_lines(input);
    for (size_t n = 0; n < lines.size(); ++n) {
      if (blank(lines[n], " \t\r")) continue;
      json j = parse_object(lines[n], in + ":" + std::to_string(n + 1));
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "id" || it.key() == "winner" || it.key() == "tags") continue;
        anonymize_values(it.value(), stats);
      }
      result += j.dump(-1, ' ', false, json::error_handler_t::replace);
      result += '\n';
      ++records;
    }
  }
  fs::write_file_atomic(out, result);
  std::printf("anonymized %lld %s from %s -> %s\n", (long long)records, text_mode ? "lines" : "records", in.c_str(),
              out.c_str());
  print_counts(stats);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> parts;
  size_t b = 0;
  while (true) {
    size_t e = s.find(',', b);
    std::string p = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    p.erase(0, p.find_first_not_of(' '));
    p.erase(p.find_last_not_of(' ') + 1);
    parts.push_back(p);
    if (e == std::string::npos) return parts;
    b = e + 1;
  }
}

std::vector<double> parse_fractions(const std::string& s) {
  std::vector<double> out;
  for (const auto& p : split_list(s)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(p, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (p.empty() || used != p.size()) fail("--fractions", "'" + p + "' is not a number (expected e.g. 0.8,0.1,0.1)");
    out.push_back(v);
  }
  return out;
}

// The prompt key text of a preference record: `prompt`, or the contents of `messages` joined by newlines.
std::string prompt_text(const json& j, const std::string& where) {
  if (auto it = j.find("prompt"); it != j.end() && it->is_string()) return it->get<std::string>();
  if (auto it = j.find("messages"); it != j.end() && it->is_array()) {
    std::string text;
    for (const auto& m : *it) {
      if (!m.is_object()) continue;
      if (auto c = m.find("content"); c != m.end() && c->is_string()) {
        if (!text.empty()) text += '\n';
        text += c->get<std::string>();
      }
    }
    return text;
  }
  fail(where, "no prompt: expected a \"prompt\" string or a \"messages\" array");
}

std::string intent_of(const json& j) {
  if (auto t = j.find("tags"); t != j.end() && t->is_object())
    if (auto i = t->find("intent"); i != t->end() && i->is_string() && !i->get<std::string>().empty())
      return i->get<std::string>();
  return "unknown";
}

void run_split(const std::string& in, const std::string& out_dir, const std::string& fractions,
               const std::string& names, uint64_t seed) {
  data::SplitSpec spec{split_list(names), parse_fractions(fractions), seed};
  data::validate_split_spec(spec);
  auto lines = split_lines(fs::read_file(in));
  std::vector<std::string> kept, keys, intents;
  std::set<std::string> seen;
  int64_t duplicates = 0;
  for (size_t n = 0; n < lines.size(); ++n) {
    if (blank(lines[n], " \t\r")) continue;
    const std::string where = in + ":" + std::to_string(n + 1);
    json j = parse_object(lines[n], where);
    // Exact duplicates: the same JSON content, whatever the key order or spacing.
    if (!seen.insert(j.dump(-1, ' ', false, json::error_handler_t::replace)).second) {
      ++duplicates;
      continue;
    }
    keys.push_back(data::normalize_prompt(prompt_text(j, where)));
    intents.push_back(intent_of(j));
    kept.push_back(lines[n]);
  }
  auto split = data::assign_splits(keys, intents, spec);
  const size_t S = spec.names.size();
  std::vector<std::string> bodies(S);
  std::vector<int64_t> per_split(S, 0);
  std::map<std::string, std::vector<int64_t>> per_intent;
  for (size_t i = 0; i < kept.size(); ++i) {
    bodies[split[i]] += kept[i] + "\n";
    ++per_split[split[i]];
    auto& row = per_intent[intents[i]];
    row.resize(S, 0);
    ++row[split[i]];
  }
  fs::make_dirs(out_dir);
  for (size_t s = 0; s < S; ++s) fs::write_file_atomic(out_dir + "/" + spec.names[s] + ".jsonl", bodies[s]);
  std::printf("read %lld records from %s; removed %lld exact duplicate%s; %lld prompt groups\n",
              (long long)(kept.size() + duplicates), in.c_str(), (long long)duplicates, duplicates == 1 ? "" : "s",
              (long long)std::set<std::string>(keys.begin(), keys.end()).size());
  for (size_t s = 0; s < S; ++s)
    std::printf("  %-12s %8lld  -> %s/%s.jsonl\n", spec.names[s].c_str(), (long long)per_split[s], out_dir.c_str(),
                spec.names[s].c_str());
  std::printf("per intent:\n  %-24s", "intent");
  for (const auto& name : spec.names) std::printf(" %10s", name.c_str());
  std::printf("\n");
  for (const auto& [intent, row] : per_intent) {
    std::printf("  %-24s", intent.c_str());
    for (auto c : row) std::printf(" %10lld", (long long)c);
    std::printf("\n");
  }
}

}  // namespace

void register_data_clean(CLI::App& data) {
  {
    auto* cmd = data.add_subcommand("anonymize", "Replace personal data in preference JSONL (or text) with {{TYPE}} placeholders");
    auto in = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto text = std::make_shared<bool>(false);
    cmd->add_option("input", *in, "input JSONL file (one JSON object per line)")->required();
    cmd->add_option("--out", *out, "output file, written atomically")->required();
    cmd->add_flag("--text", *text, "treat the input as plain text and anonymize it line by line");
    cmd->callback([in, out, text] { run_anonymize(*in, *out, *text); });
  }
  {
    auto* cmd = data.add_subcommand("split", "Split preference JSONL by prompt group, stratified by intent, without duplicates");
    auto in = std::make_shared<std::string>();
    auto out_dir = std::make_shared<std::string>();
    auto fractions = std::make_shared<std::string>("0.8,0.1,0.1");
    auto names = std::make_shared<std::string>("train,val,test");
    auto seed = std::make_shared<uint64_t>(0);
    cmd->add_option("input", *in, "input preference JSONL")->required();
    cmd->add_option("--out-dir", *out_dir, "directory for <name>.jsonl per split")->required();
    cmd->add_option("--fractions", *fractions, "comma-separated, positive, summing to 1")->capture_default_str();
    cmd->add_option("--names", *names, "comma-separated split names, one per fraction")->capture_default_str();
    cmd->add_option("--seed", *seed, "seed for the order in which prompt groups are dealt out")->capture_default_str();
    cmd->callback([=] { run_split(*in, *out_dir, *fractions, *names, *seed); });
  }
}

}  // namespace srl::cli
