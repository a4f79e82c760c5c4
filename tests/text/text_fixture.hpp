// Shared by the text tests: one small tokenizer trained once per test binary into a temp dir.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "text/tokenizer.hpp"

namespace srl_test {

inline std::filesystem::path text_temp_dir() {
  static const auto dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("srl_text_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }();
  // Removed at exit; constructed after `dir`, so destroyed before it.
  static const struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{dir};
  return dir;
}

// Deterministic support-flavoured corpus with digits, punctuation, accents, CJK and emoji.
inline std::string write_test_corpus() {
  auto path = (text_temp_dir() / "corpus.txt").string();
  static const char* words[] = {
      "order",   "refund",  "shipping", "password", "account", "invoice", "plan",     "cancel",  "subscription",
      "please",  "thanks",  "your",     "my",       "the",     "a",       "to",       "is",      "for",
      "with",    "help",    "reset",    "email",    "damaged", "package", "arrived",  "tracking", "number",
      "days",    "within",  "policy",   "return",   "label",   "billing", "address",  "change", "upgrade",
      "code",    "login",   "support",  "team",     "today",   "tomorrow", "we",      "can",     "you",
      "I",       "not",     "sorry",    "hello",    "customer", "receipt", "charged", "twice",   "card",
      "café",    "naïve",   "über",     "señor",    "delivery", "store",  "credit",   "week",    "month"};
  std::mt19937 rng(12345);
  std::ofstream f(path);
  for (int i = 0; i < 1500; ++i) {
    int n = 3 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) f << (k ? " " : "") << words[rng() % std::size(words)];
    f << " A" << 10000 + rng() % 90000 << " $" << rng() % 500 << "." << rng() % 100 << (i % 3 ? "." : "?") << "\n";
  }
  f << "こんにちは 世界 😀 🙂 — “quotes” (parens) [brackets] {braces} 100% #1 @home\n";
  return path;
}

inline const srl::text::Tokenizer& test_tokenizer() {
  static const srl::text::Tokenizer tok = [] {
    srl::text::TrainOptions opt;
    opt.input = write_test_corpus();
    opt.out_dir = (text_temp_dir() / "tok").string();
    opt.vocab_size = 500;
    srl::text::Tokenizer::train(opt);
    return srl::text::Tokenizer::load(opt.out_dir);
  }();
  return tok;
}

}  // namespace srl_test
