// The model-backed Responder of the customer simulation: one reply per conversation however the turn is
// chunked into generate calls, reproducible for the same seeds, a changed seed changing only its own call,
// greedy decoding ignoring seeds, and prompts longer than the context cut instead of rejected.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "eval/simulate_policy.hpp"
#include "model/llama_config.hpp"
#include "text/text_fixture.hpp"

namespace srl::eval {
namespace {

model::LoadedModel tiny_model() {
  const auto& tok = srl_test::test_tokenizer();
  model::LoadedModel lm{model::init_model(model::LlamaConfig::preset("tiny"), tok, 7), tok, ""};
  lm.model->eval();
  return lm;
}

std::vector<std::vector<text::Message>> conversations(int n) {
  std::vector<std::vector<text::Message>> c;
  for (int i = 0; i < n; ++i)
    c.push_back({{"user", "my order A1000" + std::to_string(i) + " arrived damaged"},
                 {"assistant", "sorry, which order number?"},
                 {"user", "order A1000" + std::to_string(i)}});
  return c;
}

SimulateConfig sampling_config(int64_t batch) {
  SimulateConfig c;
  c.policy = "unused";
  c.output_dir = "unused";
  c.batch_size = batch;
  c.max_new_tokens = 6;
  c.temperature = 1.0;
  c.top_p = 1.0;
  return c;
}

TEST(SimulatePolicy, OneReplyPerConversationAcrossChunkedCalls) {
  auto lm = tiny_model();
  ResponderStats st;
  auto respond = make_model_responder(lm, sampling_config(2), &st);
  const auto convs = conversations(5);
  const auto replies = respond(convs, {11, 12, 13, 14, 15});
  EXPECT_EQ(replies.size(), 5u);
  EXPECT_EQ(st.calls, 3);  // 2 + 2 + 1
  EXPECT_EQ(st.generations, 5);
  EXPECT_EQ(st.prompts_truncated, 0);
  EXPECT_THROW(respond(convs, {1, 2}), Error);  // one seed per conversation
}

TEST(SimulatePolicy, SameSeedsSameRepliesAndASeedOnlyMovesItsOwnCall) {
  auto lm = tiny_model();
  auto respond = make_model_responder(lm, sampling_config(2), nullptr);
  const auto convs = conversations(4);
  const auto a = respond(convs, {1, 2, 3, 4});
  EXPECT_EQ(respond(convs, {1, 2, 3, 4}), a);
  // Calls are rows {0,1} and {2,3}: a new seed for row 3 resamples the second call only. With a random
  // 2048-way model at temperature 1, two 6-token samples from different streams practically never agree.
  const auto b = respond(convs, {1, 2, 3, 99});
  EXPECT_EQ(b[0], a[0]);
  EXPECT_EQ(b[1], a[1]);
  EXPECT_TRUE(b[2] != a[2] || b[3] != a[3]);
  // Rows of one call get different streams even for equal conversations.
  const std::vector<std::vector<text::Message>> same(2, convs[0]);
  const auto c = respond(same, {5, 6});
  EXPECT_NE(c[0], c[1]);
}

TEST(SimulatePolicy, GreedyRepliesIgnoreSeeds) {
  auto lm = tiny_model();
  auto cfg = sampling_config(4);
  cfg.temperature = 0;
  auto respond = make_model_responder(lm, cfg, nullptr);
  const auto convs = conversations(3);
  EXPECT_EQ(respond(convs, {1, 2, 3}), respond(convs, {7, 8, 9}));
}

TEST(SimulatePolicy, LongPromptsKeepTheirNewestTokensInsteadOfFailing) {
  auto lm = tiny_model();
  const int64_t ctx = lm.model->config().max_position_embeddings;  // 512 for tiny
  auto cfg = sampling_config(4);
  cfg.max_new_tokens = ctx - 12;  // room for 12 prompt tokens
  ResponderStats st;
  auto respond = make_model_responder(lm, cfg, &st);
  std::string longer;
  for (int i = 0; i < 40; ++i) longer += "please help with my refund ";
  auto convs = conversations(1);
  convs.push_back({{"user", longer}});
  const auto replies = respond(convs, {1, 2});
  EXPECT_EQ(replies.size(), 2u);
  EXPECT_EQ(st.prompts_truncated, 2);  // both exceed 12 tokens

  cfg.max_new_tokens = ctx - 1;  // no room for <s> and a token
  EXPECT_THROW(make_model_responder(lm, cfg, nullptr), Error);
}

TEST(SimulatePolicy, ConfigChecksNameTheKey) {
  SimulateConfig c = sampling_config(1);
  EXPECT_NO_THROW(check_simulate_config(c));
  auto expect_key = [](SimulateConfig bad, const std::string& key) {
    try {
      check_simulate_config(bad);
      ADD_FAILURE() << "accepted bad " << key;
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), "simulate." + key);
      EXPECT_EQ(e.exit_code(), 2);
    }
  };
  auto t = c;
  t.trials = 0;
  expect_key(t, "trials");
  t = c;
  t.top_p = 0;
  expect_key(t, "top_p");
  t = c;
  t.scenarios = 0;
  expect_key(t, "scenarios");
  t = c;
  t.policy = "";
  expect_key(t, "policy");
}

}  // namespace
}  // namespace srl::eval
