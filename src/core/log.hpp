// Logging setup: one spdlog logger on stderr for the whole program. Call once from main.
#pragma once

namespace srl::log {

// verbosity 0 = warnings and errors, 1 = info, 2 = debug, 3+ = trace.
// Replaces spdlog's default logger, so spdlog::info(...) etc. go through it. Safe to call again.
void init(int verbosity);

}  // namespace srl::log
