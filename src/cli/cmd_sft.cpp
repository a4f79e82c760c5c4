// `supportrl sft --config FILE [--set k=v]... [--resume]`
#include <iostream>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "train/sft.hpp"

namespace srl::cli {

void register_sft(CLI::App& app) {
  auto* c = app.add_subcommand("sft", "Supervised fine-tuning on JSONL conversations");
  static std::string config_path;
  static std::vector<std::string> sets;
  static train::SftOptions opt;
  static bool print_config = false;
  c->add_option("--config", config_path, "YAML config (e.g. configs/sft.yaml)")->required();
  c->add_option("--set", sets, "override a config key: section.key=value (repeatable)");
  c->add_flag("--resume", opt.resume, "continue from the newest complete checkpoint in output_dir");
  c->add_option("--stop-after-step", opt.stop_after_step, "stop (after checkpointing) at this step")
      ->group("");  // for tests that simulate an interrupted run
  c->add_flag("--print-config", print_config, "print the resolved config and exit");
  c->callback([] {
    auto cfg = config::load<train::SftConfig>(config_path, sets);
    if (print_config) {
      std::cout << config::to_yaml(cfg);
      return;
    }
    auto res = train::run_sft(cfg, opt);
    std::cout << "sft: step " << res.step << ", loss " << res.last_loss;
    if (res.eval_nll) std::cout << ", eval_nll " << *res.eval_nll;
    std::cout << "\ncheckpoint: " << res.checkpoint_dir << "\n";
  });
}

}  // namespace srl::cli
