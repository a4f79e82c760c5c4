// The anonymizer: every PII type in several formats, Luhn rejection, ordinary numbers left alone,
// idempotence, determinism, hostile bytes and size, and a run over the real Bitext corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "data/anonymize.hpp"

using srl::data::anonymize;
using srl::data::AnonymizeStats;

namespace {

struct Case {
  std::string in, out;
};

void expect_all(const std::vector<Case>& cases) {
  for (const auto& c : cases) EXPECT_EQ(anonymize(c.in), c.out) << "input: " << c.in;
}

}  // namespace

TEST(Anonymize, Emails) {
  expect_all({
      {"mail me at john.doe@example.com please", "mail me at {{EMAIL}} please"},
      {"Contact: JANE_SMITH+support@mail.co.uk.", "Contact: {{EMAIL}}."},
      {"(a.b-c@sub.domain-x.org)", "({{EMAIL}})"},
      {"12345@numbers.io", "{{EMAIL}}"},
      {"x@y.c and not@tld.123", "x@y.c and not@tld.123"},  // TLD must be 2+ letters
  });
}

TEST(Anonymize, Phones) {
  expect_all({
      {"call 555-123-4567 now", "call {{PHONE}} now"},
      {"call (555) 123-4567", "call {{PHONE}}"},
      {"call +1 (555) 123-4567.", "call {{PHONE}}."},
      {"call 1-800-555-0199", "call {{PHONE}}"},
      {"tel 555.123.4567", "tel {{PHONE}}"},
      {"ring +44 20 7946 0958 today", "ring {{PHONE}} today"},
      {"ring +44 7911 123456", "ring {{PHONE}}"},
      {"ring +33 1 23 45 67 89", "ring {{PHONE}}"},
      {"number 5551234567", "number {{PHONE}}"},
      {"E.164: +14155552671", "E.164: {{PHONE}}"},
      {"call 555-123-4567 2 times", "call {{PHONE}} 2 times"},
  });
}

TEST(Anonymize, CardsAreLuhnChecked) {
  expect_all({
      {"card 4111 1111 1111 1111 expires", "card {{CARD}} expires"},
      {"card 4111-1111-1111-1111", "card {{CARD}}"},
      {"card 4111111111111111", "card {{CARD}}"},
      {"amex 378282246310005", "amex {{CARD}}"},
      {"amex 3782 822463 10005", "amex {{CARD}}"},
      {"mc 5555 5555 5555 4444.", "mc {{CARD}}."},
      {"card 4111 1111 1111 1111 2 items", "card {{CARD}} 2 items"},
      {"order 4111 1111 1111 1111", "order {{CARD}}"},
  });
  // One digit off: not a card, and not anything else either.
  expect_all({
      {"card 4111 1111 1111 1112 expires", "card 4111 1111 1111 1112 expires"},
      {"serial 4111111111111112", "serial 4111111111111112"},
      {"amex 378282246310006", "amex 378282246310006"},
  });
}

TEST(Anonymize, OrderAndAccountIds) {
  expect_all({
      {"where is order 123456?", "where is order {{ORDER_ID}}?"},
      {"my order number is 98765432", "my order number is {{ORDER_ID}}"},
      {"Order #4521 never came", "Order #{{ORDER_ID}} never came"},
      {"order no. 1234", "order no. {{ORDER_ID}}"},
      {"order ID: AB12C345", "order ID: {{ORDER_ID}}"},
      {"cancel purchase 113542617735902", "cancel purchase {{ORDER_ID}}"},
      {"find my bill #00108", "find my bill #{{ORDER_ID}}"},
      {"tracking number 1Z999AA10123456784", "tracking number {{ORDER_ID}}"},
      {"ref ORD-123456 and A12345", "ref {{ORDER_ID}} and {{ORDER_ID}}"},
      {"code ORD_998877", "code {{ORDER_ID}}"},
      {"account 12345678 locked", "account {{ACCOUNT_ID}} locked"},
      {"acct# 99887766", "acct# {{ACCOUNT_ID}}"},
      {"my customer id: C-77821", "my customer id: {{ACCOUNT_ID}}"},
      {"Account Number 000123456", "Account Number {{ACCOUNT_ID}}"},
      {"user id 555001", "user id {{ACCOUNT_ID}}"},
      {"ref CUST-4829101", "ref {{ACCOUNT_ID}}"},
      {"login ACCT12345", "login {{ACCOUNT_ID}}"},
  });
  // Keyword but not an id: too few digits, quantities, dates, prices.
  expect_all({
      {"order 3 items", "order 3 items"},
      {"order 1500 units", "order 1500 units"},
      {"my order from 2024-06-01", "my order from 2024-06-01"},
      {"order 2024-06-01", "order 2024-06-01"},
      {"order total $133.99", "order total $133.99"},
      {"account 2FA settings", "account 2FA settings"},
      {"the order. 12345 people", "the order. 12345 people"},
  });
}

TEST(Anonymize, IpAddresses) {
  expect_all({
      {"from 192.168.1.20 today", "from {{IP}} today"},
      {"ip 8.8.8.8.", "ip {{IP}}."},
      {"ip 255.255.255.255", "ip {{IP}}"},
      {"v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", "v6 {{IP}} ok"},
      {"v6 2001:db8::1", "v6 {{IP}}"},
      {"loopback ::1 and fe80::1ff:fe23:4567:890a", "loopback {{IP}} and {{IP}}"},
      {"mapped ::ffff:192.0.2.128", "mapped {{IP}}"},
  });
  expect_all({
      {"bad 256.1.1.1 and 1.2.3", "bad 256.1.1.1 and 1.2.3"},
      {"at 10:30:45 on 1.2.3.4.5", "at 10:30:45 on 1.2.3.4.5"},
      {"std::vector and a::b", "std::vector and a::b"},
  });
}

TEST(Anonymize, StreetAddresses) {
  expect_all({
      {"ship to 123 Main Street please", "ship to {{ADDRESS}} please"},
      {"ship to 42 Oak Ave, Apt 4B today", "ship to {{ADDRESS}} today"},
      {"at 1600 Pennsylvania Avenue NW", "at {{ADDRESS}} NW"},
      {"221B Baker St.", "{{ADDRESS}}."},
      {"10 Downing St Suite 200", "{{ADDRESS}}"},
      {"77 Massachusetts Ave #12", "{{ADDRESS}}"},
      {"i live at 12 elm street", "i live at {{ADDRESS}}"},
      {"350 5th Avenue", "{{ADDRESS}}"},
      {"9 Rue Saint Blvd.", "{{ADDRESS}}."},
      {"500 Old Mill Road", "{{ADDRESS}}"},
  });
  expect_all({
      {"I have 2 cars on the road", "I have 2 cars on the road"},
      {"Step 2 Click Place Order", "Step 2 Click Place Order"},
      {"it takes 3 days", "it takes 3 days"},
      {"3 ways to pay", "3 ways to pay"},
  });
}

TEST(Anonymize, OrdinaryNumbersUntouched) {
  const std::vector<std::string> ordinary = {
      "The total was $133.99 including tax.",
      "It costs 45 EUR per month.",
      "Your refund of 1,299.50 USD is on its way.",
      "The sale ends on 2024-06-01.",
      "Delivery is expected 06/01/2024 or 6/1/24.",
      "We'll ship on June 1, 2024.",
      "The store opens at 10:30 and closes at 18:00.",
      "Call us between 9am and 5pm.",
      "Step 2: open the settings page.",
      "1. Log in. 2. Open Orders. 3. Click Cancel.",
      "You ordered 3 items and 12 accessories.",
      "Founded in 1998, we have served customers since 2001.",
      "Enjoy 20% off, or 15.5% for members.",
      "Update to v2.3.1 or version 10.4.",
      "Enable 2FA on your 4G or 5G phone.",
      "Our code is 1234 digits? No, PIN 4821.",
      "Dial 911 or 112 in an emergency.",
      "Extension 4567 please.",
      "The box is 30 x 40 x 50 cm and weighs 2.5 kg.",
      "Orders over 50 dollars ship free within 3-5 business days.",
      "Rated 4.8 out of 5 by 10,000 customers.",
      "Our 24/7 support answers within 24 hours.",
      "Page 12 of 30.",
      "Use coupon SAVE20 at checkout.",
      "Chapter 3, section 2.1.",
      "It happened in Q3 2023, roughly 2023-Q3.",
      "Return within 30 days for a full refund.",
      "Buy 2 get 1 free.",
      "Temperatures of -5 to 10 degrees.",
      "The 2022 2023 2024 catalogues are online.",
      "Item 7 of 12 shipped.",
      "Open iOS 17.2 settings.",
      "Your 1st and 2nd payments were received.",
      "Wait 5-10 minutes and try again.",
      "Top 10 tips for 2024.",
      "Apply ISO 27001 and ISO27001 controls.",
      "Model RTX4090 and H100 are in stock.",
      "Order 2 of 3 arrived on 12.03.2024.",
      "Tracking usually takes 48 hours.",
      "Take the 2nd exit at 3 Mile road junction? Not an address: no.",
      "Call 555-1234 for the local desk.",
      "Your bill is 1 month overdue.",
  };
  for (const auto& s : ordinary) EXPECT_EQ(anonymize(s), s);
}

TEST(Anonymize, ExistingPlaceholdersLeftAlone) {
  expect_all({
      {"order {{Order Number}} from {{Website Name}}", "order {{Order Number}} from {{Website Name}}"},
      {"{{Customer Support Phone Number}} or 555-123-4567", "{{Customer Support Phone Number}} or {{PHONE}}"},
      {"{{EMAIL}} {{PHONE}}", "{{EMAIL}} {{PHONE}}"},
      {"{{unclosed 555-123-4567", "{{unclosed {{PHONE}}"},
  });
}

TEST(Anonymize, StatsCountPerTypeAndAccumulate) {
  AnonymizeStats st;
  anonymize("a@b.com, c@d.org, call 555-123-4567, order 123456", &st);
  anonymize("e@f.net", &st);
  EXPECT_EQ(st.counts["EMAIL"], 3);
  EXPECT_EQ(st.counts["PHONE"], 1);
  EXPECT_EQ(st.counts["ORDER_ID"], 1);
  EXPECT_EQ(st.counts.count("CARD"), 0u);
}

namespace {
// Random mixes of PII and ordinary fragments with random glue: idempotence and determinism.
std::vector<std::string> fragment_mixes(int n, uint32_t seed) {
  const std::vector<std::string> frags = {
      "john.doe@example.com", "555-123-4567", "(555) 123-4567", "+44 20 7946 0958", "4111 1111 1111 1111",
      "4111111111111112", "order 123456", "order #4521", "A12345", "ORD-123456", "account 12345678",
      "192.168.1.20", "2001:db8::1", "123 Main Street", "42 Oak Ave, Apt 4B", "$133.99", "2024-06-01",
      "10:30", "step 2", "1.", "3 items", "v2.3.1", "2FA", "{{Order Number}}", "20%", "1998", "é",
      "\xff\xfe", "日本", "{{", "}}", "#", "@", "-", ".", ",", ":", "+", "(", ")", "12", "345", "6789"};
  const std::vector<std::string> glue = {" ", "", "\n", ", ", ".", "-", " / ", "\t"};
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (int k = 0; k < n; ++k) {
    std::string s;
    int parts = 1 + rng() % 8;
    for (int p = 0; p < parts; ++p) s += frags[rng() % frags.size()] + glue[rng() % glue.size()];
    out.push_back(s);
  }
  return out;
}
}  // namespace

TEST(Anonymize, Idempotent) {
  for (const auto& s : fragment_mixes(5000, 7)) {
    std::string once = anonymize(s);
    EXPECT_EQ(anonymize(once), once) << "input: " << s;
  }
}

TEST(Anonymize, Deterministic) {
  for (const auto& s : fragment_mixes(500, 11)) EXPECT_EQ(anonymize(s), anonymize(s));
}

TEST(Anonymize, InvalidUtf8AndBinaryDoNotCrash) {
  std::mt19937 rng(3);
  for (int k = 0; k < 2000; ++k) {
    std::string s(1 + rng() % 200, '\0');
    for (auto& c : s) c = char(rng() % 256);
    std::string out = anonymize(s);
    EXPECT_EQ(anonymize(out), out);
  }
  // Multi-byte UTF-8 right next to PII: the bytes around it are kept.
  EXPECT_EQ(anonymize("é555-123-4567é"), "é{{PHONE}}é");
  EXPECT_EQ(anonymize("\xc3 a@b.com \xff"), "\xc3 {{EMAIL}} \xff");
}

TEST(Anonymize, LargeInputs) {
  // 1 MB of mixed text, and degenerate 1 MB runs that a backtracking regex would choke on.
  std::string mixed;
  for (const auto& s : fragment_mixes(100000, 5)) {
    mixed += s;
    if (mixed.size() > (1u << 20)) break;
  }
  AnonymizeStats st;
  std::string out = anonymize(mixed, &st);
  EXPECT_GT(st.counts["EMAIL"], 0);
  for (std::string run : {std::string(1 << 20, '1'), std::string(1 << 20, 'a'), std::string(1 << 20, '.'),
                          std::string(1 << 20, ':'), std::string(1 << 20, '{')}) {
    EXPECT_EQ(anonymize(run), run);
  }
  std::string spaced;
  while (spaced.size() < (1u << 20)) spaced += "1 ";
  EXPECT_EQ(anonymize(spaced), spaced);
  std::string at;
  while (at.size() < (1u << 20)) at += "a.b@";
  anonymize(at);  // must return
}

// ---- The real Bitext corpus ----
namespace {

// RFC 4180 CSV (quoted fields with embedded newlines and doubled quotes).
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field)), field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      rows.back().push_back(std::move(field)), field.clear();
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

}  // namespace

TEST(Anonymize, BitextCorpus) {
  const std::string path = std::string(SRL_SHARED_DIR) + "/data/bitext/Bitext_Sample_Customer_Support_Training_Dataset.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "Bitext corpus not found at " << path;
  auto rows = read_csv(path);
  ASSERT_GT(rows.size(), 1000u);
  const auto& header = rows[0];
  auto col = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return size_t(it - header.begin());
  };
  const size_t c_instr = col("instruction"), c_type = col("entity_type"), c_value = col("entity_value"),
               c_resp = col("response");
  // The corpus marks its (synthetic) order and invoice numbers in entity_type/entity_value; a detection in
  // a row without one is a false positive. In a row with one, the value must be gone from the output.
  struct Tally {
    int64_t texts = 0, id_texts = 0, id_removed = 0, id_wrong_type = 0, fp = 0;
    AnonymizeStats stats;
  };
  Tally instr, resp;
  int64_t rows_n = 0;
  auto tally = [&](Tally& t, const std::string& text, bool is_id, const std::string& value, size_t row,
                   const char* what) {
    AnonymizeStats st;
    std::string out = anonymize(text, &st);
    EXPECT_EQ(anonymize(out), out) << what << " row " << row;
    int64_t total = 0;
    for (auto& [k, v] : st.counts) total += v, t.stats.counts[k] += v;
    ++t.texts;
    std::string digits = value;
    digits.erase(0, digits.find_first_not_of("#0"));
    if (is_id && !digits.empty() && text.find(digits) != std::string::npos) {
      ++t.id_texts;
      t.id_removed += out.find(digits) == std::string::npos;
      t.id_wrong_type += total - st.counts["ORDER_ID"] > 0;
      if (out.find(digits) != std::string::npos && t.id_texts - t.id_removed <= 5)
        std::printf("  %s id kept in row %zu: %s\n", what, row, out.substr(0, 160).c_str());
    } else if (total > 0) {
      t.fp += total;
      if (t.fp <= 10) std::printf("  %s false positive in row %zu: %s\n", what, row, out.substr(0, 160).c_str());
    }
  };
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != header.size()) continue;
    ++rows_n;
    const std::string& type = rows[r][c_type];
    bool is_id = type == "order_id" || type == "invoice_id";
    tally(instr, rows[r][c_instr], is_id, rows[r][c_value], r, "instruction");
    tally(resp, rows[r][c_resp], is_id, rows[r][c_value], r, "response");
  }
  for (auto* t : {&instr, &resp}) {
    std::printf("Bitext %s: %lld texts, %lld contain a marked order/invoice id, %lld of those removed (%lld typed other "
                "than ORDER_ID); false positives %lld (%.3f%% of texts)\n",
                t == &instr ? "instructions" : "responses", (long long)t->texts, (long long)t->id_texts,
                (long long)t->id_removed, (long long)t->id_wrong_type, (long long)t->fp,
                100.0 * double(t->fp) / double(t->texts));
    for (auto& [k, v] : t->stats.counts) std::printf("    %s: %lld\n", k.c_str(), (long long)v);
  }
  EXPECT_GT(rows_n, 4000);
  EXPECT_LE(double(instr.fp) / double(instr.texts), 0.002);
  EXPECT_LE(double(resp.fp) / double(resp.texts), 0.005);
  EXPECT_GE(double(instr.id_removed) / double(instr.id_texts), 0.95);
  EXPECT_GE(double(resp.id_removed) / double(resp.id_texts), 0.90);
}
