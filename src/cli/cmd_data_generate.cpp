// Placeholder until the data_generate subcommands land.
#include "cli/commands.hpp"

namespace srl::cli {

void register_data_generate(CLI::App& data) { (void)data; }

}  // namespace srl::cli
