// JSON Lines metrics log: O_APPEND writes of whole lines, and atomic truncation for resumes.
#include "core/metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace srl {

MetricsLog::MetricsLog(const std::string& path) : path_(path) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) fs::make_dirs(p.parent_path().string());
  // O_APPEND + one write() per line: no user-space buffer to lose when the process is killed.
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path, std::string("cannot open metrics log: ") + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::log(const nlohmann::json& row) {
  if (!row.is_object()) fail_internal(path_, "metrics row must be a JSON object, got " + row.dump());
  std::string line = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path_, std::string("cannot write metrics: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
}

void MetricsLog::truncate_after_step(const std::string& path, int64_t step) {
  if (!fs::exists(path)) return;
  const std::string text = fs::read_file(path);
  std::string kept;
  bool past = false;  // seen a row with step > `step`: stepless rows after it belong to the dropped part
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    const bool torn = end == std::string::npos;  // no newline: the write was cut off
    if (torn) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      if (torn) break;
      fail(path + ":" + std::to_string(line_no), std::string("not a JSON line: ") + e.what());
    }
    bool keep;
    if (row.is_object() && row.contains("step") && row["step"].is_number()) {
      const auto& s = row["step"];
      const bool after = s.is_number_integer() ? s.get<int64_t>() > step : s.get<double>() > static_cast<double>(step);
      past = past || after;
      keep = !after;
    } else {
      keep = !past;
    }
    if (keep) kept += line + "\n";
  }
  fs::write_file_atomic(path, kept);
}

}  // namespace srl
