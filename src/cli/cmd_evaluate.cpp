// `supportrl evaluate --config FILE [--input F] [--policy RUN] [--baseline RUN|EVAL_DIR] [--out DIR]
//                     [--set k=v]... [--print-config]`
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "eval/evaluate.hpp"

namespace srl::cli {

namespace {

void print_summary(const nlohmann::json& ev) {
  std::cout << "evaluate: " << ev["prompts"].get<int64_t>() << " prompts";
  if (ev["win_rate_vs_baseline"].is_object())
    for (const auto& [judge, wr] : ev["win_rate_vs_baseline"].items())
      std::cout << ", win rate (" << judge << ") " << wr["estimate"].get<double>() << " [" << wr["ci95"][0].get<double>()
                << ", " << wr["ci95"][1].get<double>() << "]";
  for (const char* k : {"mean_reward", "mean_panel_score", "refusal_rate", "unsafe_compliance_rate", "kl_to_reference",
                        "mean_length"})
    if (ev[k].is_number()) std::cout << ", " << k << " " << ev[k].get<double>();
  std::cout << "\n";
}

}  // namespace

void register_evaluate(CLI::App& app) {
  struct Flags {
    std::string config_path, input, policy, baseline, out;
    std::vector<std::string> sets;
    bool print_config = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("evaluate",
                               "Answer held-out prompts and compare with a baseline: win rates with 95% intervals, "
                               "safety, latency (writes eval.json, transcripts.jsonl)");
  c->add_option("--config", f->config_path, "YAML config (e.g. configs/support_eval.yaml)")->required();
  c->add_option("--input", f->input, "JSONL prompts (overrides evaluate.input)");
  c->add_option("--policy", f->policy, "run or checkpoint directory to evaluate (overrides evaluate.policy)");
  c->add_option("--baseline", f->baseline,
                "run directory, or an earlier evaluate output whose replies are reused (overrides evaluate.baseline)");
  c->add_option("--out", f->out, "output directory (overrides evaluate.output_dir)");
  c->add_option("--set", f->sets, "override a config key: section.key=value (repeatable)");
  c->add_flag("--print-config", f->print_config, "print the resolved config and exit");
  c->callback([f] {
    auto cfg = config::load<eval::EvaluateFileConfig>(f->config_path, f->sets);
    if (!f->input.empty()) cfg.evaluate.input = f->input;
    if (!f->policy.empty()) cfg.evaluate.policy = f->policy;
    if (!f->baseline.empty()) cfg.evaluate.baseline = f->baseline;
    if (!f->out.empty()) cfg.evaluate.output_dir = f->out;
    if (f->print_config) {
      std::cout << config::to_yaml(cfg);
      return;
    }
    print_summary(eval::run_evaluate(cfg.evaluate, cfg.compute));
    std::cout << "wrote " << cfg.evaluate.output_dir << "/eval.json and transcripts.jsonl\n";
  });
}

}  // namespace srl::cli
