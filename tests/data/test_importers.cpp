// Importers (hh, trl, bitext CSV), the RFC 4180 parser, randomized positions, TRL export, and the real
// Bitext sample when ../shared is present.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/test_util.hpp"
#include "data/importers.hpp"

using namespace srl::data;
using nlohmann::json;
using srl_test::error_of;
using srl_test::fresh_dir;

namespace {

std::string fixture(const std::string& name) { return std::string(SRL_SOURCE_DIR) + "/tests/data/fixtures/" + name; }

std::string write(const std::string& name, const std::string& text) {
  auto path = (fresh_dir(name) / name).string();
  srl::fs::write_file_atomic(path, text);
  return path;
}

std::string hh_line(const std::string& chosen, const std::string& rejected) {
  return json{{"chosen", chosen}, {"rejected", rejected}}.dump() + "\n";
}

// Expects importing `text` (one line) to fail on line 1 with `reason`.
void expect_hh_error(const std::string& name, const std::string& text, const std::string& reason) {
  SCOPED_TRACE(name);
  auto path = write(name + ".jsonl", text);
  int code = 0;
  auto what = error_of([&] { import_hh(path); }, &code);
  EXPECT_EQ(code, 2);
  EXPECT_EQ(what.rfind(path + ":1: " + reason, 0), 0u) << what;
}

}  // namespace

TEST(HhImport, TranscriptTurns) {
  auto t = parse_hh_transcript("\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant:");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0], (srl::text::Message{"user", "Hi there"}));
  EXPECT_EQ(t[1], (srl::text::Message{"assistant", "Hello!"}));
  EXPECT_EQ(t[2], (srl::text::Message{"user", "Bye"}));
  EXPECT_EQ(t[3], (srl::text::Message{"assistant", ""}));
  EXPECT_TRUE(parse_hh_transcript("no markers at all").empty());
  EXPECT_NE(error_of([] { parse_hh_transcript("preamble\n\nHuman: x\n\nAssistant: y"); }).find("before the first"),
            std::string::npos);
}

TEST(HhImport, FixtureSingleAndMultiTurn) {
  ImportStats st;
  auto pairs = import_hh(fixture("hh_small.jsonl"), {}, &st);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(st.lines, 3);
  EXPECT_EQ(st.imported, 3);
  EXPECT_EQ(st.skipped, 0);
  // Single turn -> string prompt.
  ASSERT_TRUE(pairs[0].prompt.has_value());
  EXPECT_EQ(*pairs[0].prompt, "Where is my order #1234?");
  EXPECT_EQ(pairs[0].chosen(), "Let me check: it shipped yesterday and arrives Friday.");
  EXPECT_EQ(pairs[0].rejected(), "No idea.");
  EXPECT_NE(pairs[0].winner, Winner::Tie);
  // Multi turn -> messages ending with the user's turn; the final replies differ.
  EXPECT_FALSE(pairs[1].prompt.has_value());
  ASSERT_EQ(pairs[1].messages.size(), 3u);
  EXPECT_EQ(pairs[1].messages[1], (srl::text::Message{"assistant", "Sorry about that. Which card?"}));
  EXPECT_EQ(pairs[1].messages[2], (srl::text::Message{"user", "The Visa ending 4242."}));
  EXPECT_EQ(pairs[1].chosen(), "I have refunded the duplicate charge; it shows within 5 days.");
  EXPECT_EQ(pairs[1].rejected(), "Please call the bank.");
  // Line 4 (after a blank line): other keys kept, defaults filled, ids name the line.
  EXPECT_EQ(pairs[2].extras.at("split"), "train");
  EXPECT_EQ(*pairs[2].id, "hh:hh_small:4");
  EXPECT_EQ(*pairs[2].source, "hh");
  EXPECT_EQ(pairs[2].tags.at("segment"), "smb");
  // The output validates.
  auto out = (fresh_dir("hhout") / "out.jsonl").string();
  write_pairs(out, pairs);
  auto r = validate_file(out);
  EXPECT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems[0].message);
  EXPECT_EQ(r.valid, 3);
}

TEST(HhImport, MalformedLinesNameFileAndLine) {
  expect_hh_error("notjson", "{\"chosen\": \"\\n\\nHuman: x\n", "invalid_json");
  expect_hh_error("missing", json{{"chosen", "\n\nHuman: a\n\nAssistant: b"}}.dump() + "\n", "missing_field");
  expect_hh_error("mistyped", json{{"chosen", "\n\nHuman: a\n\nAssistant: b"}, {"rejected", 3}}.dump() + "\n",
                  "wrong_type");
  expect_hh_error("no_assistant", hh_line("\n\nHuman: hello?", "\n\nHuman: hello?"), "no_assistant_turn");
  expect_hh_error("prefix", hh_line("\n\nHuman: reset password\n\nAssistant: ok", "\n\nHuman: reset login\n\nAssistant: no"),
                  "prefix_mismatch");
  expect_hh_error("ends_human", hh_line("\n\nHuman: a\n\nAssistant: b\n\nHuman: c", "\n\nHuman: a\n\nAssistant: d"),
                  "bad_transcript");
  expect_hh_error("same", hh_line("\n\nHuman: a\n\nAssistant: same", "\n\nHuman: a\n\nAssistant: same"),
                  "identical_responses");
  expect_hh_error("binary", std::string("\xff\xfe\x00garbage\n", 11), "invalid_utf8");
}

TEST(HhImport, SkipModeCountsEachReason) {
  ImportOptions opt;
  opt.on_invalid = OnInvalid::Skip;
  ImportStats st;
  auto pairs = import_hh(fixture("hh_bad.jsonl"), opt, &st);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(*pairs[0].id, "hh:hh_bad:1");
  EXPECT_EQ(*pairs[1].id, "hh:hh_bad:6");
  EXPECT_EQ(st.lines, 6);
  EXPECT_EQ(st.imported, 2);
  EXPECT_EQ(st.skipped, 4);
  EXPECT_EQ(st.skipped_by_reason.at("invalid_json"), 1);
  EXPECT_EQ(st.skipped_by_reason.at("missing_field"), 1);
  EXPECT_EQ(st.skipped_by_reason.at("no_assistant_turn"), 1);
  EXPECT_EQ(st.skipped_by_reason.at("prefix_mismatch"), 1);
  // Error mode stops at line 2.
  auto what = error_of([] { import_hh(fixture("hh_bad.jsonl")); });
  EXPECT_NE(what.find("hh_bad.jsonl:2: invalid_json"), std::string::npos) << what;
}

TEST(HhImport, PositionIsSeededDeterministicAndBalanced) {
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += hh_line("\n\nHuman: q" + std::to_string(i) + "\n\nAssistant: good", "\n\nHuman: q" + std::to_string(i) +
                                                                                   "\n\nAssistant: bad");
  auto path = write("many.jsonl", text);
  auto winners = [&](uint64_t seed) {
    ImportOptions opt;
    opt.seed = seed;
    ImportStats st;
    std::string w;
    for (const auto& p : import_hh(path, opt, &st)) {
      EXPECT_EQ(p.chosen(), "good");
      EXPECT_EQ(p.rejected(), "bad");
      w += winner_name(p.winner);
    }
    EXPECT_EQ(st.chosen_a, static_cast<int64_t>(std::count(w.begin(), w.end(), 'a')));
    return w;
  };
  const std::string s1 = winners(1), s1b = winners(1), s2 = winners(2);
  EXPECT_EQ(s1, s1b);
  EXPECT_NE(s1, s2);
  for (const auto& s : {s1, s2}) {
    auto a = std::count(s.begin(), s.end(), 'a');
    EXPECT_GT(a, 420);
    EXPECT_LT(a, 580);
  }
  EXPECT_EQ(chosen_first(5, 17), chosen_first(5, 17));
}

TEST(HhImport, TransformReachesEveryTextField) {
  ImportOptions opt;
  opt.transform = [](std::string_view s) {
    std::string out(s);
    for (size_t p; (p = out.find("4242")) != std::string::npos;) out.replace(p, 4, "[CARD]");
    return "<" + out + ">";
  };
  auto pairs = import_hh(fixture("hh_small.jsonl"), opt);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(*pairs[0].prompt, "<Where is my order #1234?>");
  EXPECT_EQ(pairs[0].chosen(), "<Let me check: it shipped yesterday and arrives Friday.>");
  EXPECT_EQ(pairs[0].rejected(), "<No idea.>");
  for (const auto& m : pairs[1].messages) EXPECT_EQ(m.content.front(), '<') << m.content;
  EXPECT_EQ(pairs[1].messages[2].content, "<The Visa ending [CARD].>");
}

TEST(TrlImport, StringConversationalAndImplicitPrompt) {
  ImportStats st;
  auto pairs = import_trl(fixture("trl_small.jsonl"), {}, &st);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(*pairs[0].prompt, "How do I reset my password?");
  EXPECT_EQ(pairs[0].chosen(), "Click 'Forgot password' on the sign-in page.");
  ASSERT_EQ(pairs[1].messages.size(), 2u);
  EXPECT_EQ(pairs[1].messages[0].role, "system");
  EXPECT_EQ(pairs[1].chosen(), "Sorry! I've sent a replacement; no need to return the item.");
  EXPECT_EQ(pairs[1].rejected(), "Not our problem.");
  EXPECT_EQ(pairs[1].extras.at("score_chosen"), 9.0);
  EXPECT_EQ(*pairs[2].prompt, "Cancel my subscription");
  EXPECT_EQ(pairs[2].rejected(), "Why?");
  EXPECT_EQ(*pairs[2].source, "trl");
}

TEST(TrlImport, BadLines) {
  auto check = [](const std::string& name, const json& line, const std::string& reason) {
    SCOPED_TRACE(name);
    auto path = write(name + ".jsonl", line.dump() + "\n");
    auto what = error_of([&] { import_trl(path); });
    EXPECT_EQ(what.rfind(path + ":1: " + reason, 0), 0u) << what;
  };
  json two = json::array({{{"role", "assistant"}, {"content", "a"}}, {{"role", "assistant"}, {"content", "b"}}});
  check("two_replies", {{"prompt", "q"}, {"chosen", two}, {"rejected", "x"}}, "bad_messages");
  check("prompt_number", {{"prompt", 3}, {"chosen", "a"}, {"rejected", "b"}}, "wrong_type");
  check("no_prompt_strings", {{"chosen", "a"}, {"rejected", "b"}}, "missing_field");
  check("prompt_ends_assistant",
        {{"prompt", json::array({{{"role", "user"}, {"content", "q"}}, {{"role", "assistant"}, {"content", "a"}}})},
         {"chosen", "x"}, {"rejected", "y"}},
        "bad_role");
  check("implicit_prefix_differs",
        {{"chosen", json::array({{{"role", "user"}, {"content", "q1"}}, {{"role", "assistant"}, {"content", "a"}}})},
         {"rejected", json::array({{{"role", "user"}, {"content", "q2"}}, {{"role", "assistant"}, {"content", "b"}}})}},
        "prefix_mismatch");
}

TEST(TrlExport, RoundTripAndTiesSkipped) {
  auto pairs = import_trl(fixture("trl_small.jsonl"));
  ExportStats st;
  auto rows = to_trl(pairs, &st);
  EXPECT_EQ(st.exported, 3);
  EXPECT_EQ(st.ties_skipped, 0);
  ASSERT_EQ(rows.size(), 3u);
  // String pairs export as strings, message pairs as lists; the implicit-prompt line comes back explicit.
  auto lines = srl::fs::read_file(fixture("trl_small.jsonl"));
  json first = json::parse(lines.substr(0, lines.find('\n')));
  EXPECT_EQ(rows[0], first);
  json second = json::parse(lines.substr(lines.find('\n') + 1, lines.find('\n', lines.find('\n') + 1) - lines.find('\n') - 1));
  second.erase("score_chosen");
  EXPECT_EQ(rows[1], second);
  EXPECT_EQ(rows[2], (json{{"prompt", "Cancel my subscription"},
                           {"chosen", "Done - it ends at the close of this billing period."},
                           {"rejected", "Why?"}}));
  // Ties are skipped and counted; a pair where b won exports b as chosen.
  pairs[0].winner = Winner::Tie;
  std::swap(pairs[1].response_a, pairs[1].response_b);
  pairs[1].winner = pairs[1].winner == Winner::A ? Winner::B : Winner::A;
  rows = to_trl(pairs, &st);
  EXPECT_EQ(st.exported, 2);
  EXPECT_EQ(st.ties_skipped, 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], second);
}

TEST(Csv, QuotesCommasNewlinesAndLineNumbers) {
  auto recs = parse_csv("\xEF\xBB\xBF" "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"multi\nline\r\nfield\",\n3,,\"\"\n4");
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"2", "multi\nline\r\nfield", ""}));
  EXPECT_EQ(recs[3].fields, (std::vector<std::string>{"3", "", ""}));
  EXPECT_EQ(recs[4].fields, (std::vector<std::string>{"4"}));
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(recs[2].line, 3);
  EXPECT_EQ(recs[3].line, 6);
  EXPECT_EQ(recs[4].line, 7);
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,\"open\nstill open", "f.csv"); }), "f.csv:2: unterminated quoted field");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,x\"y\n", "f.csv"); }), "f.csv:2: quote inside an unquoted field");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,\"x\"y\n", "f.csv"); }), "f.csv:2: unexpected character after a closing quote");
}

TEST(BitextImport, SmallFixture) {
  ImportStats st;
  auto ex = import_bitext(fixture("bitext_small.csv"), {}, &st);
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_EQ(st.lines, 3);
  EXPECT_EQ(ex[0].messages[0], (srl::text::Message{"user", "where is my order, please?"}));
  EXPECT_EQ(ex[0].messages[1],
            (srl::text::Message{"assistant", "Your order \"A-1\" is on its way.\r\nTrack it at {{Order Tracking URL}}, any time."}));
  EXPECT_EQ(ex[0].tags, (json{{"intent", "track_order"}, {"category", "ORDER"}}));
  EXPECT_EQ(ex[2].messages[0].content, "I need a \"refund\"");
  EXPECT_EQ(ex[2].messages[1].content, "Sure,\nhere is how:\n1. Open {{Orders}}\n2. Click \"Refund\"");
  EXPECT_EQ(ex[2].to_json(),
            (json{{"messages", json::array({{{"role", "user"}, {"content", "I need a \"refund\""}},
                                            {{"role", "assistant"}, {"content", ex[2].messages[1].content}}})},
                  {"tags", {{"intent", "get_refund"}, {"category", "REFUND"}}}}));
  EXPECT_EQ(ex[1].prompt_json(), (json{{"prompt", "cancel order"}, {"tags", {{"intent", "cancel_order"}, {"category", "ORDER"}}}}));
}

TEST(BitextImport, BadFiles) {
  auto no_col = write("nocol.csv", "instruction,intent,response\nhi,greet,hello\n");
  EXPECT_NE(error_of([&] { import_bitext(no_col); }).find("nocol.csv:1: missing column \"category\""), std::string::npos);
  auto short_row = write("short.csv", "instruction,intent,category,response\nhi,greet,X,hello\n\"a\nb\",x\n");
  EXPECT_NE(error_of([&] { import_bitext(short_row); }).find("short.csv:3: bad_row: has 2 fields"), std::string::npos);
  ImportOptions skip;
  skip.on_invalid = OnInvalid::Skip;
  ImportStats st;
  auto ex = import_bitext(short_row, skip, &st);
  EXPECT_EQ(ex.size(), 1u);
  EXPECT_EQ(st.skipped, 1);
  auto empty_resp = write("empty.csv", "instruction,intent,category,response\nhi,greet,X,\"  \"\n");
  EXPECT_NE(error_of([&] { import_bitext(empty_resp); }).find("empty.csv:2: empty_response"), std::string::npos);
  auto binary = write("bin.csv", std::string("instruction,intent,category,response\n\xff\xfe,a,b,c\n"));
  EXPECT_NE(error_of([&] { import_bitext(binary); }).find("bin.csv:2: invalid_utf8"), std::string::npos);
}

TEST(BitextImport, RealSample) {
  const std::string path =
      std::string(SRL_SHARED_DIR) + "/data/bitext/Bitext_Sample_Customer_Support_Training_Dataset.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "Bitext sample not found at " << path;
  ImportStats st;
  auto ex = import_bitext(path, {}, &st);
  EXPECT_EQ(ex.size(), 4514u);
  EXPECT_EQ(st.skipped, 0);
  std::set<std::string> intents, categories;
  for (const auto& e : ex) {
    intents.insert(e.tags.at("intent").get<std::string>());
    categories.insert(e.tags.at("category").get<std::string>());
    ASSERT_EQ(e.messages.size(), 2u);
    ASSERT_FALSE(e.messages[1].content.empty());
  }
  EXPECT_EQ(intents.size(), 27u);
  EXPECT_EQ(categories.size(), 11u);
  EXPECT_EQ(ex[0].messages[0].content, "how can I cancel purchase 113542617735902?");
  EXPECT_EQ(ex[0].tags.at("intent"), "cancel_order");
}
