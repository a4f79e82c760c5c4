// Chat format: exact layout, loss weights, generation prompt, reply parsing and JSONL loading errors.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "text/chat_format.hpp"
#include "text_fixture.hpp"

using namespace srl::text;
using srl_test::test_tokenizer;
using srl_test::text_temp_dir;

namespace {

std::vector<int> cat(std::initializer_list<std::vector<int>> parts) {
  std::vector<int> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<float> fill(size_t n, float v) { return std::vector<float>(n, v); }

std::vector<float> catw(std::initializer_list<std::vector<float>> parts) {
  std::vector<float> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Writes `text` to a temp file and expects load_conversations to fail at `line`.
void expect_line_error(const std::string& name, const std::string& text, int line, const std::string& needle) {
  auto path = (text_temp_dir() / name).string();
  srl::fs::write_file_atomic(path, text);
  try {
    load_conversations(path);
    ADD_FAILURE() << name << ": expected srl::Error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(e.where(), path + ":" + std::to_string(line)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(ChatFormat, RenderLayoutAndWeights) {
  const auto& tok = test_tokenizer();
  std::vector<Message> conv = {{"system", "Be brief."}, {"user", "Where is my order?"}, {"assistant", "It ships today."}};
  auto r = render(tok, conv);
  auto sys = tok.encode("Be brief."), usr = tok.encode("Where is my order?"), asst = tok.encode("It ships today.");
  auto want_ids = cat({{tok.bos_id()},
                       {tok.system_id()}, sys, {tok.end_id()},
                       {tok.user_id()}, usr, {tok.end_id()},
                       {tok.assistant_id()}, asst, {tok.end_id()}});
  EXPECT_EQ(r.ids, want_ids);
  auto want_w = catw({{0}, {0}, fill(sys.size(), 0), {0}, {0}, fill(usr.size(), 0), {0},
                      {0}, fill(asst.size(), 1), {1}});
  EXPECT_EQ(r.weights, want_w);
  // The final token is the assistant's <|end|>, and it is a target.
  EXPECT_EQ(r.ids.back(), tok.end_id());
  EXPECT_EQ(r.weights.back(), 1.0f);
}

TEST(ChatFormat, MultiTurnAndLastAssistantOnly) {
  const auto& tok = test_tokenizer();
  std::vector<Message> conv = {{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Refund?"}, {"assistant", "Yes."}};
  auto a1 = tok.encode("Hello!"), a2 = tok.encode("Yes.");
  auto all = render(tok, conv);
  ASSERT_EQ(all.ids.size(), all.weights.size());
  float total = 0;
  for (float w : all.weights) total += w;
  EXPECT_EQ(total, static_cast<float>(a1.size() + 1 + a2.size() + 1));

  auto last = render(tok, conv, RenderOptions{.last_assistant_only = true});
  EXPECT_EQ(last.ids, all.ids);
  total = 0;
  for (float w : last.weights) total += w;
  EXPECT_EQ(total, static_cast<float>(a2.size() + 1));
  // The weighted span is exactly the tail: last reply's content and its <|end|>.
  size_t n = last.ids.size();
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(last.weights[i], i >= n - a2.size() - 1 ? 1.0f : 0.0f) << i;
  // Every weighted token in the full render is assistant content or an assistant's <|end|>, never a marker.
  for (size_t i = 0; i < n; ++i)
    if (all.weights[i] == 1.0f) {
      EXPECT_NE(all.ids[i], tok.assistant_id());
      EXPECT_NE(all.ids[i], tok.user_id());
      EXPECT_NE(all.ids[i], tok.bos_id());
    }
}

TEST(ChatFormat, UserEndIsNotWeightedAndNoAssistantMeansNoTargets) {
  const auto& tok = test_tokenizer();
  auto r = render(tok, {{"user", "only a question"}});
  for (float w : r.weights) EXPECT_EQ(w, 0.0f);
  EXPECT_EQ(r.ids.back(), tok.end_id());
}

TEST(ChatFormat, RenderRejectsBadInput) {
  const auto& tok = test_tokenizer();
  EXPECT_THROW(render(tok, {}), srl::Error);
  try {
    render(tok, {{"user", "x"}, {"bot", "y"}});
    FAIL() << "expected srl::Error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("bot"), std::string::npos);
  }
  EXPECT_THROW(render_prompt(tok, {{"tool", "x"}}), srl::Error);
}

TEST(ChatFormat, RenderPromptEndsWithAssistantMarker) {
  const auto& tok = test_tokenizer();
  std::vector<Message> conv = {{"system", "Be brief."}, {"user", "Cancel my plan"}};
  auto p = render_prompt(tok, conv);
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.back(), tok.assistant_id());
  EXPECT_EQ(p.front(), tok.bos_id());
  auto r = render(tok, conv);
  EXPECT_EQ(std::vector<int>(p.begin(), p.end() - 1), r.ids);
  // A rendered training example continues exactly from its prompt.
  conv.push_back({"assistant", "Done."});
  auto full = render(tok, conv);
  ASSERT_GT(full.ids.size(), p.size());
  EXPECT_EQ(std::vector<int>(full.ids.begin(), full.ids.begin() + p.size()), p);
  EXPECT_EQ(render_prompt(tok, {}), (std::vector<int>{tok.bos_id(), tok.assistant_id()}));
}

TEST(ChatFormat, StopIds) {
  const auto& tok = test_tokenizer();
  EXPECT_EQ(stop_ids(tok), (std::vector<int>{tok.end_id(), tok.eos_id()}));
}

TEST(ChatFormat, ParseReply) {
  const auto& tok = test_tokenizer();
  auto body = tok.encode("Your refund is on its way.");
  auto done = parse_reply(tok, cat({body, {tok.end_id()}, tok.encode("junk after stop")}));
  EXPECT_TRUE(done.finished);
  EXPECT_EQ(done.message.role, "assistant");
  EXPECT_EQ(done.message.content, "Your refund is on its way.");

  auto eos = parse_reply(tok, cat({body, {tok.eos_id()}}));
  EXPECT_TRUE(eos.finished);
  EXPECT_EQ(eos.message.content, "Your refund is on its way.");

  auto cut = parse_reply(tok, body);
  EXPECT_FALSE(cut.finished);
  EXPECT_EQ(cut.message.content, "Your refund is on its way.");

  // "<|end|>" typed as text is content, not a stop.
  auto text_end = parse_reply(tok, tok.encode("a <|end|> b"));
  EXPECT_FALSE(text_end.finished);
  EXPECT_EQ(text_end.message.content, "a <|end|> b");

  auto empty = parse_reply(tok, {tok.end_id()});
  EXPECT_TRUE(empty.finished);
  EXPECT_EQ(empty.message.content, "");
}

TEST(ChatFormat, LoadConversations) {
  auto path = (text_temp_dir() / "ok.jsonl").string();
  srl::fs::write_file_atomic(
      path,
      "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\\nthere\"}]}\n"
      "\n"
      "   \n"
      "{\"id\":7,\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"q\"},"
      "{\"role\":\"assistant\",\"content\":\"a\"}]}\r\n");
  auto convs = load_conversations(path);
  ASSERT_EQ(convs.size(), 2u);
  EXPECT_EQ(convs[0], (std::vector<Message>{{"user", "hi"}, {"assistant", "hello\nthere"}}));
  EXPECT_EQ(convs[1].size(), 3u);
  EXPECT_EQ(convs[1][0], (Message{"system", "s"}));
  EXPECT_EQ(convs[1][2], (Message{"assistant", "a"}));
}

TEST(ChatFormat, LoadConversationsErrorsNameFileAndLine) {
  const std::string good = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n";
  expect_line_error("bad_json.jsonl", good + "\n{\"messages\": [\n", 3, "invalid JSON");
  expect_line_error("no_messages.jsonl", good + "{\"msgs\":[]}\n", 2, "missing \"messages\"");
  expect_line_error("not_array.jsonl", "{\"messages\":\"hi\"}\n", 1, "must be an array");
  expect_line_error("empty_messages.jsonl", "{\"messages\":[]}\n", 1, "empty");
  expect_line_error("not_object.jsonl", "[1,2]\n", 1, "JSON object");
  expect_line_error("bad_role.jsonl", good + good +
                    "{\"messages\":[{\"role\":\"admin\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n",
                    3, "bad role \"admin\"");
  expect_line_error("num_content.jsonl",
                    "{\"messages\":[{\"role\":\"user\",\"content\":5},{\"role\":\"assistant\",\"content\":\"a\"}]}\n", 1,
                    "messages[0].content must be a string");
  expect_line_error("no_content.jsonl", "{\"messages\":[{\"role\":\"user\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n",
                    1, "messages[0].content must be a string");
  expect_line_error("no_assistant.jsonl", good + "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}\n", 2,
                    "no assistant message");
  expect_line_error("msg_not_object.jsonl", "{\"messages\":[\"hi\"]}\n", 1, "must be an object");
  // Blank content is malformed here exactly as in preference pairs and prompts (one parser).
  expect_line_error("blank_content.jsonl",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\" \"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n", 1,
                    "messages[0].content is empty");
  expect_line_error("bad_utf8.jsonl", good + "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}\n", 2,
                    "invalid_utf8");

  auto empty = (text_temp_dir() / "empty.jsonl").string();
  srl::fs::write_file_atomic(empty, "\n\n");
  EXPECT_THROW(load_conversations(empty), srl::Error);
  try {
    load_conversations("/nonexistent/convs.jsonl");
    FAIL();
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/convs.jsonl"), std::string::npos);
  }
}

// The shipped demo corpus loads, renders with targets, and round-trips through the tokenizer.
TEST(ChatFormat, DemoCorpusLoadsAndRenders) {
  const auto& tok = test_tokenizer();
  for (const char* name : {"support_sft.jsonl", "support_sft_val.jsonl"}) {
    auto convs = load_conversations(std::string(SRL_SOURCE_DIR) + "/data/demo/" + name);
    EXPECT_GE(convs.size(), 30u) << name;
    for (const auto& conv : convs) {
      auto r = render(tok, conv);
      ASSERT_EQ(r.ids.size(), r.weights.size());
      float total = 0;
      for (float w : r.weights) total += w;
      EXPECT_GT(total, 1.0f);
      EXPECT_EQ(conv.back().role, "assistant");
      EXPECT_EQ(tok.decode(tok.encode(conv.back().content)), conv.back().content);
    }
  }
}
