// Preference pairs as tokens: prompt + response is exactly the rendered conversation with that reply
// (what SFT trained on and what the policy samples), truncation keeps <s> and the newest prompt tokens,
// and chosen/rejected follow the winner.
#include <gtest/gtest.h>

#include "../text/text_fixture.hpp"
#include "core/error.hpp"
#include "text/chat_format.hpp"
#include "train/preference_tokens.hpp"

using namespace srl;

namespace {

data::PreferencePair pair(const std::string& prompt, const std::string& a, const std::string& b, data::Winner w) {
  data::PreferencePair p;
  p.prompt = prompt;
  p.response_a = a;
  p.response_b = b;
  p.winner = w;
  p.tags = {{"intent", "refund_status"}, {"difficulty", "easy"}};
  return p;
}

std::vector<int64_t> concat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(PreferenceTokens, PromptPlusResponseIsTheRenderedConversation) {
  const auto& tok = srl_test::test_tokenizer();
  auto p = pair("Where is my refund for order A12345?", "Your refund is on its way.", "Sorry, I can not help.",
                data::Winner::B);
  auto t = train::tokenize_pairs({p}, tok, {}, "test");
  ASSERT_EQ(t.size(), 1u);
  for (const auto& [resp, ids] : {std::pair{p.response_a, t[0].response_a}, std::pair{p.response_b, t[0].response_b}}) {
    auto conv = p.conversation();
    conv.push_back({"assistant", resp});
    auto r = text::render(tok, conv);
    EXPECT_EQ(concat(t[0].prompt, ids), std::vector<int64_t>(r.ids.begin(), r.ids.end()));
    EXPECT_EQ(ids.back(), tok.end_id());
  }
  EXPECT_EQ(t[0].prompt.front(), tok.bos_id());
  EXPECT_EQ(t[0].prompt.back(), tok.assistant_id());
  EXPECT_EQ(&t[0].chosen(), &t[0].response_b);  // winner B
  EXPECT_EQ(&t[0].rejected(), &t[0].response_a);
  EXPECT_EQ(t[0].intent, "refund_status");
  EXPECT_EQ(t[0].difficulty, "easy");
  auto [rp, rr] = train::tokenize_reply(p.conversation(), p.response_a, tok, {});
  EXPECT_EQ(rp, t[0].prompt);
  EXPECT_EQ(rr, t[0].response_a);
}

TEST(PreferenceTokens, TruncationKeepsBosAndNewestTokens) {
  const auto& tok = srl_test::test_tokenizer();
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "please help with my order and refund today ";
  long_prompt += "FINAL";
  std::string long_reply;
  for (int i = 0; i < 40; ++i) long_reply += "we can change the billing address today. ";
  auto p = pair(long_prompt, long_reply, "ok", data::Winner::A);
  train::PairTokenizeOptions o;
  o.max_prompt_len = 16;
  o.max_seq_len = 40;
  train::PairTokenizeStats st;
  auto t = train::tokenize_pairs({p}, tok, o, "test", &st);
  auto full_prompt = text::render_prompt(tok, p.conversation());
  ASSERT_GT(full_prompt.size(), 16u);
  ASSERT_EQ(t[0].prompt.size(), 16u);
  EXPECT_EQ(t[0].prompt.front(), tok.bos_id());
  // The newest 15 tokens are kept (they end with "FINAL" and <|assistant|>).
  EXPECT_EQ(std::vector<int64_t>(t[0].prompt.begin() + 1, t[0].prompt.end()),
            std::vector<int64_t>(full_prompt.end() - 15, full_prompt.end()));
  EXPECT_EQ(t[0].response_a.size(), 24u);  // 40 - 16
  EXPECT_NE(t[0].response_a.back(), tok.end_id());
  EXPECT_EQ(t[0].response_b.back(), tok.end_id());  // short one untouched
  EXPECT_EQ(st.prompts_truncated, 1);
  EXPECT_EQ(st.responses_truncated, 1);
}

TEST(PreferenceTokens, RejectsLimitsWithoutRoomForAResponse) {
  const auto& tok = srl_test::test_tokenizer();
  auto p = pair("hello", "a", "b", data::Winner::Tie);
  EXPECT_THROW(train::tokenize_pairs({p}, tok, {1, 10}, "cfg"), srl::Error);
  EXPECT_THROW(train::tokenize_pairs({p}, tok, {10, 10}, "cfg"), srl::Error);
  auto t = train::tokenize_pairs({p}, tok, {4, 6}, "cfg");
  // The smallest legal limits: "<s> ... <|assistant|>" (5+ tokens) cut to 4, each response to 2.
  EXPECT_EQ(t[0].prompt.size(), 4u);
  EXPECT_EQ(t[0].prompt.back(), tok.assistant_id());
  EXPECT_GE(t[0].response_a.size(), 1u);
  EXPECT_LE(t[0].response_a.size(), 2u);
}
