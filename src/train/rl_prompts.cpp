#include "train/rl_prompts.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/jsonl.hpp"
#include "text/conversation_json.hpp"
#include "train/preference_tokens.hpp"

namespace srl::train {

namespace {

// The problems of one parsed line ("" when it is a usable prompt; then *out is filled).
std::string parse_prompt(const nlohmann::json& j, RlPrompt* out) {
  auto conv = text::parse_conversation_json(j);
  if (!conv.ok()) return conv.problems.front().message;
  RlPrompt p;
  p.conversation = std::move(conv.messages);
  if (j.contains("tags")) {
    if (!j["tags"].is_object()) return "\"tags\" must be an object";
    p.tags = j["tags"];
  }
  if (j.contains("id")) {
    if (!j["id"].is_string()) return "\"id\" must be a string";
    p.id = j["id"].get<std::string>();
  }
  *out = std::move(p);
  return "";
}

}  // namespace

std::vector<RlPrompt> load_rl_prompts(const std::string& path, bool skip_invalid, int64_t* skipped) {
  const std::string text = read_text_file(path);
  std::vector<RlPrompt> out;
  int64_t bad = 0;
  for_each_line(text, [&](int64_t line_no, std::string_view line) {
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    std::string problem;
    if (auto issue = parse_json_line(line, &j)) problem = issue->reason + ": " + issue->message;
    RlPrompt p;
    if (problem.empty()) problem = parse_prompt(j, &p);
    if (problem.empty()) {
      out.push_back(std::move(p));
      return;
    }
    if (!skip_invalid) fail(where, problem);
    spdlog::warn("{}: {} (skipped)", where, problem);
    ++bad;
  });
  if (skipped) *skipped = bad;
  if (out.empty()) fail(path, bad ? "no valid prompt (every line was malformed)" : "no prompts (empty file)");
  if (bad) spdlog::warn("{}: {} malformed lines skipped, {} prompts loaded", path, bad, out.size());
  return out;
}

std::vector<std::vector<int64_t>> tokenize_prompts(const std::vector<RlPrompt>& ps, const text::Tokenizer& tok,
                                                   int64_t max_len, const std::string& where) {
  std::vector<std::vector<int64_t>> out;
  int64_t truncated = 0;
  for (const auto& p : ps) {
    bool t = false;
    out.push_back(generation_prompt_ids(tok, p.conversation, max_len, &t));
    truncated += t;
  }
  if (truncated) spdlog::warn("{}: {} prompts cut to their last {} tokens", where, truncated, max_len);
  return out;
}

}  // namespace srl::train
