// Tests for core/config.hpp: typed reading, round trips, --set, and every error message shape.
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "test_util.hpp"

using srl::config::from_yaml_string;
using srl_test::error_of;

namespace {

struct OptimSection {
  double learning_rate = 3e-4;
  int64_t warmup_steps = 10;
  std::string schedule = "cosine";
  std::optional<double> clip;
  bool operator==(const OptimSection&) const = default;
  template <class V>
  void visit(V& v) {
    v("learning_rate", learning_rate, "peak learning rate");
    v("warmup_steps", warmup_steps, "linear warm-up steps");
    v.choice("schedule", schedule, {"cosine", "linear", "constant"}, "decay after warm-up");
    v("clip", clip, "gradient norm clip (null = off)");
  }
};

struct SftConfig {
  std::string train_file;
  std::string name = "run";
  OptimSection optim;
  std::vector<std::string> lora_targets = {"q_proj", "v_proj"};
  std::vector<int64_t> seeds;
  bool flag = false;
  std::optional<int64_t> maybe;
  std::optional<std::string> note;
  std::optional<std::vector<std::string>> extra;
  int small = 3;
  bool operator==(const SftConfig&) const = default;
  template <class V>
  void visit(V& v) {
    v.required("train_file", train_file, "JSONL conversations");
    v("name", name, "run name");
    v.section("optim", optim);
    v("lora_targets", lora_targets, "modules that get LoRA adapters");
    v("seeds", seeds, "seeds");
    v("flag", flag, "a switch");
    v("maybe", maybe, "optional integer");
    v("note", note, "optional string");
    v("extra", extra, "optional list");
    v("small", small, "an int");
  }
};

struct EvalSection {
  std::string metric_file;
  int64_t every = 100;
  template <class V>
  void visit(V& v) {
    v.required("metric_file", metric_file, "where eval metrics go");
    v("every", every, "eval interval");
  }
};
struct WithEval {
  EvalSection eval;
  template <class V>
  void visit(V& v) { v.section("eval", eval); }
};

struct BadDefault {
  std::string mode = "fast";
  template <class V>
  void visit(V& v) { v.choice("mode", mode, {"slow", "medium"}, "mode"); }
};

// gtest prints failing structs as YAML instead of raw bytes.
void PrintTo(const SftConfig& c, std::ostream* os) { *os << "\n" << srl::config::to_yaml(c); }
void PrintTo(const OptimSection& c, std::ostream* os) { *os << "\n" << srl::config::to_yaml(c); }

const char* kSrc = "configs/sft.yaml";

SftConfig parse(const std::string& text, const std::vector<std::string>& sets = {}) {
  return from_yaml_string<SftConfig>(text, kSrc, sets);
}

// Message of the srl::Error thrown by parsing `text`; also checks it is bad input (exit 2).
std::string parse_error(const std::string& text, const std::vector<std::string>& sets = {}) {
  int code = 0;
  std::string msg = error_of([&] { parse(text, sets); }, &code);
  EXPECT_EQ(code, 2) << msg;
  return msg;
}

}  // namespace

TEST(Config, LoadsFixtureFile) {
  auto c = srl::config::load<SftConfig>(std::string(SRL_SOURCE_DIR) + "/tests/core/fixtures/sft.yaml");
  EXPECT_EQ(c.train_file, "data/conversations.jsonl");
  EXPECT_EQ(c.name, "sft-small");
  EXPECT_DOUBLE_EQ(c.optim.learning_rate, 1e-4);
  EXPECT_EQ(c.optim.warmup_steps, 50);
  EXPECT_EQ(c.optim.schedule, "linear");
  EXPECT_FALSE(c.optim.clip.has_value());
  EXPECT_EQ(c.lora_targets, (std::vector<std::string>{"q_proj", "k_proj", "v_proj"}));
  EXPECT_EQ(c.seeds, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(c.flag);
  EXPECT_EQ(c.maybe, std::optional<int64_t>(42));
  EXPECT_EQ(c.small, 3);  // absent: default kept
}

TEST(Config, AbsentKeysKeepDefaults) {
  auto c = parse("train_file: t.jsonl\n");
  SftConfig expected;
  expected.train_file = "t.jsonl";
  EXPECT_EQ(c, expected);
}

TEST(Config, EmptyFileGivesDefaults) {
  OptimSection d;
  EXPECT_EQ(from_yaml_string<OptimSection>("", kSrc), d);
  EXPECT_EQ(from_yaml_string<OptimSection>("# only a comment\n", kSrc), d);
}

TEST(Config, RoundTripThroughYamlIsExact) {
  SftConfig c;
  c.train_file = "data/a b.jsonl";
  c.name = "null";  // strings that look like other YAML types must stay strings
  c.optim.learning_rate = 0.1;
  c.optim.warmup_steps = -7;
  c.optim.schedule = "constant";
  c.optim.clip = std::numeric_limits<double>::infinity();
  c.lora_targets = {"", "true", "123", "-1.5e3", "No", ".inf", "1_000", "a: b", "#x", " lead", "multi\nline", "ünï", "~", "[x]"};
  c.seeds = {0, -1, std::numeric_limits<int64_t>::max()};
  c.flag = true;
  c.maybe = std::nullopt;
  c.note = "";
  c.extra = std::vector<std::string>{};
  c.small = -2147483647 - 1;

  const std::string yaml = srl::config::to_yaml(c);
  EXPECT_EQ(parse(yaml), c) << yaml;

  // Second pass with other values: 1.0 and tiny doubles, optionals the other way round.
  c.optim.learning_rate = 1.0;
  c.optim.clip = 1e-300;
  c.maybe = 0;
  c.note.reset();
  c.extra.reset();
  c.lora_targets.clear();
  const std::string yaml2 = srl::config::to_yaml(c);
  EXPECT_EQ(parse(yaml2), c) << yaml2;

  // And through a file with load().
  auto dir = srl_test::fresh_dir("rt");
  const std::string path = (dir / "resolved.yaml").string();
  srl::fs::write_file_atomic(path, yaml2);
  EXPECT_EQ(srl::config::load<SftConfig>(path), c);
}

TEST(Config, ToYamlListsEveryFieldWithHelp) {
  SftConfig c;
  c.train_file = "t.jsonl";
  const std::string yaml = srl::config::to_yaml(c);
  for (const char* key : {"train_file:", "name:", "optim:", "learning_rate:", "warmup_steps: 10",
                          "schedule: cosine", "clip: ~", "lora_targets: [q_proj, v_proj]", "seeds: []",
                          "flag: false", "maybe: ~", "small: 3"}) {
    EXPECT_NE(yaml.find(key), std::string::npos) << key << " missing in:\n" << yaml;
  }
  EXPECT_NE(yaml.find("# peak learning rate"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("learning_rate: 0.0003"), std::string::npos) << yaml;
  // Strings another YAML reader would type differently are quoted.
  c.lora_targets = {"true", "12", "off", "plain"};
  EXPECT_NE(srl::config::to_yaml(c).find(R"(lora_targets: ["true", "12", "off", plain])"), std::string::npos)
      << srl::config::to_yaml(c);
}

TEST(Config, NanRoundTripsAsNan) {
  OptimSection o;
  o.learning_rate = std::nan("");
  auto back = from_yaml_string<OptimSection>(srl::config::to_yaml(o), kSrc);
  EXPECT_TRUE(std::isnan(back.learning_rate));
  EXPECT_TRUE(std::isinf(from_yaml_string<OptimSection>("learning_rate: -.inf", kSrc).learning_rate));
}

TEST(Config, OptionalFields) {
  auto a = parse("train_file: t\n");
  EXPECT_FALSE(a.maybe.has_value());
  EXPECT_FALSE(a.note.has_value());
  auto b = parse("train_file: t\nmaybe: null\nnote: ~\nextra:\n");
  EXPECT_FALSE(b.maybe.has_value());
  EXPECT_FALSE(b.note.has_value());
  EXPECT_FALSE(b.extra.has_value());
  auto c = parse("train_file: t\nmaybe: 7\nnote: hi\nextra: [x]\n");
  EXPECT_EQ(c.maybe, std::optional<int64_t>(7));
  EXPECT_EQ(c.note, std::optional<std::string>("hi"));
  EXPECT_EQ(c.extra, std::optional<std::vector<std::string>>(std::vector<std::string>{"x"}));
  EXPECT_EQ(parse_error("train_file: t\nmaybe: x\n"), "configs/sft.yaml: maybe: expected an integer, got 'x'");
}

TEST(Config, SyntaxErrorHasFileLineColumn) {
  EXPECT_EQ(parse_error("train_file: t\noptim: a: b\n"), "configs/sft.yaml:2:9: illegal map value");
  const std::string msg = parse_error("train_file: t\nlora_targets: [q,\n");
  EXPECT_EQ(msg.rfind("configs/sft.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("end of sequence flow not found"), std::string::npos) << msg;
}

TEST(Config, TopLevelMustBeMapping) {
  EXPECT_EQ(parse_error("- a\n- b\n"), "configs/sft.yaml: the top level must be a mapping of keys, got a list");
  EXPECT_EQ(parse_error("hello\n"), "configs/sft.yaml: the top level must be a mapping of keys, got 'hello'");
  EXPECT_NE(parse_error("a: 1\n---\nb: 2\n").find("2 YAML documents"), std::string::npos);
}

TEST(Config, UnknownKeyNamesDottedKey) {
  EXPECT_EQ(parse_error("train_file: t\noptim:\n  lr: 1\n"), "configs/sft.yaml: unknown key 'optim.lr'");
  EXPECT_EQ(parse_error("train_file: t\nbogus_thing_here: 1\n"), "configs/sft.yaml: unknown key 'bogus_thing_here'");
}

TEST(Config, UnknownKeyDidYouMean) {
  EXPECT_EQ(parse_error("train_file: t\noptim:\n  learning_rat: 1\n"),
            "configs/sft.yaml: unknown key 'optim.learning_rat'; did you mean 'optim.learning_rate'?");
  // A swap of two letters counts as one edit.
  EXPECT_NE(parse_error("train_file: t\noptim:\n  warmpu_steps: 1\n").find("did you mean 'optim.warmup_steps'?"),
            std::string::npos);
  EXPECT_NE(parse_error("train_file: t\noptm:\n  warmup_steps: 1\n").find("unknown key 'optm'; did you mean 'optim'?"),
            std::string::npos);
  // Right key, wrong section.
  EXPECT_EQ(parse_error("train_file: t\nlearning_rate: 1\n"),
            "configs/sft.yaml: unknown key 'learning_rate'; did you mean 'optim.learning_rate'?");
}

TEST(Config, DuplicateAndDottedKeysRejected) {
  EXPECT_EQ(parse_error("train_file: t\nname: a\nname: b\n"), "configs/sft.yaml: duplicate key 'name'");
  // A literal dotted key would otherwise be known-but-never-read.
  EXPECT_NE(parse_error("train_file: t\noptim.learning_rate: 1\n").find("unknown key 'optim.learning_rate'"),
            std::string::npos);
}

TEST(Config, WrongTypes) {
  const std::string p = "train_file: t\n";
  EXPECT_EQ(parse_error(p + "optim:\n  learning_rate: abc\n"),
            "configs/sft.yaml: optim.learning_rate: expected a number, got 'abc'");
  EXPECT_EQ(parse_error(p + "optim:\n  warmup_steps: 1.5\n"),
            "configs/sft.yaml: optim.warmup_steps: expected an integer, got '1.5'");
  EXPECT_EQ(parse_error(p + "optim:\n  warmup_steps: 1e3\n"),
            "configs/sft.yaml: optim.warmup_steps: expected an integer, got '1e3'");
  EXPECT_EQ(parse_error(p + "flag: yes\n"), "configs/sft.yaml: flag: expected true or false, got 'yes'");
  EXPECT_EQ(parse_error(p + "flag: 1\n"), "configs/sft.yaml: flag: expected true or false, got '1'");
  EXPECT_EQ(parse_error(p + "name: [a]\n"), "configs/sft.yaml: name: expected a string, got a list");
  EXPECT_EQ(parse_error(p + "name: {a: 1}\n"), "configs/sft.yaml: name: expected a string, got a mapping");
  EXPECT_NE(parse_error(p + "name:\n").find("name: expected a string, got null"), std::string::npos);
  EXPECT_EQ(parse_error(p + "optim: 3\n"),
            "configs/sft.yaml: optim: expected a section (a mapping of keys), got '3'");
  EXPECT_EQ(parse_error(p + "lora_targets: q\n"), "configs/sft.yaml: lora_targets: expected a list of strings, got 'q'");
  EXPECT_EQ(parse_error(p + "lora_targets: [q, [v]]\n"),
            "configs/sft.yaml: lora_targets[1]: expected a string, got a list");
  EXPECT_EQ(parse_error(p + "seeds: [1, x]\n"), "configs/sft.yaml: seeds[1]: expected an integer, got 'x'");
  // Quoted scalars are strings, even when they look like numbers.
  EXPECT_EQ(parse_error(p + "optim:\n  learning_rate: \"1e-4\"\n"),
            "configs/sft.yaml: optim.learning_rate: expected a number, got '1e-4' (quoted, so a string)");
  EXPECT_EQ(parse_error(p + "optim:\n  learning_rate: inf\n"),
            "configs/sft.yaml: optim.learning_rate: expected a number, got 'inf'");
  EXPECT_EQ(parse_error(p + "small: 3000000000\n"), "configs/sft.yaml: small: integer '3000000000' is out of range");
  EXPECT_EQ(parse_error(p + "maybe: 99999999999999999999\n"),
            "configs/sft.yaml: maybe: integer '99999999999999999999' is out of range");
}

TEST(Config, AcceptedNumberSpellings) {
  auto c = parse("train_file: t\noptim:\n  learning_rate: 2\n  warmup_steps: +5\nseeds: [-3]\n");
  EXPECT_DOUBLE_EQ(c.optim.learning_rate, 2.0);
  EXPECT_EQ(c.optim.warmup_steps, 5);
  EXPECT_EQ(c.seeds, std::vector<int64_t>{-3});
  EXPECT_DOUBLE_EQ(parse("train_file: t\noptim: {learning_rate: 5e-5}\n").optim.learning_rate, 5e-5);
  EXPECT_EQ(parse("train_file: 123\n").train_file, "123");  // plain scalars read as text for strings
}

TEST(Config, MissingRequiredKey) {
  EXPECT_EQ(parse_error("name: x\n"), "configs/sft.yaml: missing required key 'train_file'");
}

TEST(Config, RequiredKeyInsideSection) {
  int code = 0;
  // Absent section: its required key is still required.
  std::string msg = error_of([] { from_yaml_string<WithEval>("", kSrc); }, &code);
  EXPECT_EQ(msg, "configs/sft.yaml: missing required key 'eval.metric_file'");
  EXPECT_EQ(code, 2);
  msg = error_of([] { from_yaml_string<WithEval>("eval:\n  every: 5\n", kSrc); });
  EXPECT_EQ(msg, "configs/sft.yaml: missing required key 'eval.metric_file'");
  auto ok = from_yaml_string<WithEval>("eval: {metric_file: m.jsonl}\n", kSrc);
  EXPECT_EQ(ok.eval.metric_file, "m.jsonl");
  EXPECT_EQ(ok.eval.every, 100);
}

TEST(Config, BadChoice) {
  EXPECT_EQ(parse_error("train_file: t\noptim:\n  schedule: cosin\n"),
            "configs/sft.yaml: optim.schedule: 'cosin' is not one of cosine, linear, constant; did you mean 'cosine'?");
  EXPECT_EQ(parse_error("train_file: t\noptim:\n  schedule: step\n"),
            "configs/sft.yaml: optim.schedule: 'step' is not one of cosine, linear, constant");
}

TEST(Config, ChoiceDefaultOutsideListIsInternalError) {
  int code = 0;
  error_of([] { from_yaml_string<BadDefault>("", kSrc); }, &code);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(from_yaml_string<BadDefault>("mode: slow", kSrc).mode, "slow");
}

TEST(Config, SetOverrides) {
  const std::string file = "train_file: t\nname: from_file\noptim:\n  warmup_steps: 3\n";
  auto c = parse(file, {"optim.learning_rate=1e-4", "name=abc", "lora_targets=[q,v]", "seeds=[4, 5]", "flag=true",
                        "maybe=9", " small = 11"});
  EXPECT_DOUBLE_EQ(c.optim.learning_rate, 1e-4);
  EXPECT_EQ(c.optim.warmup_steps, 3);  // sibling from the file survives
  EXPECT_EQ(c.name, "abc");
  EXPECT_EQ(c.lora_targets, (std::vector<std::string>{"q", "v"}));
  EXPECT_EQ(c.seeds, (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(c.flag);
  EXPECT_EQ(c.maybe, std::optional<int64_t>(9));
  EXPECT_EQ(c.small, 11);
  // Later --set wins; null clears an optional; a nested key creates its missing section.
  auto d = parse("train_file: t\nmaybe: 1\n",
                 {"optim.schedule=linear", "optim.schedule=constant", "maybe=null", "optim.clip=0.5"});
  EXPECT_EQ(d.optim.schedule, "constant");
  EXPECT_FALSE(d.maybe.has_value());
  EXPECT_EQ(d.optim.clip, std::optional<double>(0.5));
  // A required key can come from --set alone, into an empty file.
  EXPECT_EQ(parse("", {"train_file=x.jsonl"}).train_file, "x.jsonl");
  // A whole section as a flow mapping.
  EXPECT_DOUBLE_EQ(parse(file, {"optim={learning_rate: 0.5}"}).optim.learning_rate, 0.5);
}

TEST(Config, SetErrors) {
  EXPECT_EQ(parse_error("train_file: t\n", {"foo"}), "--set 'foo': expected section.key=value");
  EXPECT_EQ(parse_error("train_file: t\n", {"=3"}), "--set '=3': expected section.key=value");
  EXPECT_EQ(parse_error("train_file: t\n", {"optim..lr=3"}), "--set 'optim..lr=3': expected section.key=value");
  EXPECT_EQ(parse_error("train_file: t\n", {"optim.lr=1"}), "--set optim.lr: unknown key 'optim.lr'");
  EXPECT_EQ(parse_error("train_file: t\n", {"optim.learning_rat=1"}),
            "--set optim.learning_rat: unknown key 'optim.learning_rat'; did you mean 'optim.learning_rate'?");
  EXPECT_EQ(parse_error("train_file: t\n", {"optim.learning_rate=abc"}),
            "--set optim.learning_rate: expected a number, got 'abc'");
  EXPECT_EQ(parse_error("train_file: t\n", {"optim.schedule=cosin"}),
            "--set optim.schedule: 'cosin' is not one of cosine, linear, constant; did you mean 'cosine'?");
  // Errors inside a section given whole by --set name that --set.
  EXPECT_EQ(parse_error("train_file: t\n", {"optim={lr: 1}"}), "--set optim: unknown key 'optim.lr'");
  EXPECT_EQ(parse_error("train_file: t\n", {"optim={warmup_steps: x}"}),
            "--set optim: optim.warmup_steps: expected an integer, got 'x'");
  // The file's own mistakes still name the file.
  EXPECT_EQ(parse_error("train_file: t\noptim: {warmup_steps: x}\n", {"optim.learning_rate=1"}),
            "configs/sft.yaml: optim.warmup_steps: expected an integer, got 'x'");
  EXPECT_NE(parse_error("train_file: t\n", {"name=[a,"}).find("--set name: cannot parse value '[a,'"),
            std::string::npos);
}

TEST(Config, ApplySetEditsTheTree) {
  YAML::Node root;  // as from an empty file
  srl::config::apply_set(root, "a.b.c=1");
  srl::config::apply_set(root, "a.b.d=[x, y]");
  srl::config::apply_set(root, "a.e=hi");
  ASSERT_TRUE(root["a"]["b"].IsMap());
  EXPECT_EQ(root["a"]["b"]["c"].as<int>(), 1);
  EXPECT_EQ(root["a"]["b"]["d"].size(), 2u);
  EXPECT_EQ(root["a"]["e"].as<std::string>(), "hi");

  YAML::Node doc = YAML::Load("a: 1\n");
  int code = 0;
  std::string msg = error_of([&] { srl::config::apply_set(doc, "a.b=2"); }, &code);
  EXPECT_EQ(msg, "--set a.b: 'a' is not a section in the config (it is '1')");
  EXPECT_EQ(code, 2);
}

TEST(Config, MissingFileNamesPath) {
  int code = 0;
  std::string msg = error_of([] { srl::config::load<SftConfig>("/nonexistent/cfg.yaml"); }, &code);
  EXPECT_NE(msg.find("/nonexistent/cfg.yaml"), std::string::npos);
  EXPECT_EQ(code, 2);
}

TEST(Config, KeysListsFieldsAndSections) {
  auto keys = srl::config::keys<SftConfig>();
  std::vector<std::string> head(keys.begin(), keys.begin() + 7);
  EXPECT_EQ(head, (std::vector<std::string>{"train_file", "name", "optim", "optim.learning_rate",
                                            "optim.warmup_steps", "optim.schedule", "optim.clip"}));
  EXPECT_EQ(keys.size(), 14u);
}

namespace {
enum class Pace { Slow, Fast };
constexpr srl::config::Names<Pace, 2> kPaceNames{{{"slow", Pace::Slow}, {"fast", Pace::Fast}}};
struct WithEnum {
  Pace pace = Pace::Slow;
  template <class V>
  void visit(V& v) {
    v.choice("pace", pace, kPaceNames, "how fast");
  }
};
}  // namespace

// An enum field is read from its name, written back as its name, listed as a key, and a bad name fails
// like a string choice (same message, same hint).
TEST(Config, EnumChoice) {
  EXPECT_EQ(from_yaml_string<WithEnum>("", kSrc).pace, Pace::Slow);
  EXPECT_EQ(from_yaml_string<WithEnum>("pace: fast\n", kSrc).pace, Pace::Fast);
  EXPECT_EQ(from_yaml_string<WithEnum>("", kSrc, {"pace=fast"}).pace, Pace::Fast);
  WithEnum w;
  w.pace = Pace::Fast;
  const auto yaml = srl::config::to_yaml(w);
  EXPECT_NE(yaml.find("pace: fast"), std::string::npos) << yaml;
  EXPECT_EQ(from_yaml_string<WithEnum>(yaml, kSrc).pace, Pace::Fast);
  EXPECT_EQ(srl::config::keys<WithEnum>(), std::vector<std::string>{"pace"});
  EXPECT_EQ(error_of([] { from_yaml_string<WithEnum>("pace: fsat\n", kSrc); }),
            "configs/sft.yaml: pace: 'fsat' is not one of slow, fast; did you mean 'fast'?");
  EXPECT_EQ(error_of([] { from_yaml_string<WithEnum>("pace: 3\n", kSrc); }),
            "configs/sft.yaml: pace: '3' is not one of slow, fast");
  EXPECT_STREQ(srl::config::name_of(kPaceNames, Pace::Fast), "fast");
}
