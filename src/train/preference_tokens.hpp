// Preference pairs as token ids, the input both the reward model and DPO train on. A pair becomes its
// generation prompt (text::render_prompt of the conversation: "<s> ... <|assistant|>") and each response
// as the model would have generated it: encode(response) followed by <|end|>. So prompt + response is
// exactly text::render of the conversation with that reply, and scores/log-probs match what the policy
// samples.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/preference.hpp"
#include "text/tokenizer.hpp"

namespace srl::train {

struct TokenizedPair {
  std::vector<int64_t> prompt;      // starts with <s>, ends with <|assistant|>
  std::vector<int64_t> response_a;  // non-empty, ends with <|end|> unless truncated
  std::vector<int64_t> response_b;
  data::Winner winner = data::Winner::Tie;
  std::string intent, difficulty;  // from tags ("" when absent)
  size_t source_index = 0;         // position in the input vector

  const std::vector<int64_t>& chosen() const { return winner == data::Winner::B ? response_b : response_a; }
  const std::vector<int64_t>& rejected() const { return winner == data::Winner::B ? response_a : response_b; }
};

struct PairTokenizeOptions {
  int64_t max_prompt_len = 192;  // longer prompts keep <s> and their LAST tokens (the newest turns)
  int64_t max_seq_len = 384;     // prompt + each response; responses are cut at the end to fit
};

struct PairTokenizeStats {
  int64_t prompts_truncated = 0, responses_truncated = 0;
};

// Tokenizes every pair (order kept). Limits must leave room for at least one response token
// (max_prompt_len >= 2, max_seq_len > max_prompt_len), else srl::fail(where, ...). Truncations are counted
// and logged once as a warning naming `where`.
std::vector<TokenizedPair> tokenize_pairs(const std::vector<data::PreferencePair>& pairs, const text::Tokenizer& tok,
                                          const PairTokenizeOptions& opt, const std::string& where,
                                          PairTokenizeStats* stats = nullptr);

// The generation prompt of a conversation (text::render_prompt) as the policy sees it when sampling: at most
// max_len tokens, keeping <s> and the newest tokens; *truncated (may be null) says whether it was cut.
std::vector<int64_t> generation_prompt_ids(const text::Tokenizer& tok, const std::vector<text::Message>& conversation,
                                           int64_t max_len, bool* truncated = nullptr);

// One (conversation, response) the same way, for scoring and evaluation: {prompt, response}.
std::pair<std::vector<int64_t>, std::vector<int64_t>> tokenize_reply(const std::vector<text::Message>& conversation,
                                                                     const std::string& response,
                                                                     const text::Tokenizer& tok,
                                                                     const PairTokenizeOptions& opt);

}  // namespace srl::train
