// Tokenizer: training, exact round trips, control-symbol safety, load/save errors, and sentencepiece
// (via the dlopen()ed bridge) living in the same process as libtorch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "text/spm_loader.hpp"
#include "text/tokenizer.hpp"
#include "text_fixture.hpp"

using srl::text::Tokenizer;
using srl::text::TrainOptions;
using srl_test::test_tokenizer;
using srl_test::text_temp_dir;

namespace {

// Expects `f` to throw srl::Error with exit code 2 and a message containing `needle`.
template <class F>
void expect_bad_input(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected srl::Error containing '" << needle << "'";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool has_control(const Tokenizer& tok, const std::vector<int>& ids) {
  return std::any_of(ids.begin(), ids.end(), [&](int id) { return tok.is_control(id); });
}

}  // namespace

TEST(Tokenizer, SpecialIdsAndVocab) {
  const auto& tok = test_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 500);
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), 3);
  EXPECT_EQ(tok.system_id(), 4);
  EXPECT_EQ(tok.user_id(), 5);
  EXPECT_EQ(tok.assistant_id(), 6);
  EXPECT_EQ(tok.end_id(), 7);
  EXPECT_EQ(tok.piece(tok.system_id()), "<|system|>");
  EXPECT_EQ(tok.piece(tok.user_id()), "<|user|>");
  EXPECT_EQ(tok.piece(tok.assistant_id()), "<|assistant|>");
  EXPECT_EQ(tok.piece(tok.end_id()), "<|end|>");
  EXPECT_EQ(tok.piece(tok.pad_id()), "<pad>");
  for (int id : {tok.bos_id(), tok.eos_id(), tok.pad_id(), tok.system_id(), tok.user_id(), tok.assistant_id(),
                 tok.end_id()})
    EXPECT_TRUE(tok.is_control(id)) << id;
  EXPECT_FALSE(tok.is_control(tok.unk_id()));
  EXPECT_FALSE(tok.is_control(tok.encode("order")[0]));
  // Training on the corpus produced real merges, not just characters.
  EXPECT_LT(tok.encode("refund").size(), 3u);
  expect_bad_input([&] { tok.piece(500); }, "out of range");
  expect_bad_input([&] { tok.piece(-1); }, "out of range");
}

TEST(Tokenizer, RoundTripsTrickyStrings) {
  const auto& tok = test_tokenizer();
  const std::vector<std::string> cases = {
      "",
      " ",
      "   ",
      " leading space",
      "trailing spaces   ",
      "two  spaces   three",
      "line1\nline2\n\n\nline5\n",
      "\ttab\tseparated\t",
      "crlf\r\nend",
      "emoji 😀🙂👍🏽 and ZWJ 👩‍👩‍👧",
      "中文字符 日本語 한국어",
      "café naïve über señor Ångström",
      "e\xCC\x81 combining accent (not NFC-folded)",
      "ｆｕｌｌｗｉｄｔｈ ① ﬁ ligature (not NFKC-folded)",
      std::string("nul\0inside", 10),
      "controls \x01\x02\x1b[0m\x7f",
      "literal \xE2\x96\x81 U+2581 and \xE2\x96\x81\xE2\x96\x81 twice",
      "\xE2\x96\x81",
      "<|end|> <|user|> <s> </s> <pad> <unk>",
      "order A12345 costs $49.99; refund within 30 days!",
      "1234567890",
  };
  for (const auto& s : cases) {
    auto ids = tok.encode(s);
    EXPECT_EQ(tok.decode(ids), s) << "case: " << s;
    EXPECT_FALSE(has_control(tok, ids)) << "case: " << s;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.unk_id()), 0) << "case: " << s;
  }
  EXPECT_TRUE(tok.encode("").empty());
}

TEST(Tokenizer, RoundTripsRandomUnicode) {
  const auto& tok = test_tokenizer();
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      uint32_t cp;
      switch (rng() % 4) {
        case 0: cp = rng() % 0x80; break;                    // ASCII incl. controls and space
        case 1: cp = 0x80 + rng() % (0x800 - 0x80); break;   // 2-byte
        case 2: cp = 0x800 + rng() % (0x10000 - 0x800); break;  // 3-byte
        default: cp = 0x10000 + rng() % (0x110000 - 0x10000); break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x2581;  // surrogates are not valid UTF-8; test ▁ instead
      append_utf8(s, cp);
    }
    auto ids = tok.encode(s);
    ASSERT_EQ(tok.decode(ids), s) << "iteration " << iter;
    ASSERT_FALSE(has_control(tok, ids));
  }
}

TEST(Tokenizer, ControlSymbolTextCannotInjectTurnBoundary) {
  const auto& tok = test_tokenizer();
  for (const char* s : {"<|end|>", "<|assistant|>", "<|user|>", "<|system|>", "<s>", "</s>", "<pad>"}) {
    auto ids = tok.encode(s);
    EXPECT_GT(ids.size(), 1u) << s;
    EXPECT_FALSE(has_control(tok, ids)) << s;
    EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.end_id()), 0) << s;
    EXPECT_EQ(tok.decode(ids), s);
  }
}

TEST(Tokenizer, DecodeDropsControlsAndRejectsBadIds) {
  const auto& tok = test_tokenizer();
  std::vector<int> ids = {tok.bos_id(), tok.user_id()};
  for (int id : tok.encode("hi there")) ids.push_back(id);
  ids.insert(ids.end(), {tok.end_id(), tok.eos_id(), tok.pad_id()});
  EXPECT_EQ(tok.decode(ids), "hi there");
  expect_bad_input([&] { tok.decode({tok.vocab_size()}); }, "out of range");
  expect_bad_input([&] { tok.decode({-1}); }, "out of range");
}

TEST(Tokenizer, InvalidUtf8IsReplacedNotPreserved) {
  const auto& tok = test_tokenizer();
  EXPECT_EQ(tok.decode(tok.encode("a\xff" "b")), "a\xEF\xBF\xBD" "b");
  // A truncated 3-byte sequence: each bad byte becomes one U+FFFD.
  EXPECT_EQ(tok.decode(tok.encode("x\xE4\xB8")), "x\xEF\xBF\xBD\xEF\xBF\xBD");
  // A lone byte piece (a model stopping mid-character) still decodes to valid UTF-8.
  auto e2 = tok.encode("\xE2\x96\x81");  // spelled as byte pieces E2 96 81
  ASSERT_EQ(e2.size(), 3u);
  EXPECT_EQ(tok.decode({e2[0]}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({e2[0], e2[1], e2[2]}), "\xE2\x96\x81");
}

TEST(Tokenizer, SaveLoadAndHash) {
  const auto& tok = test_tokenizer();
  auto dir = (text_temp_dir() / "saved").string();
  tok.save(dir);
  auto from_dir = Tokenizer::load(dir);
  auto from_file = Tokenizer::load(dir + "/tokenizer.model");
  EXPECT_EQ(from_dir.model_bytes(), tok.model_bytes());
  EXPECT_EQ(from_file.model_bytes(), tok.model_bytes());
  EXPECT_EQ(from_file.source(), dir + "/tokenizer.model");
  EXPECT_EQ(from_dir.hash(), tok.hash());
  EXPECT_EQ(tok.hash().size(), 16u);
  EXPECT_EQ(tok.hash().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(tok.hash(), srl::fnv1a64_hex(tok.model_bytes()));  // the project's one content hash
  const std::string s = "Where is my order A12345?";
  EXPECT_EQ(from_file.encode(s), tok.encode(s));
  // Hash is of the bytes: a different model has a different hash.
  TrainOptions opt;
  opt.input = (text_temp_dir() / "corpus.txt").string();
  opt.out_dir = (text_temp_dir() / "tok400").string();
  opt.vocab_size = 400;
  Tokenizer::train(opt);
  auto other = Tokenizer::load(opt.out_dir);
  EXPECT_EQ(other.vocab_size(), 400);
  EXPECT_NE(other.hash(), tok.hash());
}

TEST(Tokenizer, TrainingIsDeterministic) {
  TrainOptions opt;
  opt.input = (text_temp_dir() / "corpus.txt").string();
  opt.vocab_size = 500;
  opt.seed = 3;
  test_tokenizer();  // writes the corpus
  opt.out_dir = (text_temp_dir() / "det_a").string();
  Tokenizer::train(opt);
  opt.out_dir = (text_temp_dir() / "det_b").string();
  Tokenizer::train(opt);
  EXPECT_EQ(srl::fs::read_file((text_temp_dir() / "det_a/tokenizer.model").string()),
            srl::fs::read_file((text_temp_dir() / "det_b/tokenizer.model").string()));
  EXPECT_EQ(Tokenizer::load((text_temp_dir() / "det_a").string()).model_bytes(), test_tokenizer().model_bytes());
}

TEST(Tokenizer, LoadErrorsNameThePath) {
  expect_bad_input([] { Tokenizer::load("/nonexistent/dir/tokenizer.model"); }, "/nonexistent/dir/tokenizer.model");
  auto empty_dir = (text_temp_dir() / "empty_dir").string();
  srl::fs::make_dirs(empty_dir);
  expect_bad_input([&] { Tokenizer::load(empty_dir); }, empty_dir + "/tokenizer.model");

  auto corrupt = (text_temp_dir() / "corrupt.model").string();
  srl::fs::write_file_atomic(corrupt, "this is not a protobuf \xff\xfe\x01");
  expect_bad_input([&] { Tokenizer::load(corrupt); }, corrupt);
  auto truncated = (text_temp_dir() / "truncated.model").string();
  const auto& bytes = test_tokenizer().model_bytes();
  srl::fs::write_file_atomic(truncated, bytes.substr(0, bytes.size() / 2));
  expect_bad_input([&] { Tokenizer::load(truncated); }, truncated);
  expect_bad_input([] { Tokenizer::from_bytes("", "mem"); }, "mem");
}

TEST(Tokenizer, TrainErrorsAreClear) {
  test_tokenizer();
  const auto corpus = (text_temp_dir() / "corpus.txt").string();
  auto train = [&](int vocab, std::string input = "") {
    TrainOptions opt;
    opt.input = input.empty() ? corpus : input;
    opt.out_dir = (text_temp_dir() / "bad").string();
    opt.vocab_size = vocab;
    Tokenizer::train(opt);
  };
  expect_bad_input([&] { train(100); }, "vocab_size 100 is too small");
  // Above the 264 fixed pieces but below that plus the corpus's distinct characters.
  expect_bad_input([&] { train(280); }, "too small for the distinct characters");
  expect_bad_input([&] { train(100000); }, "larger than this input supports");
  expect_bad_input([&] { train(500, "/nonexistent/corpus.txt"); }, "/nonexistent/corpus.txt");
  EXPECT_FALSE(srl::fs::exists((text_temp_dir() / "bad/tokenizer.model").string()));
}

TEST(Tokenizer, CopiesShareStateAndConstUseIsThreadSafe) {
  const Tokenizer copy = test_tokenizer();
  EXPECT_EQ(&copy.model_bytes(), &test_tokenizer().model_bytes());  // shared, not duplicated
  const std::string s = "Hello, I was charged twice for order A55555 — please refund 😀\n";
  const auto want = copy.encode(s);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Tokenizer mine = copy;
      int good = 0;
      for (int i = 0; i < 200; ++i) good += mine.encode(s) == want && mine.decode(want) == s;
      ok[t] = good;
    });
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 200);
}

// The reason for the bridge: sentencepiece (with its embedded protobuf) and libtorch (with the system
// libprotobuf) in one process. Linking both crashes at start-up; this binary links torch and trains,
// loads and uses a tokenizer, then feeds the ids to torch.
TEST(Tokenizer, CoexistsWithLibtorchInOneProcess) {
  const auto& tok = test_tokenizer();
  auto ids = tok.encode("My package arrived damaged, order A12345.");
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  auto t = torch::tensor(ids64, torch::kLong);
  auto emb = torch::nn::Embedding(tok.vocab_size(), 8);
  auto out = emb->forward(t);
  EXPECT_EQ(out.size(0), static_cast<int64_t>(ids.size()));
  EXPECT_EQ(t.sum().item<int64_t>(), std::accumulate(ids64.begin(), ids64.end(), int64_t{0}));

  std::ifstream maps("/proc/self/maps");
  std::string all((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("libtorch"), std::string::npos);
  EXPECT_NE(all.find("libsentencepiece"), std::string::npos);  // really loaded, via the bridge
  EXPECT_NE(all.find("libsrl_spm.so"), std::string::npos);
}

TEST(Tokenizer, MissingBridgeIsAClearError) {
  expect_bad_input([] { srl::text::detail::open_spm_bridge("/nonexistent/libsrl_spm.so"); }, "SRL_SPM_BRIDGE");
  expect_bad_input([] { srl::text::detail::open_spm_bridge("/nonexistent/libsrl_spm.so"); },
                   "/nonexistent/libsrl_spm.so");
  auto not_a_lib = (text_temp_dir() / "not_a_lib.so").string();
  srl::fs::write_file_atomic(not_a_lib, "garbage");
  expect_bad_input([&] { srl::text::detail::open_spm_bridge(not_a_lib); }, not_a_lib);
  // The bridge actually in use exposes the expected API.
  EXPECT_FALSE(srl::text::detail::spm().path.empty());
}
