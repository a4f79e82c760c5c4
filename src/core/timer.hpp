// Wall-clock timing of a stage's phases: one clock and one helper for every trainer.
#pragma once
#include <chrono>

namespace srl {

using Clock = std::chrono::steady_clock;

// Seconds elapsed since t0.
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace srl
