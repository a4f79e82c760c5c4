// supportrl: one binary, one subcommand per pipeline stage. Errors print as one line `error: where: what`;
// exit code 2 for bad input (files, flags, configs), 1 for internal failures.
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace {
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"supportrl: train, align and evaluate a customer-support assistant"};
  app.set_version_flag("--version", std::string("supportrl ") + SRL_VERSION);
  app.require_subcommand(1);
  int verbosity = 1;
  app.add_option("-v,--verbosity", verbosity, "0 = warnings only, 1 = info, 2 = debug")->capture_default_str();
  app.parse_complete_callback([&] { srl::log::init(verbosity); });
  srl::cli::register_tokenizer(app);
  srl::cli::register_init(app);
  srl::cli::register_generate(app);
  srl::cli::register_chat(app);
  srl::cli::register_logprobs(app);
  srl::cli::register_sft(app);
  srl::cli::register_reward(app);
  srl::cli::register_dpo(app);
  srl::cli::register_rl(app);
  srl::cli::register_simulate(app);
  srl::cli::register_report(app);
  srl::cli::register_pipeline(app);
  srl::cli::register_evaluate(app);
  srl::cli::register_guardrail(app);
  srl::cli::register_bench(app);
  srl::cli::register_data(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const srl::Error& e) {
    std::fprintf(stderr, "error: %s\n", first_line(e.what()).c_str());
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error: libtorch: %s\n", first_line(e.what_without_backtrace()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", first_line(e.what()).c_str());
    return 1;
  }
  return 0;
}
