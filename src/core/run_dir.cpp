// Run directory helpers: checkpoint naming and discovery, the atomic `final` link, pruning, and
// turning a user-given path into a checkpoint dir.
#include "core/run_dir.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace stdfs = std::filesystem;

namespace srl {
namespace {

// "step_000200" -> 200; anything else -> nullopt.
std::optional<int64_t> parse_step(const std::string& name) {
  if (name.size() < 6 || name.compare(0, 5, "step_") != 0) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

struct StepDir {
  int64_t step;
  stdfs::path dir;
  bool complete;
};

std::vector<StepDir> scan(const std::string& root) {
  std::vector<StepDir> out;
  std::error_code ec;
  const stdfs::path ckpts = stdfs::path(root) / "checkpoints";
  if (!stdfs::is_directory(ckpts, ec)) return out;
  for (const auto& e : stdfs::directory_iterator(ckpts, ec)) {
    auto step = parse_step(e.path().filename().string());
    if (!step || !e.is_directory(ec)) continue;
    out.push_back({*step, e.path(), stdfs::is_regular_file(e.path() / RunDir::kCompleteMarker, ec)});
  }
  std::sort(out.begin(), out.end(), [](const StepDir& a, const StepDir& b) { return a.step < b.step; });
  return out;
}

}  // namespace

RunDir::RunDir(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string RunDir::path(const std::string& name) const { return (stdfs::path(root_) / name).string(); }

std::string RunDir::checkpoint_dir(int64_t step) const {
  if (step < 0) fail_internal("RunDir::checkpoint_dir", "negative step " + std::to_string(step));
  return (stdfs::path(root_) / "checkpoints" / fmt::format("step_{:06}", step)).string();
}

std::vector<int64_t> RunDir::complete_steps() const {
  std::vector<int64_t> out;
  for (const auto& d : scan(root_))
    if (d.complete) out.push_back(d.step);
  return out;
}

std::optional<std::string> RunDir::latest_checkpoint() const {
  auto steps = complete_steps();
  if (steps.empty()) return std::nullopt;
  return checkpoint_dir(steps.back());
}

void RunDir::set_final(int64_t step) {
  const std::string dir = checkpoint_dir(step);
  if (!fs::exists((stdfs::path(dir) / kCompleteMarker).string()))
    fail_internal(dir, "set_final: checkpoint is missing or incomplete");
  const std::string target = (stdfs::path("checkpoints") / stdfs::path(dir).filename()).string();
  const std::string link = path("final");
  const std::string tmp = link + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());  // a leftover from a crashed earlier attempt
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    fail(tmp, std::string("cannot create symlink: ") + std::strerror(errno));
  // rename() replaces an existing link in one step; there is no moment without `final`.
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(link, std::string("cannot replace: ") + std::strerror(e));
  }
}

void RunDir::prune_checkpoints(int keep_last) {
  if (keep_last < 1) fail_internal("RunDir::prune_checkpoints", "keep_last must be >= 1");
  const auto dirs = scan(root_);
  std::error_code ec;
  std::optional<int64_t> final_step;
  const stdfs::path link = path("final");
  if (stdfs::is_symlink(link, ec)) final_step = parse_step(stdfs::read_symlink(link, ec).filename().string());

  std::vector<int64_t> complete;
  for (const auto& d : dirs)
    if (d.complete) complete.push_back(d.step);
  const size_t keep_from = complete.size() > static_cast<size_t>(keep_last) ? complete.size() - keep_last : 0;
  const int64_t newest = complete.empty() ? -1 : complete.back();

  for (const auto& d : dirs) {
    if (final_step && d.step == *final_step) continue;
    bool remove;
    if (d.complete) {
      remove = std::find(complete.begin() + static_cast<long>(keep_from), complete.end(), d.step) == complete.end();
    } else {
      remove = d.step < newest;
    }
    if (!remove) continue;
    // Drop the marker first: if we die mid-delete, the rest is an incomplete dir, never resumed.
    stdfs::remove(d.dir / kCompleteMarker, ec);
    stdfs::remove_all(d.dir, ec);
    if (ec) fail(d.dir.string(), "cannot delete old checkpoint: " + ec.message());
  }
}

std::string resolve_model_dir(const std::string& path) {
  std::error_code ec;
  const stdfs::path p(path);
  if (!stdfs::exists(p, ec)) fail(path, "no such model or run directory");
  if (!stdfs::is_directory(p, ec)) fail(path, "expected a model directory (a checkpoint or a run dir), got a file");
  if (stdfs::is_regular_file(p / "config.json", ec)) return path;

  const stdfs::path final_link = p / "final";
  if (stdfs::is_symlink(final_link, ec) || stdfs::exists(final_link, ec)) {
    if (!stdfs::is_regular_file(final_link / "config.json", ec))
      fail(final_link.string(), "does not lead to a checkpoint with config.json (broken link or incomplete checkpoint?)");
    // Report the real checkpoint dir (…/checkpoints/step_000200) so logs say which step was used.
    if (stdfs::is_symlink(final_link, ec)) {
      stdfs::path target = stdfs::read_symlink(final_link, ec);
      if (!ec) return (target.is_absolute() ? target : p / target).lexically_normal().string();
    }
    return final_link.string();
  }
  if (stdfs::is_directory(p / "checkpoints", ec)) {
    auto latest = RunDir(path).latest_checkpoint();
    if (!latest) fail(path, "run has no complete checkpoint under checkpoints/ (training may have stopped before the first save)");
    if (!stdfs::is_regular_file(stdfs::path(*latest) / "config.json", ec))
      fail(*latest, "checkpoint has no config.json");
    return *latest;
  }
  fail(path, "not a model directory: expected a checkpoint (with config.json) or a run dir (with final or checkpoints/)");
}

}  // namespace srl
