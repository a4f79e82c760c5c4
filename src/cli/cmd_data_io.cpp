// Placeholder until the data_io subcommands land.
#include "cli/commands.hpp"

namespace srl::cli {

void register_data_io(CLI::App& data) { (void)data; }

}  // namespace srl::cli
