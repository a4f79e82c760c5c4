// Terminal progress bar: throttled redraws with \r, width from the terminal, rate and ETA.
#include "core/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace srl {
namespace {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}

int terminal_width(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string label) : ProgressBar(total, std::move(label), stderr) {}

ProgressBar::ProgressBar(int64_t total, std::string label, std::FILE* out)
    : ProgressBar(total, std::move(label), out, false) {}

ProgressBar::ProgressBar(int64_t total, std::string label, std::FILE* out, bool always_draw)
    : total_(total), label_(std::move(label)), out_(out), enabled_(out && (always_draw || ::isatty(::fileno(out)))) {
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);  // let the first update draw
}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(int64_t done, double elapsed_s, const std::string& suffix, int width) const {
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  // Slow steps (training) read better as seconds per step than as 0.05 it/s.
  const std::string rate_s = rate >= 1.0 || rate == 0.0 ? fmt::format("{:.1f} it/s", rate)
                                                        : fmt::format("{:.1f} s/it", 1.0 / rate);
  std::string head = label_.empty() ? "" : label_ + " ";
  std::string tail;
  if (total_ > 0) {
    const double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
    const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : NAN;
    tail = fmt::format(" {:3.0f}% {}/{} {} ETA {}", frac * 100, done, total_, rate_s, format_duration(eta));
    if (!suffix.empty()) tail += " " + suffix;
    // Whatever the text leaves of the line (minus one column, so the cursor never wraps) is bar.
    const int bar_w = std::min(40, width - 1 - static_cast<int>(head.size() + tail.size()) - 2);
    if (bar_w >= 5) {
      const int filled = static_cast<int>(frac * bar_w);
      head += "[" + std::string(static_cast<size_t>(filled), '#') +
              std::string(static_cast<size_t>(bar_w - filled), '.') + "]";
    }
  } else {
    tail = fmt::format("{} {} {}", done, rate_s, format_duration(elapsed_s));
    if (!suffix.empty()) tail += " " + suffix;
  }
  std::string line = head + tail;
  if (width > 1 && static_cast<int>(line.size()) > width - 1) line.resize(static_cast<size_t>(width - 1));
  return line;
}

void ProgressBar::update(int64_t done, const std::string& suffix) {
  done_ = done;
  suffix_ = suffix;
  draw(total_ > 0 && done >= total_);
}

void ProgressBar::finish() {
  if (finished_) return;
  draw(true);
  if (enabled_ && drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  finished_ = true;
}

void ProgressBar::draw(bool force) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = render(done_, elapsed, suffix_, terminal_width(out_));
  // \r returns to column 0; \x1b[K clears what a longer previous frame left behind.
  std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

}  // namespace srl
