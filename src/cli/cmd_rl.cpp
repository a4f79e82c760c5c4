// `supportrl direct-preference-rl --config FILE [--prompt-file F] [--set k=v]... [--resume] [--print-config]`
// `supportrl reward-model-rl --config FILE [--prompt-file F] [--set k=v]... [--resume] [--print-config]`
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "eval/judges.hpp"
#include "train/rl.hpp"

namespace srl::cli {

namespace {

struct Flags {
  std::string config_path, prompt_file;
  std::vector<std::string> sets;
  train::RlOptions opt;
  bool print_config = false;
};

CLI::App* add_common(CLI::App& app, const char* name, const char* help, const std::shared_ptr<Flags>& f,
                     const char* example) {
  auto* c = app.add_subcommand(name, help);
  c->add_option("--config", f->config_path, std::string("YAML config (e.g. ") + example + ")")->required();
  c->add_option("--prompt-file", f->prompt_file, "JSONL prompts to train on (overrides rl.data.prompt_file)");
  c->add_option("--set", f->sets, "override a config key: section.key=value (repeatable)");
  c->add_flag("--resume", f->opt.resume, "continue from the newest complete checkpoint in output_dir");
  c->add_option("--stop-after-step", f->opt.stop_after_step, "stop (after checkpointing) at this step")
      ->group("");  // for tests that simulate an interrupted run
  c->add_flag("--print-config", f->print_config, "print the resolved config and exit");
  return c;
}

void print_result(const char* stage, const train::RlResult& res) {
  std::cout << stage << ": step " << res.step;
  for (const char* k : {"reward_mean", "win_rate", "kl", "response_length"}) {
    auto it = res.last.find(k);
    if (it != res.last.end()) std::cout << ", " << k << " " << it->second;
  }
  for (const auto& [k, v] : res.eval) std::cout << ", " << k << " " << v;
  std::cout << "\ncheckpoint: " << res.checkpoint_dir << "\n";
}

}  // namespace

void register_rl(CLI::App& app) {
  auto dp = std::make_shared<Flags>();
  dp->opt.mode = train::RlMode::DirectPreference;
  add_common(app, "direct-preference-rl",
             "Online RL from pairwise comparisons of the policy's own rollouts (judge: panel | reward_model | heuristic)", dp,
             "configs/rl_direct_preference.yaml")
      ->callback([dp] {
        auto cfg = config::load<train::RlFileConfig>(dp->config_path, dp->sets);
        if (!dp->prompt_file.empty()) cfg.rl.data.prompt_file = dp->prompt_file;
        if (dp->print_config) {
          std::cout << config::to_yaml(cfg);
          return;
        }
        auto opt = dp->opt;
        eval::attach_eval_layer(cfg.rl, opt);
        print_result("direct_preference_rl", train::run_rl(cfg.rl, cfg.compute, opt));
      });

  auto rm = std::make_shared<Flags>();
  rm->opt.mode = train::RlMode::RewardModel;
  add_common(app, "reward-model-rl", "Online RL against a trained reward model's scores", rm,
             "configs/rl_reward_model.yaml")
      ->callback([rm] {
        auto cfg = config::load<train::RlRewardModelFileConfig>(rm->config_path, rm->sets);
        if (!rm->prompt_file.empty()) cfg.rl.data.prompt_file = rm->prompt_file;
        if (cfg.rl.reward.reward_model.empty()) cfg.rl.reward.reward_model = cfg.reward_model.output_dir;
        if (rm->print_config) {
          std::cout << config::to_yaml(cfg);
          return;
        }
        auto opt = rm->opt;
        eval::attach_eval_layer(cfg.rl, opt);
        print_result("reward_model_rl", train::run_rl(cfg.rl, cfg.compute, opt));
      });
}

}  // namespace srl::cli
