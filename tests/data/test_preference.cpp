// Preference schema: every validator rule on a crafted line, totals and counts, load_pairs in both
// modes, round trip of unknown keys, UTF-8 edge cases, and files that are not JSONL at all.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/test_util.hpp"
#include "data/preference.hpp"

using namespace srl::data;
using nlohmann::json;
using srl_test::error_of;
using srl_test::fresh_dir;

namespace {

json good(const std::string& id = "") {
  json j = {{"prompt", "Where is my order?"},
            {"response_a", "It ships tomorrow; here is the tracking link."},
            {"response_b", "No idea."},
            {"winner", "a"},
            {"tags", {{"intent", "track_order"}, {"difficulty", "easy"}, {"segment", "smb"}}}};
  if (!id.empty()) j["id"] = id;
  return j;
}

std::string write(const std::string& name, const std::string& text) {
  auto path = (fresh_dir(name) / (name + ".jsonl")).string();
  srl::fs::write_file_atomic(path, text);
  return path;
}

// A file whose line 1 is valid and line 2 is `bad`; returns the report.
ValidationReport validate_second_line(const std::string& name, const std::string& bad,
                                      const ValidationLimits& limits = {}) {
  return validate_file(write(name, good("first").dump() + "\n" + bad + "\n"), limits);
}

struct Rule {
  const char* name;
  std::string line;
  const char* reason;
  const char* needle;  // in the message
};

std::vector<Rule> rules() {
  auto with = [](const char* key, json v) {
    json j = good();
    j[key] = std::move(v);
    return j.dump();
  };
  auto without = [](const char* key) {
    json j = good();
    j.erase(key);
    return j.dump();
  };
  auto tags_with = [](const char* key, json v) {
    json j = good();
    if (v.is_null()) j["tags"].erase(key);
    else j["tags"][key] = std::move(v);
    return j.dump();
  };
  std::string deep = "{\"x\":" + std::string(200, '[') + std::string(200, ']') + "}";
  std::string bad_utf8 = good().dump();
  bad_utf8.replace(bad_utf8.find("No idea."), 8, "No \xff idea");
  std::string overlong = good().dump();
  overlong.replace(overlong.find("No idea."), 8, "No \xc0\xaf idea");
  json both = good();
  both["messages"] = json::array({{{"role", "user"}, {"content", "hi"}}});
  json neither = good();
  neither.erase("prompt");
  auto msgs = [](json m) {
    json j = good();
    j.erase("prompt");
    j["messages"] = std::move(m);
    return j.dump();
  };
  return {
      {"invalid_json", R"({"prompt": "x", "response_a": )", reason::kInvalidJson, "invalid JSON"},
      {"deep_nesting", deep, reason::kInvalidJson, "nesting"},
      {"invalid_utf8", bad_utf8, reason::kInvalidUtf8, "invalid UTF-8"},
      {"overlong_utf8", overlong, reason::kInvalidUtf8, "invalid UTF-8"},
      {"not_object", "[1, 2, 3]", reason::kNotObject, "array"},
      {"missing_response_b", without("response_b"), reason::kMissingField, "\"response_b\" is missing"},
      {"missing_winner", without("winner"), reason::kMissingField, "\"winner\" is missing"},
      {"response_a_number", with("response_a", 5), reason::kWrongType, "\"response_a\" must be a string"},
      {"prompt_number", with("prompt", 1), reason::kWrongType, "\"prompt\" must be a string"},
      {"winner_number", with("winner", 1), reason::kWrongType, "\"winner\" must be a string"},
      {"id_number", with("id", 7), reason::kWrongType, "\"id\" must be a string"},
      {"both_prompt_and_messages", both.dump(), reason::kPromptXorMessages, "both"},
      {"neither_prompt_nor_messages", neither.dump(), reason::kPromptXorMessages, "needs"},
      {"empty_prompt", with("prompt", " \t"), reason::kEmptyPrompt, "\"prompt\" is empty"},
      {"messages_not_array", msgs("hi"), reason::kWrongType, "\"messages\" must be an array"},
      {"messages_empty", msgs(json::array()), reason::kBadMessages, "is empty"},
      {"message_not_object", msgs(json::array({"hi"})), reason::kBadMessages, "messages[0] must be an object"},
      {"message_content_missing", msgs(json::array({{{"role", "user"}}})), reason::kBadMessages, ".content"},
      {"bad_role", msgs(json::array({{{"role", "bot"}, {"content", "x"}}, {{"role", "user"}, {"content", "y"}}})),
       reason::kBadRole, "bad role \"bot\""},
      {"last_not_user", msgs(json::array({{{"role", "user"}, {"content", "x"}}, {{"role", "assistant"}, {"content", "y"}}})),
       reason::kBadRole, "last message must be a user turn"},
      {"bad_winner", with("winner", "c"), reason::kBadWinner, "winner \"c\""},
      {"empty_response", with("response_a", " \n\t "), reason::kEmptyResponse, "response_a is empty"},
      {"identical", with("response_b", "It ships tomorrow; here is the tracking link.  "), reason::kIdenticalResponses,
       "identical"},
      {"too_long", with("response_b", std::string(20001, 'x')), reason::kTooLong, "response_b is 20001 bytes (limit 20000)"},
      {"duplicate_id", with("id", "first"), reason::kDuplicateId, "duplicate id \"first\" (first on line 1)"},
      {"tags_missing", without("tags"), reason::kMissingField, "\"tags\" is missing"},
      {"tags_not_object", with("tags", "smb"), reason::kWrongType, "\"tags\" must be an object"},
      {"intent_missing", tags_with("intent", nullptr), reason::kMissingField, "\"tags.intent\" is missing"},
      {"intent_empty", tags_with("intent", ""), reason::kMissingField, "\"tags.intent\" is empty"},
      {"difficulty_number", tags_with("difficulty", 3), reason::kWrongType, "\"tags.difficulty\" must be a string"},
      {"segment_missing", tags_with("segment", nullptr), reason::kMissingField, "\"tags.segment\" is missing"},
      {"segment_bad", tags_with("segment", "midmarket"), reason::kBadSegment, "tags.segment \"midmarket\""},
  };
}

}  // namespace

TEST(Preference, GoodRecordHasNoIssues) {
  EXPECT_TRUE(check_pair(good("x")).empty());
  json m = good();
  m.erase("prompt");
  m["messages"] = json::array({{{"role", "system"}, {"content", "Be brief."}},
                               {{"role", "user"}, {"content", "Hi"}},
                               {{"role", "assistant"}, {"content", "Hello!"}},
                               {{"role", "user"}, {"content", "Where is my order?"}}});
  m["winner"] = "tie";
  m["rationale"] = nullptr;  // null optional fields count as absent
  EXPECT_TRUE(check_pair(m).empty());
  auto r = validate_file(write("good", good("1").dump() + "\n\n" + m.dump() + "\r\n"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.lines, 2);
  EXPECT_EQ(r.valid, 2);
  EXPECT_EQ(r.invalid, 0);
}

TEST(Preference, EveryRuleIsReportedOnItsLine) {
  for (const auto& rule : rules()) {
    SCOPED_TRACE(rule.name);
    auto r = validate_second_line(rule.name, rule.line);
    EXPECT_EQ(r.lines, 2);
    EXPECT_EQ(r.valid, 1);
    EXPECT_EQ(r.invalid, 1);
    ASSERT_EQ(r.problems.size(), 1u) << r.problems[0].message << " / " << r.problems.back().message;
    EXPECT_EQ(r.problems[0].line, 2);
    EXPECT_EQ(r.problems[0].reason, rule.reason);
    EXPECT_NE(r.problems[0].message.find(rule.needle), std::string::npos) << r.problems[0].message;
    EXPECT_EQ(r.counts.at(rule.reason), 1);
    // The loader reports the same problem as FILE:LINE.
    int code = 0;
    auto path = r.path;
    auto what = error_of([&] { load_pairs(path); }, &code);
    EXPECT_EQ(code, 2);
    EXPECT_EQ(what.rfind(path + ":2: " + rule.reason + ": ", 0), 0u) << what;
  }
}

TEST(Preference, LengthLimitIsConfigurable) {
  ValidationLimits lim;
  lim.max_text_bytes = 10;
  auto r = validate_second_line("limit", good().dump(), lim);
  // Both lines: the prompt (18 bytes) and response_a are over 10 bytes, response_b (8) is not.
  EXPECT_EQ(r.invalid, 2);
  EXPECT_EQ(r.counts.at(reason::kTooLong), 4);
  EXPECT_EQ(r.problems[0].message, "prompt is 18 bytes (limit 10)");
}

TEST(Preference, SeveralProblemsOnOneLineAndTotals) {
  json multi = good();
  multi["winner"] = "x";
  multi["response_b"] = "";
  multi["tags"]["segment"] = "huge";
  std::string text = good("1").dump() + "\n" + multi.dump() + "\nnot json\n" + good("2").dump() + "\n" +
                     good("1").dump() + "\n";
  auto r = validate_file(write("multi", text));
  EXPECT_EQ(r.lines, 5);
  EXPECT_EQ(r.valid, 2);
  EXPECT_EQ(r.invalid, 3);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.counts.at(reason::kBadWinner), 1);
  EXPECT_EQ(r.counts.at(reason::kEmptyResponse), 1);
  EXPECT_EQ(r.counts.at(reason::kBadSegment), 1);
  EXPECT_EQ(r.counts.at(reason::kInvalidJson), 1);
  EXPECT_EQ(r.counts.at(reason::kDuplicateId), 1);
  ASSERT_EQ(r.problems.size(), 5u);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[3].line, 3);
  EXPECT_EQ(r.problems[4].line, 5);
}

TEST(Preference, SkipModeCountsAndKeepsGoodLines) {
  json bad_winner = good("3");
  bad_winner["winner"] = "both";
  std::string text = good("1").dump() + "\n" + "{oops\n" + bad_winner.dump() + "\n" + good("2").dump() + "\n" +
                     good("1").dump() + "\n";
  auto path = write("skip", text);
  LoadStats st;
  auto pairs = load_pairs(path, OnInvalid::Skip, &st);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(*pairs[0].id, "1");
  EXPECT_EQ(*pairs[1].id, "2");
  EXPECT_EQ(st.lines, 5);
  EXPECT_EQ(st.loaded, 2);
  EXPECT_EQ(st.skipped, 3);
  EXPECT_EQ(st.skipped_by_reason.at(reason::kInvalidJson), 1);
  EXPECT_EQ(st.skipped_by_reason.at(reason::kBadWinner), 1);
  EXPECT_EQ(st.skipped_by_reason.at(reason::kDuplicateId), 1);
  // Error mode stops at the first bad line.
  auto what = error_of([&] { load_pairs(path, OnInvalid::Error); });
  EXPECT_EQ(what.rfind(path + ":2: invalid_json", 0), 0u) << what;
}

TEST(Preference, UnknownKeysSurviveRoundTrip) {
  json j = good("rt-1");
  j["source"] = "synthetic";
  j["annotator"] = "panel-3";
  j["rationale"] = "A answers the question.";
  j["tags"]["persona"] = {{"mood", "angry"}, {"tenure_years", 4}};
  j["model_a"] = "sft-v2";
  j["scores"] = {{"a", 0.8}, {"b", nullptr}, {"nested", json::array({1, "two", json::object()})}};
  json m = good("rt-2");
  m.erase("prompt");
  m["messages"] = json::array({{{"role", "user"}, {"content", "Hi"}},
                               {{"role", "assistant"}, {"content", "Hello"}},
                               {{"role", "user"}, {"content", "Refund please — ünïcödé 🙂"}}});
  m["winner"] = "b";
  m["x_extra"] = true;
  auto dir = fresh_dir("rt");
  auto in = (dir / "in.jsonl").string(), out = (dir / "out.jsonl").string();
  srl::fs::write_file_atomic(in, j.dump() + "\n" + m.dump() + "\n");
  auto pairs = load_pairs(in);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].extras.at("model_a"), "sft-v2");
  EXPECT_EQ(pairs[0].tags.at("persona").at("mood"), "angry");
  EXPECT_FALSE(pairs[0].extras.contains("prompt"));
  write_pairs(out, pairs);
  const std::string written = srl::fs::read_file(out);
  auto nl = written.find('\n');
  EXPECT_EQ(json::parse(written.substr(0, nl)), j);
  EXPECT_EQ(json::parse(written.substr(nl + 1)), m);
  EXPECT_TRUE(validate_file(out).ok());
  // Loading what was written gives the same pairs again.
  auto again = load_pairs(out);
  EXPECT_EQ(again[1].to_json(), pairs[1].to_json());
}

TEST(Preference, ConversationAndFromJson) {
  auto p = PreferencePair::from_json(good());
  ASSERT_TRUE(p.prompt.has_value());
  auto conv = p.conversation();
  ASSERT_EQ(conv.size(), 1u);
  EXPECT_EQ(conv[0], (srl::text::Message{"user", "Where is my order?"}));
  EXPECT_EQ(p.chosen(), p.response_a);
  EXPECT_EQ(p.rejected(), p.response_b);
  json m = good();
  m.erase("prompt");
  m["messages"] = json::array({{{"role", "user"}, {"content", "A"}}, {{"role", "assistant"}, {"content", "B"}},
                               {{"role", "user"}, {"content", "C"}}});
  m["winner"] = "b";
  auto q = PreferencePair::from_json(m);
  EXPECT_FALSE(q.prompt.has_value());
  ASSERT_EQ(q.conversation().size(), 3u);
  EXPECT_EQ(q.conversation()[1], (srl::text::Message{"assistant", "B"}));
  EXPECT_EQ(q.chosen(), q.response_b);
  EXPECT_EQ(q.to_json(), m);
  json bad = good();
  bad["winner"] = "z";
  EXPECT_NE(error_of([&] { PreferencePair::from_json(bad); }).find("bad_winner"), std::string::npos);
}

TEST(Preference, Utf8Checker) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x99\x82"));  // é, 中, 🙂
  size_t at = 99;
  EXPECT_FALSE(is_valid_utf8("ab\x80", &at));
  EXPECT_EQ(at, 2u);
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));          // overlong 3-byte
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));          // UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));      // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(Preference, NeverCrashesOnGarbage) {
  std::mt19937 rng(7);
  std::string bytes;
  for (int i = 0; i < 20000; ++i) bytes += static_cast<char>(rng() & 0xFF);
  bytes += "\n{\"a\":\"\\ud800\"}\n\"just a string\"\n123\nnull\n{}\n";
  auto path = write("garbage", bytes);
  ValidationReport r;
  ASSERT_NO_THROW(r = validate_file(path));
  EXPECT_GT(r.lines, 0);
  EXPECT_EQ(r.valid, 0);
  EXPECT_EQ(r.invalid, r.lines);
  LoadStats st;
  std::vector<PreferencePair> pairs;
  ASSERT_NO_THROW(pairs = load_pairs(path, OnInvalid::Skip, &st));
  EXPECT_TRUE(pairs.empty());
  EXPECT_EQ(st.skipped, r.lines);
  int code = 0;
  error_of([&] { load_pairs(path); }, &code);
  EXPECT_EQ(code, 2);
}

TEST(Preference, UnreadableAndEmptyFiles) {
  auto dir = fresh_dir("files");
  int code = 0;
  auto what = error_of([&] { validate_file((dir / "missing.jsonl").string()); }, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(what.find("missing.jsonl"), std::string::npos);
  what = error_of([&] { validate_file(dir.string()); }, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(what.find("directory"), std::string::npos);
  auto empty = write("empty", "\n  \n");
  auto r = validate_file(empty);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.lines, 0);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].reason, reason::kEmptyFile);
  EXPECT_NE(error_of([&] { load_pairs(empty); }).find("no preference pairs"), std::string::npos);
}
