// The request classifier's features (text/ticket_features.hpp): normalisation and tokens by hand, ids in
// range and deterministic, and the property the char n-grams are there for: a misspelt word keeps most of
// its features.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "text/ticket_features.hpp"

using namespace srl::text;

TEST(TicketFeatures, TokensAreFoldedAndDigitsShareAShape) {
  EXPECT_EQ(ticket_tokens("Order A12345 — WHERE is it?!"),
            (std::vector<std::string>{"order", "a00000", "\xE2\x80\x94", "where", "is", "it", "?", "!"}));
  EXPECT_EQ(ticket_tokens("I\xE2\x80\x99m   fine??? really"), (std::vector<std::string>{"i'm", "fine", "?", "really"}));
  EXPECT_EQ(ticket_tokens("ok \xF0\x9F\x98\xA1\xF0\x9F\x98\xA1"),
            (std::vector<std::string>{"ok", "\xF0\x9F\x98\xA1", "\xF0\x9F\x98\xA1"}));
  EXPECT_EQ(ticket_tokens("bad \xFF byte"), (std::vector<std::string>{"bad", "byte"}));
  EXPECT_TRUE(ticket_tokens("  ... ").empty());
}

TEST(TicketFeatures, IdsAreInRangeDeterministicAndNeverEmpty) {
  TicketFeatureConfig cfg;
  cfg.buckets = 1000;
  const auto a = ticket_features("my parcel never arrived", cfg);
  EXPECT_EQ(a, ticket_features("my parcel never arrived", cfg));
  for (auto id : a) EXPECT_TRUE(id >= 0 && id < 1000);
  // 4 unigrams + 3 bigrams + n-grams of "<parcel>" (8 chars: 6+5+4) and "<never>", "<arrived>"
  EXPECT_EQ(a.size(), 4u + 3u + (6 + 5 + 4) + (5 + 4 + 3) + (7 + 6 + 5));
  EXPECT_EQ(ticket_features("", cfg).size(), 1u);
  cfg.word_bigrams = false;
  EXPECT_EQ(ticket_features("my parcel never arrived", cfg).size(), a.size() - 3);
}

TEST(TicketFeatures, AMisspeltWordKeepsMostOfItsFeatures) {
  TicketFeatureConfig cfg;
  auto set_of = [&](const std::string& s) {
    auto v = ticket_features(s, cfg);
    return std::set<int64_t>(v.begin(), v.end());
  };
  const auto right = set_of("password"), wrong = set_of("pasword"), other = set_of("delivery");
  auto shared = [](const std::set<int64_t>& x, const std::set<int64_t>& y) {
    return std::count_if(x.begin(), x.end(), [&](int64_t id) { return y.count(id) > 0; });
  };
  EXPECT_GE(shared(right, wrong), 8);  // <pa, pas, ord, rd>, word, ord>, <pas, ...
  EXPECT_EQ(shared(right, other), 0);
}
