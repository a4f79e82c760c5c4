// `supportrl data ...`: the preference-data tools. Each group registers its own subcommands.
#include "cli/commands.hpp"

namespace srl::cli {

void register_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Preference data: validate, import, export, anonymize, split, generate");
  data->require_subcommand(1);
  register_data_io(*data);
  register_data_clean(*data);
  register_data_generate(*data);
}

}  // namespace srl::cli
