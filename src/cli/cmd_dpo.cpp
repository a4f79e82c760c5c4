// `supportrl dpo --config FILE [--set k=v]... [--resume] [--print-config]`
#include <iostream>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "train/dpo.hpp"

namespace srl::cli {

void register_dpo(CLI::App& app) {
  auto* c = app.add_subcommand("dpo", "Direct preference optimisation (DPO and variants) of an SFT run with LoRA");
  static std::string config_path;
  static std::vector<std::string> sets;
  static train::DpoOptions opt;
  static bool print_config = false;
  c->add_option("--config", config_path, "YAML config (e.g. configs/dpo.yaml)")->required();
  c->add_option("--set", sets, "override a config key: section.key=value (repeatable)");
  c->add_flag("--resume", opt.resume, "continue from the newest complete checkpoint in output_dir");
  c->add_option("--stop-after-step", opt.stop_after_step, "stop (after checkpointing) at this step")
      ->group("");  // for tests that simulate an interrupted run
  c->add_flag("--print-config", print_config, "print the resolved config and exit");
  c->callback([] {
    auto cfg = config::load<train::DpoConfig>(config_path, sets);
    if (print_config) {
      std::cout << config::to_yaml(cfg);
      return;
    }
    auto res = train::run_dpo(cfg, opt);
    std::cout << "dpo: step " << res.step << ", loss " << res.last_loss;
    for (const char* k : {"eval/loss", "eval/rewards/accuracies", "eval/rewards/margins"}) {
      auto it = res.eval.find(k);
      if (it != res.eval.end()) std::cout << ", " << k << " " << it->second;
    }
    if (res.kl_to_reference) std::cout << ", kl_to_reference " << *res.kl_to_reference;
    std::cout << ", ties skipped " << res.train_ties_skipped << " (train) " << res.eval_ties_skipped << " (eval)";
    std::cout << "\ncheckpoint: " << res.checkpoint_dir << "\n";
  });
}

}  // namespace srl::cli
