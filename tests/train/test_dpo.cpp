// The DPO trainer in-process on the tiny preset: it learns a toy preference ("the shorter reply wins") on
// held-out pairs; at step 0 (LoRA B = 0) the policy is the reference, so the sigmoid loss is exactly log 2;
// the reference cache is reused when nothing changed and recomputed when the data, the init weights or
// the tokenizer did; a resumed run is bitwise identical to an uninterrupted one; the KL estimate is 0 for
// the reference itself; config mistakes are exit-2 errors naming the key.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "data/preference.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"
#include "text/tokenizer.hpp"
#include "train/dpo.hpp"
#include "train/preference_tokens.hpp"
#include "train/reference_cache.hpp"
#include "train/sequence_logps.hpp"

using namespace srl;
namespace stdfs = std::filesystem;

namespace {
const std::string kTmp = (stdfs::temp_directory_path() / "srl_test_dpo").string();

const std::vector<std::string> kTrainSubjects = {
    "order A1234",     "my refund",          "the tent I bought", "my password reset", "my invoice",
    "the delivery",    "a broken zipper",    "my account email",  "the return label",  "a missing parcel",
    "my gift card",    "the hiking boots",   "a double charge",   "my subscription",   "the rain jacket",
    "a late shipment", "the warranty claim", "my loyalty points"};
const std::vector<std::string> kEvalSubjects = {"the sleeping bag", "order B9876",     "my store credit",
                                                "the camping stove", "a wrong size",   "my billing address",
                                                "the backpack strap", "a cancelled order"};
const std::vector<std::string> kOpeners = {"Sure, I can help with {}.", "Thanks, I will look into {} now.",
                                           "Happy to check {} for you."};
const std::vector<std::string> kExtras = {
    "We also sell camping stoves.", "Our store opens at nine tomorrow.", "Please rate this chat afterwards.",
    "Thanks for being a loyal customer.", "Our newsletter has weekly deals.", "The weather is great for hiking."};

std::string fill(std::string t, const std::string& s) { return t.replace(t.find("{}"), 2, s); }

// "Prefer the shorter reply": chosen = one sentence, rejected = the same sentence plus one or two extra
// sentences. The winner's side alternates so position carries no signal.
std::string toy_pairs(const std::vector<std::string>& subjects, int per_subject, uint32_t seed, int ties = 0) {
  std::mt19937 rng(seed);
  std::string out;
  int k = 0;
  for (const auto& s : subjects)
    for (int j = 0; j < per_subject; ++j, ++k) {
      const std::string shorter = fill(kOpeners[(k + j) % kOpeners.size()], s);
      std::string longer = shorter + " " + kExtras[rng() % kExtras.size()];
      if (rng() % 2) longer += " " + kExtras[rng() % kExtras.size()];
      const bool a_short = k % 2 == 0;
      const bool tie = k < ties;
      nlohmann::json row = {{"id", "toy-" + std::to_string(seed) + "-" + std::to_string(k)},
                          {"prompt", "Hi, I have a question about " + s + ". Can you help?"},
                          {"response_a", a_short ? shorter : longer},
                          {"response_b", a_short ? longer : shorter},
                          {"winner", tie ? "tie" : (a_short ? "a" : "b")},
                          {"tags", {{"intent", "toy"}, {"difficulty", "easy"}, {"segment", "smb"}}}};
      out += row.dump() + "\n";
    }
  return out;
}

void save_init(const std::string& dir, const text::Tokenizer& tok, uint64_t seed) {
  auto m = model::init_model(model::LlamaConfig::preset("tiny"), tok, seed);
  model::save_model_files(dir, m, tok);
  model::mark_complete(dir);
}

std::vector<nlohmann::json> rows(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::stringstream ss(fs::read_file(path));
  std::string line;
  while (std::getline(ss, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

class Dpo : public ::testing::Test {
 protected:
  static inline int threads_before = 1;
  static void TearDownTestSuite() { torch::set_num_threads(threads_before); }
  static void SetUpTestSuite() {
    threads_before = torch::get_num_threads();
    torch::set_num_threads(1);  // as config() below, for the tests that call the library directly
    stdfs::remove_all(kTmp);
    fs::write_file_atomic(kTmp + "/train.jsonl", toy_pairs(kTrainSubjects, 4, 1));
    fs::write_file_atomic(kTmp + "/eval.jsonl", toy_pairs(kEvalSubjects, 2, 2));
    fs::write_file_atomic(kTmp + "/small.jsonl", toy_pairs({kTrainSubjects.begin(), kTrainSubjects.begin() + 6}, 2, 3));
    fs::write_file_atomic(kTmp + "/small2.jsonl", toy_pairs({kTrainSubjects.begin(), kTrainSubjects.begin() + 6}, 2, 4));
    fs::write_file_atomic(kTmp + "/ties.jsonl", toy_pairs({kTrainSubjects.begin(), kTrainSubjects.begin() + 6}, 2, 5, 3));
    // Tokenizer corpus: the toy texts and the embedded SFT conversations.
    std::string corpus = fs::read_file(kTmp + "/train.jsonl") + fs::read_file(kTmp + "/eval.jsonl") +
                         fs::read_file(std::string(SRL_SOURCE_DIR) + "/data/demo/support_sft.jsonl");
    fs::write_file_atomic(kTmp + "/corpus.txt", corpus);
    text::TrainOptions o;
    o.input = kTmp + "/corpus.txt";
    o.vocab_size = 1000;
    o.out_dir = kTmp + "/tok";
    text::Tokenizer::train(o);
    o.vocab_size = 960;
    o.out_dir = kTmp + "/tok2";
    text::Tokenizer::train(o);
    const auto tok = text::Tokenizer::load(kTmp + "/tok"), tok2 = text::Tokenizer::load(kTmp + "/tok2");
    // The "SFT runs" DPO starts from: random tiny models (what DPO needs from them is only a checkpoint).
    save_init(kTmp + "/init", tok, 1);
    save_init(kTmp + "/init_seed2", tok, 2);    // other weights, same tokenizer
    save_init(kTmp + "/init_tok2", tok2, 1);    // same weights, other tokenizer
  }

  static train::DpoConfig config(const std::string& out) {
    train::DpoConfig c;
    c.output_dir = kTmp + "/" + out;
    c.model.init = kTmp + "/init";
    c.data.train_file = kTmp + "/train.jsonl";
    c.data.eval_file = kTmp + "/eval.jsonl";
    c.data.max_prompt_len = 48;
    c.data.max_seq_len = 96;
    c.lora.lora_rank = 8;
    c.lora.lora_alpha = 16;
    c.train.batch_size = 8;
    c.train.max_steps = 4;
    c.train.warmup_steps = 0;
    c.train.eval_every = 0;
    c.train.save_every = 0;
    c.train.log_every = 1;
    c.train.kl_samples = 0;
    c.compute.dtype = train::DtypePolicy::Fp32;
    c.compute.threads = 1;  // the tiny model gains nothing from a second thread on a shared machine
    return c;
  }

  static train::DpoOptions quiet() {
    train::DpoOptions o;
    o.progress = false;
    return o;
  }

  static std::vector<train::TokenizedPair> tokenized(const std::string& file, const text::Tokenizer& tok) {
    train::PairTokenizeOptions po;
    po.max_prompt_len = 48;
    po.max_seq_len = 96;
    return train::tokenize_pairs(data::load_pairs(file), tok, po, file);
  }

  static void expect_bad_input(const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      FAIL() << "expected an srl::Error mentioning " << needle;
    } catch (const srl::Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
};
}  // namespace

TEST_F(Dpo, LearnsToPreferTheShorterReplyOnHeldOutPairs) {
  auto c = config("learn");
  c.train.max_steps = 30;
  c.train.learning_rate = 1e-2;
  c.train.schedule = train::Schedule::Constant;
  c.train.kl_samples = 4;
  c.train.max_new_tokens = 12;
  auto r = train::run_dpo(c, quiet());
  ASSERT_EQ(r.step, 30);
  // At step 0 every implicit reward is 0, so no pair counts as accurate; training must get above 0.9.
  EXPECT_GT(r.eval.at("eval/rewards/accuracies"), 0.9);
  EXPECT_GT(r.eval.at("eval/rewards/margins"), 0.0);
  EXPECT_LT(r.eval.at("eval/loss"), std::log(2.0));
  ASSERT_TRUE(r.kl_to_reference.has_value());
  EXPECT_TRUE(std::isfinite(*r.kl_to_reference));
  EXPECT_GT(*r.kl_response_length, 0.0);
  // metrics.jsonl: one row per step with the TRL names, the final one with the held-out metrics.
  auto m = rows(kTmp + "/learn/metrics.jsonl");
  ASSERT_EQ(m.size(), 30u);
  for (auto k : {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                 "logps/chosen", "logps/rejected", "lr", "grad_norm", "tokens_per_s", "length/chosen"})
    EXPECT_TRUE(m.back().contains(k)) << k;
  EXPECT_EQ(m.back()["stage"], "dpo");
  EXPECT_DOUBLE_EQ(m.back()["eval/rewards/accuracies"].get<double>(), r.eval.at("eval/rewards/accuracies"));
  EXPECT_TRUE(m.back().contains("kl_to_reference"));
  auto ej = nlohmann::json::parse(fs::read_file(kTmp + "/learn/eval.json"));
  EXPECT_DOUBLE_EQ(ej["metrics"]["eval/rewards/accuracies"].get<double>(), r.eval.at("eval/rewards/accuracies"));
  EXPECT_EQ(ej["ties_skipped"]["train"], 0);
  EXPECT_TRUE(stdfs::exists(kTmp + "/learn/final/adapter_model.safetensors"));
}

TEST_F(Dpo, AtStepZeroThePolicyIsTheReferenceSoTheLossIsLog2) {
  // LoRA B starts at 0, so policy and reference log-probs agree pair by pair: loss log 2, rewards 0. A
  // reference cache read back for the wrong pairs (or from another model) would break it.
  for (bool cached : {true, false}) {
    auto c = config(cached ? "step0_cached" : "step0_live");
    c.dpo.reference_cache = cached;
    c.train.max_steps = 1;
    c.data.eval_file = "";
    train::run_dpo(c, quiet());
    auto m = rows(c.output_dir + "/metrics.jsonl");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_NEAR(m[0]["loss"].get<double>(), std::log(2.0), 1e-5) << "cached " << cached;
    EXPECT_NEAR(m[0]["rewards/chosen"].get<double>(), 0.0, 1e-5);
    EXPECT_NEAR(m[0]["rewards/rejected"].get<double>(), 0.0, 1e-5);
    EXPECT_NEAR(m[0]["rewards/margins"].get<double>(), 0.0, 1e-5);
    EXPECT_LT(m[0]["logps/chosen"].get<double>(), -1.0);  // real log-probs, not zeros
    EXPECT_GT(m[0]["grad_norm"].get<double>(), 0.0);
  }
}

TEST_F(Dpo, IpoWithALiveReferenceAndReferenceFreeSimpoTrain) {
  // ipo at step 0: every log-ratio is 0, so the loss is (0 - 1/(2 beta))^2 = 25 for beta 0.1; the reference
  // is recomputed each step (reference_cache: false), also for the held-out pairs.
  auto ipo = config("ipo");
  ipo.dpo.loss_type = train::DpoLossType::Ipo;
  ipo.dpo.reference_cache = false;
  ipo.train.max_steps = 2;
  auto r = train::run_dpo(ipo, quiet());
  auto m = rows(ipo.output_dir + "/metrics.jsonl");
  EXPECT_NEAR(m[0]["loss"].get<double>(), 25.0, 1e-3);
  EXPECT_TRUE(std::isfinite(r.eval.at("eval/loss")));
  EXPECT_FALSE(stdfs::exists(ipo.output_dir + "/reference_logps"));
  // simpo needs no reference, so it may train all weights (lora_rank 0).
  auto simpo = config("simpo");
  simpo.dpo.loss_type = train::DpoLossType::Simpo;
  simpo.dpo.reference_cache = false;
  simpo.lora.lora_rank = 0;
  simpo.train.max_steps = 2;
  simpo.train.learning_rate = 1e-4;
  auto s = train::run_dpo(simpo, quiet());
  EXPECT_TRUE(std::isfinite(s.last_loss));
  EXPECT_TRUE(std::isfinite(s.eval.at("eval/rewards/margins")));
  EXPECT_FALSE(stdfs::exists(simpo.output_dir + "/final/adapter_model.safetensors"));
  EXPECT_FALSE(stdfs::exists(simpo.output_dir + "/reference_logps"));
}

TEST_F(Dpo, ReferenceCacheIsReusedAndInvalidatedByDataWeightsAndTokenizer) {
  auto run = [&](const std::string& out, const std::string& train_file, const std::string& init) {
    auto c = config(out);
    c.data.train_file = kTmp + "/" + train_file;
    c.data.eval_file = "";
    c.model.init = kTmp + "/" + init;
    c.dpo.reference_cache_dir = kTmp + "/shared_ref";
    c.train.max_steps = 1;
    return train::run_dpo(c, quiet());
  };
  EXPECT_FALSE(run("c1", "small.jsonl", "init").train_reference_cache_hit);
  EXPECT_TRUE(run("c2", "small.jsonl", "init").train_reference_cache_hit);        // nothing changed
  EXPECT_FALSE(run("c3", "small2.jsonl", "init").train_reference_cache_hit);      // other data
  EXPECT_FALSE(run("c4", "small.jsonl", "init").train_reference_cache_hit);       // back: recomputed again
  EXPECT_FALSE(run("c5", "small.jsonl", "init_seed2").train_reference_cache_hit); // other weights
  EXPECT_FALSE(run("c6", "small.jsonl", "init_tok2").train_reference_cache_hit);  // other tokenizer
  EXPECT_TRUE(run("c7", "small.jsonl", "init_tok2").train_reference_cache_hit);
  // The default location is inside the run directory.
  auto c = config("default_dir");
  c.train.max_steps = 1;
  c.data.eval_file = "";
  train::run_dpo(c, quiet());
  EXPECT_TRUE(stdfs::exists(kTmp + "/default_dir/reference_logps/train.safetensors"));
  EXPECT_TRUE(stdfs::exists(kTmp + "/default_dir/reference_logps/train.json"));
}

TEST_F(Dpo, ReferenceCacheSaysWhyAndHoldsAdaptersOffLogps) {
  auto lm = model::load_model(kTmp + "/init");
  auto m = lm.model;
  model::LoraConfig lc;
  lc.r = 4;
  m->add_lora(lc);
  {
    torch::NoGradGuard ng;  // adapters that change the output: the reference must not see them
    for (auto& [n, t] : m->lora_tensors())
      if (n.find("lora_B") != std::string::npos) t.normal_(0.0, 0.05);
  }
  train::Compute cmp;
  const std::string dir = kTmp + "/lib_ref";
  auto pairs = tokenized(kTmp + "/small.jsonl", lm.tokenizer);
  auto a = train::load_or_compute_reference_logps(m, lm.tokenizer, pairs, dir, "train", cmp, 4);
  EXPECT_FALSE(a.hit);
  EXPECT_EQ(a.why, "no cache yet");
  EXPECT_TRUE(m->adapters_enabled());  // restored
  auto b = train::load_or_compute_reference_logps(m, lm.tokenizer, pairs, dir, "train", cmp, 4);
  EXPECT_TRUE(b.hit);
  EXPECT_TRUE(torch::equal(a.logps.chosen, b.logps.chosen));
  EXPECT_TRUE(torch::equal(a.logps.rejected, b.logps.rejected));

  // The cached numbers are the base model's: the same as a model without adapters, and different from
  // the adapted policy's.
  auto plain = model::load_model(kTmp + "/init").model;
  auto ref = train::compute_reference_logps(plain, pairs, cmp, 3);
  EXPECT_TRUE(torch::allclose(a.logps.chosen, ref.chosen, 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(a.logps.rejected, ref.rejected, 1e-5, 1e-4));
  {
    torch::NoGradGuard ng;
    train::PairedSequences ps;
    for (auto& p : pairs) ps.prompts.push_back(p.prompt), ps.chosen.push_back(p.chosen()), ps.rejected.push_back(p.rejected());
    auto pol = train::sequence_logps(m, ps);
    EXPECT_GT((pol.chosen - a.logps.chosen).abs().max().item<double>(), 1e-2);
  }

  // Other data: recomputed, and the log line names what changed.
  auto pairs2 = tokenized(kTmp + "/small2.jsonl", lm.tokenizer);
  auto c = train::load_or_compute_reference_logps(m, lm.tokenizer, pairs2, dir, "train", cmp, 4);
  EXPECT_FALSE(c.hit);
  EXPECT_NE(c.why.find("data"), std::string::npos) << c.why;
  EXPECT_EQ(c.why.find("weights"), std::string::npos) << c.why;
  auto fresh = train::compute_reference_logps(m, pairs2, cmp, 4);
  EXPECT_TRUE(torch::equal(c.logps.chosen, fresh.chosen));

  // Other weights.
  auto other = model::load_model(kTmp + "/init_seed2");
  auto d = train::load_or_compute_reference_logps(other.model, other.tokenizer, pairs2, dir, "train", cmp, 4);
  EXPECT_FALSE(d.hit);
  EXPECT_NE(d.why.find("weights"), std::string::npos) << d.why;

  // Other tokenizer (same weights): the tokenizer part and the token ids change.
  auto tk2 = model::load_model(kTmp + "/init_tok2");
  EXPECT_EQ(train::base_weights_hash(tk2.model), train::base_weights_hash(plain));
  auto pairs_t2 = tokenized(kTmp + "/small2.jsonl", tk2.tokenizer);
  auto e = train::load_or_compute_reference_logps(tk2.model, tk2.tokenizer, pairs_t2, dir, "train", cmp, 4);
  EXPECT_FALSE(e.hit);
  EXPECT_NE(e.why.find("tokenizer"), std::string::npos) << e.why;

  // Compute dtype is part of the key.
  train::Compute bf = cmp;
  bf.bf16 = true;
  auto k32 = train::reference_cache_key(plain, lm.tokenizer, pairs, cmp);
  auto k16 = train::reference_cache_key(plain, lm.tokenizer, pairs, bf);
  EXPECT_EQ(k32.differing_parts(k16.to_json()), std::vector<std::string>{"dtype"});
  EXPECT_NE(k32.digest(), k16.digest());

  // A corrupt cache file is recomputed, not an error and not reused.
  fs::write_file_atomic(dir + "/train.safetensors", "garbage");
  auto f = train::load_or_compute_reference_logps(tk2.model, tk2.tokenizer, pairs_t2, dir, "train", cmp, 4);
  EXPECT_FALSE(f.hit);
  EXPECT_TRUE(torch::equal(f.logps.chosen, e.logps.chosen));
  EXPECT_TRUE(train::load_or_compute_reference_logps(tk2.model, tk2.tokenizer, pairs_t2, dir, "train", cmp, 4).hit);
}

TEST_F(Dpo, ResumeIsBitwiseIdenticalToUninterruptedRun) {
  auto straight = config("straight");
  straight.train.batch_size = 4;
  straight.train.grad_accum = 2;
  straight.train.eval_every = 2;
  straight.train.kl_samples = 2;
  straight.train.max_new_tokens = 6;
  straight.train.learning_rate = 5e-3;
  straight.lora.lora_dropout = 0.1;  // consumes the RNG, so its state must be restored on resume
  auto r0 = train::run_dpo(straight, quiet());
  auto split = straight;
  split.output_dir = kTmp + "/split";
  auto opt = quiet();
  opt.stop_after_step = 2;
  auto r1 = train::run_dpo(split, opt);
  EXPECT_EQ(r1.step, 2);
  EXPECT_FALSE(stdfs::exists(kTmp + "/split/eval.json"));
  auto ropt = quiet();
  ropt.resume = true;
  auto r2 = train::run_dpo(split, ropt);
  EXPECT_EQ(r2.step, 4);
  EXPECT_TRUE(r2.train_reference_cache_hit);  // the run's own cache, key unchanged by resuming
  EXPECT_TRUE(r2.eval_reference_cache_hit);
  for (auto file : {"adapter_model.safetensors", "trainer_state.safetensors", "model.safetensors"}) {
    auto a = model::safetensors::load(kTmp + "/straight/final/" + file).tensors;
    auto b = model::safetensors::load(kTmp + "/split/final/" + file).tensors;
    ASSERT_EQ(a.size(), b.size());
    for (auto& [n, t] : a) EXPECT_TRUE(torch::equal(t, b.at(n))) << file << " " << n;
  }
  auto a = rows(kTmp + "/straight/metrics.jsonl"), b = rows(kTmp + "/split/metrics.jsonl");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i].erase("tokens_per_s");
    b[i].erase("tokens_per_s");
    EXPECT_EQ(a[i], b[i]) << "row " << i;
  }
  EXPECT_TRUE(a[1].contains("eval/loss"));
  EXPECT_TRUE(a[1].contains("kl_to_reference"));
  EXPECT_EQ(r0.eval, r2.eval);
  EXPECT_EQ(*r0.kl_to_reference, *r2.kl_to_reference);
}

TEST_F(Dpo, KlEstimateIsZeroForTheReferenceAndPositiveAwayFromIt) {
  auto lm = model::load_model(kTmp + "/init");
  auto m = lm.model;
  model::LoraConfig lc;
  lc.r = 4;
  m->add_lora(lc);
  std::vector<std::vector<int64_t>> prompts;
  for (auto& p : tokenized(kTmp + "/eval.jsonl", lm.tokenizer)) prompts.push_back(p.prompt);
  prompts.resize(8);
  auto k0 = train::estimate_kl_to_reference(m, lm.tokenizer, prompts, 16, 7);
  EXPECT_EQ(k0.samples, 8);
  EXPECT_GT(k0.response_length, 0.0);
  EXPECT_NEAR(k0.kl, 0.0, 1e-3);  // adapters with B = 0: the policy is the reference
  {
    torch::NoGradGuard ng;
    for (auto& [n, t] : m->lora_tensors())
      if (n.find("lora_B") != std::string::npos) t.normal_(0.0, 0.05);
  }
  auto k1 = train::estimate_kl_to_reference(m, lm.tokenizer, prompts, 16, 7);
  EXPECT_GT(k1.kl, 0.05);
  EXPECT_TRUE(m->adapters_enabled());
}

TEST_F(Dpo, TiesAreSkippedAndCountedOrAnErrorNamingTheLine) {
  auto c = config("ties");
  c.data.train_file = kTmp + "/ties.jsonl";
  c.data.eval_file = "";
  c.train.max_steps = 1;
  auto r = train::run_dpo(c, quiet());
  EXPECT_EQ(r.train_ties_skipped, 3);
  EXPECT_EQ(r.train_pairs, 9);
  auto m = rows(kTmp + "/ties/metrics.jsonl");
  EXPECT_EQ(m[0]["data/train_ties_skipped"], 3);
  EXPECT_EQ(nlohmann::json::parse(fs::read_file(kTmp + "/ties/eval.json"))["ties_skipped"]["train"], 3);
  auto e = config("ties_error");
  e.data.train_file = kTmp + "/ties.jsonl";
  e.data.ties = train::TiePolicy::Error;
  expect_bad_input([&] { train::run_dpo(e, quiet()); }, "ties.jsonl:1");
}

TEST_F(Dpo, ConfigMistakesAreExit2ErrorsNamingTheKey) {
  auto simpo = config("bad");
  simpo.dpo.loss_type = train::DpoLossType::Simpo;
  expect_bad_input([&] { train::check_dpo_config(simpo); }, "dpo.reference_cache");
  simpo.dpo.reference_cache = false;
  EXPECT_NO_THROW(train::check_dpo_config(simpo));
  simpo.lora.lora_rank = 0;  // simpo needs no reference, so full fine-tuning is allowed
  EXPECT_NO_THROW(train::check_dpo_config(simpo));

  auto full = config("bad");
  full.lora.lora_rank = 0;
  expect_bad_input([&] { train::check_dpo_config(full); }, "lora.lora_rank");
  full.dpo.loss_type = train::DpoLossType::Ipo;
  expect_bad_input([&] { train::check_dpo_config(full); }, "lora.lora_rank");

  auto beta = config("bad");
  beta.dpo.beta = 0;
  expect_bad_input([&] { train::check_dpo_config(beta); }, "dpo.beta");
  auto hinge = config("bad");
  hinge.dpo.loss_type = train::DpoLossType::Hinge;
  hinge.dpo.label_smoothing = 0.1;
  expect_bad_input([&] { train::check_dpo_config(hinge); }, "dpo.label_smoothing");

  auto missing = config("missing_init");
  missing.model.init = kTmp + "/no_such_sft_run";
  expect_bad_input([&] { train::run_dpo(missing, quiet()); }, "no_such_sft_run");
  EXPECT_FALSE(stdfs::exists(kTmp + "/missing_init"));  // nothing written before the check

  auto ctx = config("too_long");
  ctx.data.max_seq_len = 4096;  // tiny's context is 512
  expect_bad_input([&] { train::run_dpo(ctx, quiet()); }, "data.max_seq_len");

  auto resume_nothing = config("nothing_here");
  auto ro = quiet();
  ro.resume = true;
  expect_bad_input([&] { train::run_dpo(resume_nothing, ro); }, "--resume");
}
