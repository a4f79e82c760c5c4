// Labelled ticket sets (data/ticket_set.hpp): the committed hand-written set (size, coverage of every
// intent, risk and handling, and no 6-word run shared with the world's templates, phrasings or fragments:
// it was written independently of them), one clear FILE:LINE error per kind of bad line, and the Bitext
// mapping (skipped when ../shared/data/bitext is absent).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "data/customer_speech.hpp"
#include "data/support_intents.hpp"
#include "data/ticket_set.hpp"

using namespace srl;
using namespace srl::data;
namespace stdfs = std::filesystem;

namespace {

const std::string kSet = std::string(SRL_SOURCE_DIR) + "/data/eval_ood";
const std::string kBitext =
    std::string(SRL_SHARED_DIR) + "/data/bitext/Bitext_Sample_Customer_Support_Training_Dataset.csv";

// Runs of 6 lowercase words (letters, digits, apostrophes); {slots} break a run.
std::set<std::string> shingles(const std::string& text) {
  std::set<std::string> out;
  auto flush_run = [&](std::vector<std::string>& w) {
    for (size_t i = 0; i + 6 <= w.size(); ++i) {
      std::string s;
      for (size_t k = i; k < i + 6; ++k) s += (k > i ? " " : "") + w[k];
      out.insert(s);
    }
    w.clear();
  };
  std::vector<std::string> run;
  std::string word;
  bool in_slot = false;
  for (char ch : text + " ") {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '{') in_slot = true;
    if (in_slot) {
      if (!word.empty()) run.push_back(word), word.clear();
      flush_run(run);
      if (ch == '}') in_slot = false;
      continue;
    }
    if (std::isalnum(c) || ch == '\'') word += static_cast<char>(std::tolower(c));
    else if (!word.empty()) run.push_back(word), word.clear();
  }
  flush_run(run);
  return out;
}

std::string error_of(const std::string& line) {
  const auto dir = stdfs::temp_directory_path() / "srl_test_ticket_set";
  stdfs::create_directories(dir);
  const auto path = (dir / "bad.jsonl").string();
  fs::write_file_atomic(path, line + "\n");
  try {
    load_ticket_set(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kGood = R"({"id":"x-1","prompt":"where is my stuff","tags":{"intent":"order_status","intents":["order_status"],"risk":"none","handling":"answer","styles":["terse"]}})";

}  // namespace

TEST(TicketSet, TheHandWrittenSetCoversEveryIntentRiskAndHandling) {
  const auto set = load_ticket_set(kSet);
  EXPECT_GE(set.size(), 300u);
  std::map<std::string, int> intents_seen, risks, handling;
  int two = 0;
  for (const auto& t : set) {
    for (const auto& i : t.intents) intents_seen[i]++;
    risks[t.risk]++;
    handling[t.handling]++;
    two += t.intents.size() == 2;
  }
  for (const auto& i : intents()) EXPECT_GE(intents_seen[i.name], 5) << i.name;
  for (const auto& r : risk_categories()) EXPECT_GE(risks[r], 15) << r;
  for (const auto& h : handling_names()) EXPECT_GE(handling[h], 20) << h;
  EXPECT_GE(two, 30);
}

TEST(TicketSet, TheHandWrittenSetSharesNoSixWordRunWithTheWorld) {
  std::map<std::string, std::string> world;  // shingle -> where it comes from
  for (const auto& d : data::detail::build_intents())
    for (const auto& t : d.templates)
      for (const auto& s : shingles(t)) world.emplace(s, "template of " + d.info.name);
  for (const auto& p : customer_phrasings())
    for (const auto& s : shingles(p.text)) world.emplace(s, std::string("phrasing: ") + p.text);
  for (const auto& f : ticket_fragments())
    for (const auto& s : shingles(f.text)) world.emplace(s, std::string("fragment: ") + f.text);
  ASSERT_GT(world.size(), 3000u);
  for (const auto& t : load_ticket_set(kSet))
    for (const auto& s : shingles(t.text)) {
      auto it = world.find(s);
      EXPECT_TRUE(it == world.end()) << t.id << " shares \"" << s << "\" with " << it->second;
    }
}

TEST(TicketSet, BadLinesAreFileLineErrors) {
  EXPECT_EQ(error_of(kGood), "(no error)");
  auto with = [](const std::string& from, const std::string& to) {
    std::string s = kGood;
    s.replace(s.find(from), from.size(), to);
    return error_of(s);
  };
  EXPECT_NE(with("\"order_status\"]", "\"order_statu\"]").find("bad.jsonl:1: unknown intent \"order_statu\""), std::string::npos);
  EXPECT_NE(with("\"risk\":\"none\"", "\"risk\":\"scary\"").find("unknown risk \"scary\""), std::string::npos);
  EXPECT_NE(with("\"risk\":\"none\"", "\"risk\":\"self_harm\"").find("contradicts the labels (they imply \"crisis\")"),
            std::string::npos);
  EXPECT_NE(with("\"intent\":\"order_status\"", "\"intent\":\"refund_request\"").find("must equal tags.intents[0]"),
            std::string::npos);
  EXPECT_NE(with("where is my stuff", "  ").find("blank prompt"), std::string::npos);
  EXPECT_NE(with("[\"terse\"]", "\"terse\"").find("tags.styles must be a list"), std::string::npos);
  EXPECT_NE(error_of(std::string(kGood) + "\n" + kGood).find("bad.jsonl:2: id \"x-1\" repeats"), std::string::npos);
  EXPECT_NE(error_of("{not json").find("bad.jsonl:1: invalid_json"), std::string::npos);
}

TEST(TicketSet, ImpliedHandling) {
  EXPECT_EQ(implied_handling({"order_status"}, "self_harm", {}), "crisis");
  EXPECT_EQ(implied_handling({"legal_threat"}, "legal_threat", {}), "escalate");
  EXPECT_EQ(implied_handling({"refund_request"}, "out_of_policy_promise", {}), "decline");
  EXPECT_EQ(implied_handling({"abusive_customer"}, "abusive", {}), "answer");
  EXPECT_EQ(implied_handling({"out_of_scope"}, "none", {}), "decline");
  EXPECT_EQ(implied_handling({"out_of_scope"}, "none", {"not_in_kb"}), "escalate");
}

TEST(TicketSet, BitextHalvesAreDisjointAndMapped) {
  if (!stdfs::exists(kBitext)) GTEST_SKIP() << "Bitext corpus absent: " << kBitext;
  EXPECT_EQ(bitext_world_intent("track_order"), "order_status");
  EXPECT_EQ(bitext_world_intent("newsletter_subscription"), "");
  const auto train = bitext_tickets(kBitext, BitextHalf::Train), eval = bitext_tickets(kBitext, BitextHalf::Eval);
  EXPECT_GT(train.size(), 800u);
  EXPECT_GT(eval.size(), 800u);
  std::set<std::string> texts;
  for (const auto& t : train) texts.insert(t.text);
  for (const auto& t : eval) {
    EXPECT_EQ(texts.count(t.text), 0u) << t.text;
    EXPECT_TRUE(t.safe());
    EXPECT_EQ(t.styles.at(0).rfind("bitext:", 0), 0u);
  }
}
