// Each subcommand registers itself on the CLI11 app; main() dispatches and maps errors to exit codes.
#pragma once
#include <CLI/CLI.hpp>

namespace srl::cli {

void register_tokenizer(CLI::App& app);
void register_init(CLI::App& app);
void register_generate(CLI::App& app);
void register_chat(CLI::App& app);
void register_logprobs(CLI::App& app);
void register_sft(CLI::App& app);
void register_bench(CLI::App& app);
// train-reward-model and score (cmd_reward.cpp)
void register_reward(CLI::App& app);
// dpo (cmd_dpo.cpp)
void register_dpo(CLI::App& app);
// direct-preference-rl and reward-model-rl (cmd_rl.cpp)
void register_rl(CLI::App& app);
// pipeline (cmd_pipeline.cpp)
void register_pipeline(CLI::App& app);
// simulate and report (cmd_eval.cpp)
void register_simulate(CLI::App& app);
void register_report(CLI::App& app);
// evaluate (cmd_evaluate.cpp)
void register_evaluate(CLI::App& app);
// train-guardrail and classify (cmd_guardrail.cpp)
void register_guardrail(CLI::App& app);
void register_data(CLI::App& app);
// Parts of `data`, each in its own file: validate/import/export, anonymize/split, generate.
void register_data_io(CLI::App& data);
void register_data_clean(CLI::App& data);
void register_data_generate(CLI::App& data);

}  // namespace srl::cli
