// `supportrl simulate --policy RUN --scenarios N --trials n [--max-turns K] [--seed S] [--out DIR] [--config F]
//  [--set k=v]...`: simulated customers against a policy (docs/simulate.md).
// `supportrl report --pipeline-dir DIR --out DIR [--name NAME]`: the comparison report of a pipeline run
// from its pipeline.json (docs/report_format.md).
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "eval/report.hpp"
#include "eval/simulate_policy.hpp"
#include "pipeline/pipeline.hpp"

namespace srl::cli {

namespace {

// "reports/simulate_dpo" for --policy runs/dpo (the directory's last name).
std::string default_out(const std::string& policy) {
  std::string p = policy;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return "reports/simulate_" + (slash == std::string::npos ? p : p.substr(slash + 1));
}

}  // namespace

void register_simulate(CLI::App& app) {
  struct Flags {
    std::string config_path, policy, out;
    std::optional<int64_t> scenarios, trials, max_turns, seed;
    std::vector<std::string> sets;
    bool print_config = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("simulate", "Play simulated customers (multi-turn, hidden facts, patience) against a policy");
  c->add_option("--policy", f->policy, "run or checkpoint directory")->required();
  c->add_option("--scenarios", f->scenarios, "scenarios, intents round-robin (default 48)");
  c->add_option("--trials", f->trials, "conversations per scenario (default 4)");
  c->add_option("--max-turns", f->max_turns, "agent turns before a conversation is unresolved (default 4)");
  c->add_option("--seed", f->seed, "scenario, customer and sampling seed (default 0)");
  c->add_option("--out", f->out, "output directory (default reports/simulate_<policy dir name>)");
  c->add_option("--config", f->config_path, "YAML with simulate: and compute: sections (optional)");
  c->add_option("--set", f->sets, "override a config key, e.g. compute.threads=2 or simulate.temperature=1 (repeatable)");
  c->add_flag("--print-config", f->print_config, "print the resolved config and exit");
  c->callback([f] {
    auto cfg = f->config_path.empty() ? config::from_yaml_string<eval::SimulateFileConfig>("", "simulate", f->sets)
                                      : config::load<eval::SimulateFileConfig>(f->config_path, f->sets);
    auto& s = cfg.simulate;
    s.policy = f->policy;
    if (f->scenarios) s.scenarios = *f->scenarios;
    if (f->trials) s.trials = *f->trials;
    if (f->max_turns) s.max_turns = *f->max_turns;
    if (f->seed) s.seed = *f->seed;
    if (!f->out.empty()) s.output_dir = f->out;
    if (s.output_dir.empty()) s.output_dir = default_out(f->policy);
    // The flags' names in errors, not the config keys they fill.
    const std::pair<const char*, int64_t> flag_values[] = {
        {"--scenarios", s.scenarios}, {"--trials", s.trials}, {"--max-turns", s.max_turns}};
    for (const auto& [flag, v] : flag_values)
      if (v < 1) fail(flag, "must be at least 1");
    if (s.seed < 0) fail("--seed", "must be >= 0");
    if (f->print_config) {
      std::cout << config::to_yaml(cfg);
      return;
    }
    const auto j = eval::run_simulate(s, cfg.compute);
    std::cout << "simulate: success_rate " << j["success_rate"].get<double>() << ", pass^1 " << j["pass_k"]["1"].get<double>();
    const std::string kmax = std::to_string(s.trials);
    if (s.trials > 1 && j["pass_k"].contains(kmax)) std::cout << ", pass^" << kmax << " " << j["pass_k"][kmax].get<double>();
    std::cout << ", mean_cumulative_reward " << j["mean_cumulative_reward"].get<double>() << "\nwrote "
              << s.output_dir << "/simulate.json and transcripts.jsonl\n";
  });
}

void register_report(CLI::App& app) {
  struct Flags {
    std::string pipeline_dir, out, name;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("report", "Write the comparison report (index.html, report.md, summary.json) of a pipeline run");
  c->add_option("--pipeline-dir", f->pipeline_dir, "the pipeline's output_dir (holds pipeline.json)")->required();
  c->add_option("--out", f->out, "report directory")->required();
  c->add_option("--name", f->name, "report name (default: the pipeline's name)");
  c->callback([f] {
    std::string command = "supportrl report --pipeline-dir " + f->pipeline_dir + " --out " + f->out;
    if (!f->name.empty()) command += " --name " + f->name;
    const auto in = pipeline::report_input_from_state(f->pipeline_dir, f->out, f->name, command);
    eval::write_report(in);
    std::cout << "report: " << in.methods.size() << " methods, wrote " << f->out << "/index.html, report.md, summary.json\n";
  });
}

}  // namespace srl::cli
