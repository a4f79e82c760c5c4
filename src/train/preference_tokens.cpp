#include "train/preference_tokens.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "text/chat_format.hpp"

namespace srl::train {

namespace {

std::vector<int64_t> to64(const std::vector<int>& v) { return {v.begin(), v.end()}; }

// Keeps <s> and the newest tokens.
bool clip_prompt(std::vector<int64_t>& p, int64_t max_len) {
  if (static_cast<int64_t>(p.size()) <= max_len) return false;
  std::vector<int64_t> out{p.front()};
  out.insert(out.end(), p.end() - (max_len - 1), p.end());
  p = std::move(out);
  return true;
}

std::vector<int64_t> response_ids(const text::Tokenizer& tok, const std::string& text) {
  auto r = to64(tok.encode(text));
  r.push_back(tok.end_id());
  return r;
}

bool clip_response(std::vector<int64_t>& r, int64_t room) {
  if (static_cast<int64_t>(r.size()) <= room) return false;
  r.resize(room);
  return true;
}

void check_limits(const PairTokenizeOptions& o, const std::string& where) {
  if (o.max_prompt_len < 2) fail(where + ".max_prompt_len", "must be at least 2");
  if (o.max_seq_len <= o.max_prompt_len) fail(where + ".max_seq_len", "must be larger than max_prompt_len");
}

}  // namespace

std::vector<int64_t> generation_prompt_ids(const text::Tokenizer& tok, const std::vector<text::Message>& conversation,
                                           int64_t max_len, bool* truncated) {
  if (max_len < 2) fail_internal("generation_prompt_ids", "max_len must leave room for <s> and one token");
  auto ids = to64(text::render_prompt(tok, conversation));
  const bool cut = clip_prompt(ids, max_len);
  if (truncated) *truncated = cut;
  return ids;
}

std::vector<TokenizedPair> tokenize_pairs(const std::vector<data::PreferencePair>& pairs, const text::Tokenizer& tok,
                                          const PairTokenizeOptions& opt, const std::string& where,
                                          PairTokenizeStats* stats) {
  check_limits(opt, where);
  PairTokenizeStats st;
  std::vector<TokenizedPair> out;
  out.reserve(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    TokenizedPair t;
    t.prompt = to64(text::render_prompt(tok, p.conversation()));
    st.prompts_truncated += clip_prompt(t.prompt, opt.max_prompt_len);
    const int64_t room = opt.max_seq_len - static_cast<int64_t>(t.prompt.size());
    t.response_a = response_ids(tok, p.response_a);
    t.response_b = response_ids(tok, p.response_b);
    st.responses_truncated += clip_response(t.response_a, room);
    st.responses_truncated += clip_response(t.response_b, room);
    t.winner = p.winner;
    if (p.tags.is_object()) {
      if (p.tags.contains("intent") && p.tags["intent"].is_string()) t.intent = p.tags["intent"].get<std::string>();
      if (p.tags.contains("difficulty") && p.tags["difficulty"].is_string())
        t.difficulty = p.tags["difficulty"].get<std::string>();
    }
    t.source_index = i;
    out.push_back(std::move(t));
  }
  if (st.prompts_truncated || st.responses_truncated)
    spdlog::warn("{}: {} prompts cut to their last {} tokens, {} responses cut to fit {} tokens", where,
                 st.prompts_truncated, opt.max_prompt_len, st.responses_truncated, opt.max_seq_len);
  if (stats) *stats = st;
  return out;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> tokenize_reply(const std::vector<text::Message>& conversation,
                                                                     const std::string& response,
                                                                     const text::Tokenizer& tok,
                                                                     const PairTokenizeOptions& opt) {
  check_limits(opt, "tokenize_reply");
  auto p = to64(text::render_prompt(tok, conversation));
  clip_prompt(p, opt.max_prompt_len);
  auto r = response_ids(tok, response);
  clip_response(r, opt.max_seq_len - static_cast<int64_t>(p.size()));
  return {std::move(p), std::move(r)};
}

}  // namespace srl::train
