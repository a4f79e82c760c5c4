// `supportrl pipeline --config configs/quickstart.yaml [--force STAGE]... [--only STAGE] [--set k=v]...
//  [--print-config]`: every stage from data to report, skipping what is unchanged (src/pipeline/).
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "pipeline/pipeline.hpp"

namespace srl::cli {

namespace {

// The command line as typed, for the report's "how it was produced" section.
std::string command_line(const std::string& config_path, const std::vector<std::string>& force, const std::string& only,
                         const std::vector<std::string>& sets) {
  std::string s = "supportrl pipeline --config " + config_path;
  for (const auto& f : force) s += " --force " + f;
  if (!only.empty()) s += " --only " + only;
  for (const auto& k : sets) s += " --set '" + k + "'";
  return s;
}

}  // namespace

void register_pipeline(CLI::App& app) {
  struct Flags {
    std::string config_path;
    std::vector<std::string> sets;
    pipeline::RunOptions opt;
    bool print_config = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("pipeline",
                               "Run every stage (data, tokenizer, sft, reward model, dpo, both RL methods, evaluation, "
                               "simulation, report), skipping unchanged ones");
  c->add_option("--config", f->config_path, "pipeline YAML (e.g. configs/quickstart.yaml)")->required();
  c->add_option("--force", f->opt.force, "rerun this stage and everything after it that reads its output (repeatable)");
  c->add_option("--only", f->opt.only, "run only this stage; what it reads must be up to date");
  c->add_option("--set", f->sets, "override a pipeline config key: section.key=value (repeatable)");
  c->add_flag("--print-config", f->print_config, "print the pipeline config and every stage's resolved config, then exit");
  c->callback([f] {
    auto cfg = config::load<pipeline::PipelineConfig>(f->config_path, f->sets);
    pipeline::Pipeline p(cfg);
    if (f->print_config) {
      std::cout << p.resolved_yaml();
      return;
    }
    f->opt.command = command_line(f->config_path, f->opt.force, f->opt.only, f->sets);
    const auto state = p.run(f->opt);
    for (const auto& [name, s] : state["stages"].items()) {
      std::cout << name << ": " << s["status"].get<std::string>();
      if (s["status"] == "ran") std::cout << " (" << static_cast<int64_t>(s["seconds"].get<double>() + 0.5) << " s)";
      std::cout << "\n";
    }
    std::cout << "state: " << cfg.pipeline.output_dir << "/pipeline.json\n";
    if (cfg.report.enabled) std::cout << "report: " << cfg.pipeline.report_dir << "/index.html\n";
  });
}

}  // namespace srl::cli
