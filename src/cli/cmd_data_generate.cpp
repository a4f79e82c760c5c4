// `supportrl data generate --out-dir DIR --seed N [--pairs-per-prompt K] [--noise X]`: the synthetic
// Northwind Gear preference data set (src/data/generate_dataset.hpp). With --candidates-from, each train
// and val prompt also gets a pair in which one side is a reply sampled from a trained policy (the "baseline
// model drafts"), labelled by the same panel.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/commands.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "data/generate_dataset.hpp"
#include "model/checkpoint.hpp"
#include "model/generate.hpp"

namespace srl::cli {

namespace {

// Appends one policy-draft pair per prompt of `recs` (the prompt's first pair supplies the other side).
// Returns how many were added; replies that are empty or equal to the other side are skipped.
size_t add_policy_pairs(std::vector<data::PreferenceRecord>& recs, model::LoadedModel& lm, data::AnnotatorPanel& panel,
                        uint64_t seed, size_t* skipped) {
  std::vector<size_t> firsts;
  std::set<std::string> seen;
  for (size_t i = 0; i < recs.size(); ++i)
    if (seen.insert(recs[i].prompt).second) firsts.push_back(i);
  model::SamplingParams sp;
  sp.temperature = 0.8;
  sp.top_p = 0.95;
  sp.max_new_tokens = 160;
  sp.seed = seed;
  model::set_chat_stops(sp, lm.tokenizer);
  std::vector<data::PreferenceRecord> added;
  const size_t kBatch = 16;
  for (size_t c = 0; c < firsts.size(); c += kBatch) {
    std::vector<std::vector<int64_t>> prompts;
    for (size_t k = c; k < std::min(firsts.size(), c + kBatch); ++k) {
      auto ids = text::render_prompt(lm.tokenizer, {{"user", recs[firsts[k]].prompt}});
      prompts.emplace_back(ids.begin(), ids.end());
    }
    sp.seed = seed + c;
    auto gens = model::generate(lm.model, prompts, sp);
    for (size_t k = 0; k < gens.size(); ++k) {
      const auto& base = recs[firsts[c + k]];
      std::vector<int> toks(gens[k].tokens.begin(), gens[k].tokens.end());
      std::string draft = text::parse_reply(lm.tokenizer, toks).message.content;
      const std::string& other = base.response_a;
      if (draft.find_first_not_of(" \t\n\r") == std::string::npos || draft == other) {
        ++*skipped;
        continue;
      }
      data::PreferenceRecord r = base;
      r.id = base.id + "-policy";
      const bool policy_first = (std::stoull(fnv1a64_hex(r.id + std::to_string(seed)), nullptr, 16) & 1) != 0;
      r.response_a = policy_first ? draft : other;
      r.response_b = policy_first ? other : draft;
      std::string other_label;
      for (auto& [k2, v] : base.tags)
        if (k2 == "variation_a") other_label = v;
      for (auto& [k2, v] : r.tags) {
        if (k2 == "variation_a") v = policy_first ? "policy" : other_label;
        if (k2 == "variation_b") v = policy_first ? other_label : "policy";
      }
      auto j = panel.judge(base.expectation, r.response_a, r.response_b);
      r.winner = j.winner;
      r.rationale = j.rationale;
      r.prob_a = j.prob_a;
      added.push_back(std::move(r));
    }
  }
  recs.insert(recs.end(), added.begin(), added.end());
  return added.size();
}

}  // namespace

void register_data_generate(CLI::App& data) {
  auto* c = data.add_subcommand("generate", "Generate the synthetic support preference data set and its card");
  static data::GenerateOptions opt;
  c->add_option("--out-dir", opt.out_dir, "output directory (created)")->required();
  c->add_option("--seed", opt.seed, "seed: same seed, byte-identical files")->required();
  c->add_option("--pairs-per-prompt", opt.pairs_per_prompt, "preference pairs per prompt")
      ->capture_default_str()->check(CLI::PositiveNumber);
  c->add_option("--noise", opt.noise, "annotator noise: Bradley-Terry temperature (0 = noiseless)")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  c->add_option("--annotators", opt.annotators, "simulated annotators in the panel")
      ->capture_default_str()->check(CLI::PositiveNumber);
  c->add_option("--train-pairs", opt.train_pairs, "training pairs")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--val-pairs", opt.val_pairs, "validation pairs")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--rl-prompts", opt.rl_prompts, "prompts for RL")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--eval-prompts", opt.eval_prompts, "held-out eval prompts")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--sft-answers", opt.sft_answers,
                "SFT replies: agent (historical transcripts of mixed quality) or ideal")
      ->capture_default_str()
      ->check(CLI::IsMember({"agent", "ideal"}));
  c->add_option("--sft", opt.sft_conversations, "SFT conversations")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--customer-share", opt.customer_share,
                "share of training/RL/SFT prompts written the way customers write (eval prompts stay templates)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  static std::string candidates_from;
  c->add_option("--candidates-from", candidates_from,
                "run or checkpoint dir: add a pair per prompt with a reply sampled from this policy");
  c->callback([] {
    auto t0 = std::chrono::steady_clock::now();
    data::GeneratedDataset ds;
    if (candidates_from.empty()) {
      ds = data::generate_dataset(opt);
    } else {
      ds = data::build_dataset(opt);
      auto lm = model::load_model(candidates_from);
      lm.model->eval();
      auto panel = data::dataset_panel(opt);
      size_t skipped = 0;
      size_t n = add_policy_pairs(ds.train, lm, panel, opt.seed * 7919 + 1, &skipped);
      n += add_policy_pairs(ds.val, lm, panel, opt.seed * 7919 + 2, &skipped);
      auto files = data::render_dataset_files(ds, opt);
      files["README.md"] += "\n## Policy drafts\n\n" + std::to_string(n) + " pairs (one per train/val prompt) have one side "
                            "sampled from the policy in `" + lm.dir + "` (temperature 0.8, top-p 0.95), labelled `policy` in "
                            "`tags.variation_a`/`variation_b` and judged by the same panel; " + std::to_string(skipped) +
                            " empty or duplicate drafts were skipped.\n";
      fs::make_dirs(opt.out_dir);
      for (const auto& [name, bytes] : files) fs::write_file_atomic(opt.out_dir + "/" + name, bytes);
      std::printf("data generate: added %zu policy-draft pairs from %s (%zu skipped)\n", n, lm.dir.c_str(), skipped);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    size_t ties = 0;
    for (const auto* v : {&ds.train, &ds.val})
      for (const auto& r : *v) ties += r.winner == "tie";
    std::printf("data generate: %zu train pairs, %zu val pairs, %zu RL prompts, %zu eval prompts, %zu SFT conversations\n",
                ds.train.size(), ds.val.size(), ds.rl_prompts.size(), ds.eval_prompts.size(), ds.sft.size());
    std::printf("ties %.1f%%, agreement ceiling %.1f%%, fresh panel agreement %.1f%% (%zu pairs)\n",
                100.0 * ties / std::max<size_t>(1, ds.train.size() + ds.val.size()), 100 * ds.fresh.ceiling,
                100 * ds.fresh.agreement, ds.fresh.compared);
    std::printf("wrote %s/ in %.2f s\n", opt.out_dir.c_str(), secs);
  });
}

}  // namespace srl::cli
