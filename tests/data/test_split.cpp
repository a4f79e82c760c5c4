// The splitter: prompt normalisation, no prompt group in two splits, per-intent fractions, seeds, spec
// validation; and the `data split` / `data anonymize` commands when the binary is built.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "cli_runner.hpp"
#include "core/error.hpp"
#include "data/anonymize.hpp"
#include "data/split.hpp"

using srl::data::assign_splits;
using srl::data::normalize_prompt;
using srl::data::SplitSpec;

namespace {

// A synthetic set: per intent, base prompts, each repeated as near-duplicates (case, spacing, end
// punctuation, a different order number) that must share a group.
struct Synthetic {
  std::vector<std::string> prompts, intents;
};

Synthetic make_synthetic(uint32_t seed) {
  const std::vector<std::pair<std::string, int>> intents = {
      {"cancel_order", 120}, {"track_order", 80}, {"refund", 40}, {"change_address", 15}};
  std::mt19937 rng(seed);
  Synthetic s;
  for (const auto& [intent, groups] : intents) {
    for (int g = 0; g < groups; ++g) {
      std::string base = "please help with " + intent + " topic " + std::to_string(g) + " for me";
      int copies = 1 + rng() % 4;
      for (int c = 0; c < copies; ++c) {
        std::string p = base + " order " + std::to_string(100000 + rng() % 900000);  // differs only in PII
        if (c == 2) p = "  " + p + " ?!";
        if (c == 3) p.replace(p.find(" with"), 5, "   with\t");
        if (c % 2) for (auto& ch : p) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        s.prompts.push_back(p);
        s.intents.push_back(intent);
      }
    }
  }
  return s;
}

std::vector<std::string> keys_of(const std::vector<std::string>& prompts) {
  std::vector<std::string> k;
  for (const auto& p : prompts) k.push_back(normalize_prompt(p));
  return k;
}

}  // namespace

TEST(Split, NormalizePrompt) {
  EXPECT_EQ(normalize_prompt("  Where IS my   Order?\n"), "where is my order");
  EXPECT_EQ(normalize_prompt("where is my order"), normalize_prompt("WHERE is\tmy order!!!"));
  EXPECT_EQ(normalize_prompt("cancel order 123456"), normalize_prompt("Cancel order 987654."));
  EXPECT_EQ(normalize_prompt("cancel order 123456"), "cancel order {{order_id}}");
  EXPECT_EQ(normalize_prompt("\"quoted\" text..."), "quoted\" text");
  EXPECT_EQ(normalize_prompt("mail a@b.com"), normalize_prompt(srl::data::anonymize("mail a@b.com")));
  EXPECT_EQ(normalize_prompt("Ünïcode  É"), "Ünïcode É");  // non-ASCII bytes kept
  EXPECT_NE(normalize_prompt("cancel my order"), normalize_prompt("cancel my orders"));
}

TEST(Split, NoPromptGroupInTwoSplits) {
  auto data = make_synthetic(1);
  auto keys = keys_of(data.prompts);
  std::set<std::string> distinct(keys.begin(), keys.end());
  EXPECT_EQ(distinct.size(), 255u) << "near-duplicates must normalise to one key per base prompt";
  SplitSpec spec{{"train", "val", "test"}, {0.8, 0.1, 0.1}, 42};
  auto split = assign_splits(keys, data.intents, spec);
  ASSERT_EQ(split.size(), keys.size());
  std::map<std::string, std::set<int>> where;
  for (size_t i = 0; i < keys.size(); ++i) where[keys[i]].insert(split[i]);
  for (const auto& [k, s] : where) EXPECT_EQ(s.size(), 1u) << "prompt in two splits: " << k;
}

TEST(Split, FractionsPerIntent) {
  auto data = make_synthetic(2);
  auto keys = keys_of(data.prompts);
  SplitSpec spec{{"train", "val", "test"}, {0.7, 0.2, 0.1}, 7};
  auto split = assign_splits(keys, data.intents, spec);
  std::map<std::string, std::array<int, 3>> counts;
  std::map<std::string, int> totals;
  for (size_t i = 0; i < split.size(); ++i) ++counts[data.intents[i]][split[i]], ++totals[data.intents[i]];
  for (const auto& [intent, c] : counts) {
    for (int s = 0; s < 3; ++s) {
      double want = spec.fractions[s] * totals[intent];
      // Whole groups of up to 4 items: within one group of the target.
      EXPECT_NEAR(c[s], want, 4.0) << intent << " split " << s << " of " << totals[intent];
      EXPECT_GT(c[s], 0) << intent << " has no items in split " << s;
    }
  }
}

TEST(Split, DeterministicPerSeedAndOrderIndependent) {
  auto data = make_synthetic(3);
  auto keys = keys_of(data.prompts);
  SplitSpec a{{"train", "val", "test"}, {0.8, 0.1, 0.1}, 1}, b = a;
  b.seed = 2;
  auto s1 = assign_splits(keys, data.intents, a);
  EXPECT_EQ(s1, assign_splits(keys, data.intents, a));
  auto s2 = assign_splits(keys, data.intents, b);
  int differ = 0;
  for (size_t i = 0; i < s1.size(); ++i) differ += s1[i] != s2[i];
  EXPECT_GT(differ, int(s1.size() / 20)) << "another seed should give another split";
  // Reversing the input order does not change any item's split.
  std::vector<std::string> rk(keys.rbegin(), keys.rend()), ri(data.intents.rbegin(), data.intents.rend());
  auto r = assign_splits(rk, ri, a);
  for (size_t i = 0; i < s1.size(); ++i) EXPECT_EQ(r[s1.size() - 1 - i], s1[i]);
}

TEST(Split, GroupWithMixedIntentsStaysTogether) {
  std::vector<std::string> keys = {"a", "a", "a", "b", "c"}, intents = {"x", "y", "y", "x", "y"};
  auto s = assign_splits(keys, intents, SplitSpec{{"p", "q"}, {0.5, 0.5}, 0});
  EXPECT_EQ(s[0], s[1]);
  EXPECT_EQ(s[1], s[2]);
}

TEST(Split, SpecValidation) {
  std::vector<std::string> k = {"a"}, in = {"x"};
  auto err = [&](SplitSpec spec) {
    try {
      assign_splits(k, in, spec);
    } catch (const srl::Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      return std::string(e.what());
    }
    ADD_FAILURE() << "no error";
    return std::string();
  };
  EXPECT_NE(err({{"train", "val"}, {0.8, 0.1, 0.1}, 0}).find("2 names but 3 fractions"), std::string::npos);
  EXPECT_NE(err({{"train", "val"}, {0.8, 0.1}, 0}).find("sum to"), std::string::npos);
  EXPECT_NE(err({{"train", "val"}, {1.2, -0.2}, 0}).find("> 0"), std::string::npos);
  EXPECT_NE(err({{"train", "val"}, {1.0, 0.0}, 0}).find("> 0"), std::string::npos);
  EXPECT_NE(err({{"train", "train"}, {0.5, 0.5}, 0}).find("twice"), std::string::npos);
  EXPECT_NE(err({{}, {}, 0}).find("no splits"), std::string::npos);
  EXPECT_NO_THROW(assign_splits(k, in, SplitSpec{{"a", "b", "c"}, {0.7, 0.2, 0.1 + 5e-7}, 0}));
  EXPECT_THROW(assign_splits(k, {}, SplitSpec{{"a"}, {1.0}, 0}), srl::Error);
}

// ---- The commands (only when the CLI is built: not with -DSRL_ONLY) ----
namespace {
namespace stdfs = std::filesystem;

using Run = srl_test::CliResult;
using srl_test::run_cli;

std::string slurp(const stdfs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class DataCleanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!stdfs::exists(SRL_BINARY)) GTEST_SKIP() << "supportrl not built (SRL_ONLY build)";
    dir = stdfs::temp_directory_path() / ("srl_test_data_clean_files_" + std::to_string(::getpid()));
    stdfs::remove_all(dir);
    stdfs::create_directories(dir);
  }
  void TearDown() override { stdfs::remove_all(dir); }
  stdfs::path dir;
};

}  // namespace

TEST_F(DataCleanCli, AnonymizeJsonl) {
  std::ofstream(dir / "in.jsonl")
      << R"({"id":"order 123456","prompt":"mail a@b.com about order 123456","response_a":"call 555-123-4567",)"
      << R"("response_b":"ok","winner":"a","tags":{"intent":"order 99999"},)"
      << R"("messages":[{"role":"user","content":"card 4111 1111 1111 1111"}]})" << "\n\n"
      << R"({"id":"x2","prompt":"nothing here","response_a":"a","response_b":"b","winner":"b"})" << "\n";
  auto r = run_cli("data anonymize " + (dir / "in.jsonl").string() + " --out " + (dir / "out.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(slurp(dir / "out.jsonl"));
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], "order 123456");  // id, winner and tags are copied unchanged
  EXPECT_EQ(rows[0]["tags"]["intent"], "order 99999");
  EXPECT_EQ(rows[0]["prompt"], "mail {{EMAIL}} about order {{ORDER_ID}}");
  EXPECT_EQ(rows[0]["response_a"], "call {{PHONE}}");
  EXPECT_EQ(rows[0]["messages"][0]["content"], "card {{CARD}}");
  EXPECT_EQ(rows[0]["messages"][0]["role"], "user");
  EXPECT_EQ(rows[1]["prompt"], "nothing here");
  EXPECT_NE(r.out.find("EMAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CARD"), std::string::npos) << r.out;

  std::ofstream(dir / "bad.jsonl") << R"({"prompt":"a"})" << "\n" << R"({"prompt": nope})" << "\n";
  r = run_cli("data anonymize " + (dir / "bad.jsonl").string() + " --out " + (dir / "bad_out.jsonl").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("error: " + (dir / "bad.jsonl").string() + ":2: "), std::string::npos) << r.err;
  EXPECT_FALSE(stdfs::exists(dir / "bad_out.jsonl"));
}

TEST_F(DataCleanCli, AnonymizeText) {
  std::ofstream(dir / "in.txt") << "call 555-123-4567\nnothing 12\n{\"not\": json";
  auto r = run_cli("data anonymize " + (dir / "in.txt").string() + " --out " + (dir / "out.txt").string() + " --text");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(dir / "out.txt"), "call {{PHONE}}\nnothing 12\n{\"not\": json");
}

TEST_F(DataCleanCli, SplitWritesSplitsWithoutDuplicatesOrLeakage) {
  auto data = make_synthetic(4);
  std::ofstream f(dir / "prefs.jsonl");
  for (size_t i = 0; i < data.prompts.size(); ++i) {
    nlohmann::json j = {{"id", "p" + std::to_string(i)}, {"response_a", "x"}, {"response_b", "y"}, {"winner", "a"},
                        {"tags", {{"intent", data.intents[i]}}}};
    if (i % 3 == 0) j["messages"] = {{{"role", "user"}, {"content", data.prompts[i]}}};
    else j["prompt"] = data.prompts[i];
    f << j.dump() << "\n";
    if (i % 10 == 0) f << nlohmann::json::parse(j.dump()).dump() << "\n";  // an exact duplicate
  }
  f << R"({"prompt":"no tags at all","response_a":"a","response_b":"b","winner":"a"})" << "\n";
  f.close();
  const size_t dups = (data.prompts.size() + 9) / 10;
  auto r = run_cli("data split " + (dir / "prefs.jsonl").string() + " --out-dir " + (dir / "out").string() +
                   " --seed 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("removed " + std::to_string(dups) + " exact duplicate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown"), std::string::npos) << r.out;
  std::map<std::string, std::string> key_split;
  size_t total = 0;
  std::set<std::string> ids;
  for (std::string name : {"train", "val", "test"}) {
    std::istringstream lines(slurp(dir / "out" / (name + ".jsonl")));
    std::string line;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line);
      ++total;
      if (j.contains("id")) EXPECT_TRUE(ids.insert(j["id"].get<std::string>()).second) << "duplicate kept";
      std::string prompt = j.contains("prompt") ? j["prompt"].get<std::string>()
                                                : j["messages"][0]["content"].get<std::string>();
      auto [it, added] = key_split.try_emplace(normalize_prompt(prompt), name);
      EXPECT_EQ(it->second, name) << "prompt in two splits: " << prompt;
    }
  }
  EXPECT_EQ(total, data.prompts.size() + 1);

  auto bad = run_cli("data split " + (dir / "prefs.jsonl").string() + " --out-dir " + (dir / "o2").string() +
                     " --fractions 0.5,0.4");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("error: "), std::string::npos);
  bad = run_cli("data split " + (dir / "prefs.jsonl").string() + " --out-dir " + (dir / "o2").string() +
                " --fractions 0.5,0.3,0.2 --names a,b");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("2 names but 3 fractions"), std::string::npos) << bad.err;
}
