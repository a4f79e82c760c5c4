// The prompts online RL samples from (rl.hpp): a JSONL file of {"prompt": "..."} or {"messages": [...
// ending with a user turn]}, optional "tags" and "id", read with the one conversation parser
// (text::parse_conversation_json) and tokenized as generation prompts.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "text/chat_format.hpp"
#include "text/tokenizer.hpp"

namespace srl::train {

struct RlPrompt {
  std::vector<text::Message> conversation;
  std::string id;
  nlohmann::json tags = nlohmann::json::object();
};

// Malformed lines are srl::fail("FILE:LINE", ...) (skip_invalid false) or logged and counted in *skipped;
// a file without prompts is srl::fail(FILE).
std::vector<RlPrompt> load_rl_prompts(const std::string& path, bool skip_invalid, int64_t* skipped = nullptr);

// Each prompt rendered for generation, cut to its last max_len tokens (a warning counts the cut ones).
std::vector<std::vector<int64_t>> tokenize_prompts(const std::vector<RlPrompt>& ps, const text::Tokenizer& tok,
                                                   int64_t max_len, const std::string& where);

}  // namespace srl::train
