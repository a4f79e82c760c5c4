// A one-line progress bar (count, percent, rate, ETA) on stderr for interactive use. It draws
// only when its stream is a terminal; in files and pipes the logs carry progress instead.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace srl {

class ProgressBar {
 public:
  // total <= 0: unknown total (count and rate only, no bar or ETA).
  ProgressBar(int64_t total, std::string label);
  // Same, drawing on `out` when it is a terminal (tests pass a non-terminal file).
  ProgressBar(int64_t total, std::string label, std::FILE* out);
  // Draws to `out` even when it is not a terminal (tests, and callers that know better than isatty).
  ProgressBar(int64_t total, std::string label, std::FILE* out, bool always_draw);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Records progress; redraws at most ~10 times a second, and always when done reaches total.
  void update(int64_t done, const std::string& suffix = "");
  // Draws the final state and ends the line. Called by the destructor if not called before.
  void finish();
  bool enabled() const { return enabled_; }

  // The text of one frame, without carriage return or padding; `width` is the terminal width.
  std::string render(int64_t done, double elapsed_s, const std::string& suffix, int width) const;

 private:
  void draw(bool force);

  int64_t total_;
  std::string label_;
  std::FILE* out_;
  bool enabled_;
  bool finished_ = false;
  bool drawn_ = false;
  int64_t done_ = 0;
  std::string suffix_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace srl
