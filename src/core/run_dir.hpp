// Layout of a run directory and its checkpoints:
//   <root>/checkpoints/step_000200/   one dir per saved step; `COMPLETE` is written into it last
//   <root>/final -> checkpoints/step_000200   (relative symlink, replaced atomically)
// A checkpoint dir without COMPLETE was cut off mid-write and is never resumed from.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace srl {

class RunDir {
 public:
  explicit RunDir(std::string root);
  const std::string& root() const { return root_; }
  // <root>/<name>
  std::string path(const std::string& name) const;
  // <root>/checkpoints/step_000200 (6 digits, more if the step needs them). Not created.
  std::string checkpoint_dir(int64_t step) const;
  // Steps of complete checkpoints, ascending.
  std::vector<int64_t> complete_steps() const;
  // The complete checkpoint with the highest step, if any.
  std::optional<std::string> latest_checkpoint() const;
  // Points <root>/final at checkpoints/step_XXXXXX (which must be complete), replacing any old
  // link atomically: a reader sees the old target or the new one, never no link.
  void set_final(int64_t step);
  // Deletes complete checkpoints except the newest `keep_last` (>= 1) and the one `final` points
  // at, and incomplete ones older than the newest complete checkpoint (leftovers of crashes).
  void prune_checkpoints(int keep_last);

  static constexpr const char* kCompleteMarker = "COMPLETE";

 private:
  std::string root_;
};

// A model directory from what a user typed: a checkpoint dir (has config.json) is returned as
// is; a run dir resolves to the target of `final`, else its latest complete checkpoint. Anything
// else is srl::fail naming the path and saying what was expected.
std::string resolve_model_dir(const std::string& path);

}  // namespace srl
