// Training metrics as JSON Lines (one JSON object per line, e.g. runs/x/metrics.jsonl), written so
// that a killed run keeps every line it logged and a resumed run does not repeat lines.
//
// Non-finite numbers: JSON has no NaN/Infinity, and nlohmann::json writes them as null, so a
// diverged loss shows up as "loss": null. Readers must accept null for any numeric field.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace srl {

class MetricsLog {
 public:
  // Opens `path` for appending (creating it and its parent directories); srl::fail if it cannot.
  explicit MetricsLog(const std::string& path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Appends `row` (must be a JSON object) as one line, handed to the OS before returning.
  // Invalid UTF-8 in strings is replaced (U+FFFD) rather than throwing mid-run.
  void log(const nlohmann::json& row);
  const std::string& path() const { return path_; }

  // For resuming from the checkpoint at `step`: rewrites `path` atomically, keeping rows whose
  // "step" is <= step, plus rows without a numeric "step" that come before the first row past
  // `step`. A torn last line (a kill mid-write) is dropped; other unparsable lines are srl::fail.
  // A missing file is left missing. Call it before opening a MetricsLog on the same path: an open
  // log keeps appending to the replaced file.
  static void truncate_after_step(const std::string& path, int64_t step);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace srl
