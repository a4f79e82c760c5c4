// `supportrl data generate --out-dir DIR --seed N [--pairs-per-prompt K] [--noise X]`: the synthetic
// Northwind Gear preference data set (src/data/generate_dataset.hpp).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "data/generate_dataset.hpp"

namespace srl::cli {

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
  c->add_option("--sft", opt.sft_conversations, "SFT conversations")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->callback([] {
    auto t0 = std::chrono::steady_clock::now();
    auto ds = data::generate_dataset(opt);
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
