// The one reader of a conversation given as "prompt" or "messages" (text/conversation_json.hpp): what it
// accepts, every problem it reports (all of them, in order, with their kinds), and the rules callers set.
#include "text/conversation_json.hpp"

#include <gtest/gtest.h>

using namespace srl::text;
using nlohmann::json;
using Kind = ConversationProblem::Kind;

namespace {

std::vector<Kind> kinds(const ParsedConversation& c) {
  std::vector<Kind> k;
  for (const auto& p : c.problems) k.push_back(p.kind);
  return k;
}

json msg(const std::string& role, const json& content) { return {{"role", role}, {"content", content}}; }

}  // namespace

TEST(ConversationJson, PromptBecomesOneUserTurn) {
  auto c = parse_conversation_json(json{{"prompt", "Where is my order?"}, {"tags", {{"intent", "x"}}}});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.from_prompt);
  EXPECT_EQ(c.prompt, "Where is my order?");
  EXPECT_EQ(c.messages, (std::vector<Message>{{"user", "Where is my order?"}}));
}

TEST(ConversationJson, MessagesEndingWithTheUserTurn) {
  auto c = parse_conversation_json(
      json{{"messages", {msg("system", "Be brief."), msg("user", "hi"), msg("assistant", "hello"), msg("user", "refund?")}}});
  ASSERT_TRUE(c.ok()) << c.problems.front().message;
  EXPECT_FALSE(c.from_prompt);
  ASSERT_EQ(c.messages.size(), 4u);
  EXPECT_EQ(c.messages[2], (Message{"assistant", "hello"}));
}

TEST(ConversationJson, EveryProblemIsReportedInOrder) {
  auto c = parse_conversation_json(
      json{{"messages", {msg("bot", "x"), json("hi"), msg("user", " \n"), {{"role", 3}}, msg("assistant", "a")}}});
  EXPECT_EQ(kinds(c), (std::vector<Kind>{Kind::BadRole, Kind::BadMessages, Kind::EmptyContent, Kind::BadMessages,
                                         Kind::BadMessages, Kind::BadRole}));
  EXPECT_EQ(c.problems[0].message, "messages[0]: bad role \"bot\" (expected system, user or assistant)");
  EXPECT_EQ(c.problems[1].message, "messages[1] must be an object, not string");
  EXPECT_EQ(c.problems[2].message, "messages[2].content is empty");
  EXPECT_EQ(c.problems[3].message, "messages[3].role must be a string");
  EXPECT_EQ(c.problems[4].message, "messages[3].content must be a string");
  EXPECT_EQ(c.problems[5].message, "messages[4]: the last message must be a user turn, not assistant");
}

TEST(ConversationJson, ShapeProblems) {
  EXPECT_EQ(kinds(parse_conversation_json(json{{"x", 1}})), std::vector<Kind>{Kind::PromptXorMessages});
  EXPECT_EQ(kinds(parse_conversation_json(json{{"prompt", "a"}, {"messages", json::array()}})),
            std::vector<Kind>{Kind::PromptXorMessages});
  EXPECT_EQ(kinds(parse_conversation_json(json{{"prompt", 5}})), std::vector<Kind>{Kind::WrongType});
  EXPECT_EQ(kinds(parse_conversation_json(json{{"prompt", "  "}})), std::vector<Kind>{Kind::EmptyContent});
  EXPECT_EQ(kinds(parse_conversation_json(json{{"messages", "hi"}})), std::vector<Kind>{Kind::WrongType});
  EXPECT_EQ(kinds(parse_conversation_json(json{{"messages", json::array()}})), std::vector<Kind>{Kind::BadMessages});
  EXPECT_EQ(kinds(parse_conversation_json(json::array())), std::vector<Kind>{Kind::WrongType});
}

// SFT data: "messages" only, any last role, at least one assistant turn to train on.
TEST(ConversationJson, RulesForTrainingConversations) {
  ConversationRules sft;
  sft.allow_prompt = false;
  sft.last_is_user = false;
  sft.needs_assistant = true;
  EXPECT_TRUE(parse_conversation_json(json{{"messages", {msg("user", "q"), msg("assistant", "a")}}}, sft).ok());
  auto none = parse_conversation_json(json{{"messages", {msg("user", "q")}}}, sft);
  EXPECT_EQ(kinds(none), std::vector<Kind>{Kind::NoAssistant});
  auto prompt = parse_conversation_json(json{{"prompt", "q"}}, sft);
  ASSERT_EQ(kinds(prompt), std::vector<Kind>{Kind::PromptXorMessages});
  EXPECT_EQ(prompt.problems[0].message, "missing \"messages\"");
}
