// Placeholder until the data_clean subcommands land.
#include "cli/commands.hpp"

namespace srl::cli {

void register_data_clean(CLI::App& data) { (void)data; }

}  // namespace srl::cli
