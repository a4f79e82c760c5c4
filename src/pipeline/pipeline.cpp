// `supportrl pipeline` runs its units in order: a unit is skipped when its record's hash matches and its
// outputs are complete, and reruns (with everything that reads its output) otherwise. The units are made
// in pipeline_units.cpp; dependencies, hashes, records and pipeline.json are pipeline_state.cpp's.
#include "pipeline/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/config.hpp"
#include "core/error.hpp"
#include "pipeline/pipeline_impl.hpp"

namespace srl::pipeline {

namespace stdfs = std::filesystem;

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> names = {"data", "tokenizer", "sft", "reward_model", "dpo",
                                                 "reward_model_rl", "direct_preference_rl", "evaluate",
                                                 "simulate", "report"};
  return names;
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"sft", "dpo", "reward_model_rl", "direct_preference_rl"};
  return names;
}

namespace detail {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

void rethrow_in(const std::string& unit) {
  try {
    throw;
  } catch (const Error& e) {
    throw Error(e.kind(), "pipeline stage " + unit, e.what());
  } catch (const std::exception& e) {
    fail_internal("pipeline stage " + unit, first_line(e.what()));
  }
}

std::string normal(const std::string& p) {
  std::string s = stdfs::absolute(stdfs::path(p)).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace detail

using detail::first_line;
using detail::rethrow_in;

Pipeline::Pipeline(PipelineConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
Pipeline::~Pipeline() = default;

std::string Pipeline::resolved_yaml() const {
  std::string s = "# supportrl pipeline: resolved config\n" + config::to_yaml(impl_->cfg);
  for (const auto& u : impl_->units) {
    if (!u.enabled) continue;
    s += "---\n# stage " + u.name + " -> " + u.output + " (hash " + u.hash + ")\n" + u.config_yaml;
  }
  return s;
}

// --force / --only name a known stage that is enabled.
void Pipeline::Impl::check_stage_flag(const std::string& flag, const std::string& stage) const {
  const auto& names = stage_names();
  if (std::find(names.begin(), names.end(), stage) == names.end()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    fail(flag, "unknown stage '" + stage + "' (stages: " + all + ")");
  }
  bool any = false;
  for (const auto& u : units) any = any || (u.stage == stage && u.enabled);
  if (!any) fail(flag + " " + stage, "the stage is disabled in the config");
}

// Unit i is about to rerun: whatever read its old output is out of date from now on, even if this run
// stops before reaching it, so their records go.
void Pipeline::Impl::forget_readers_of(size_t i) {
  const size_t n = units.size();
  std::vector<bool> affected(n, false);
  affected[i] = true;
  for (size_t k = i + 1; k < n; ++k) {
    for (size_t d : units[k].deps) affected[k] = affected[k] || affected[d];
    if (affected[k] && units[k].enabled) {
      std::error_code ec;
      stdfs::remove(units[k].output + "/" + kRecordFile, ec);
      units[k].record.reset();
    }
  }
}

nlohmann::ordered_json Pipeline::run(const RunOptions& opt) {
  auto& im = *impl_;
  for (const auto& f : opt.force) im.check_stage_flag("--force", f);
  if (!opt.only.empty()) im.check_stage_flag("--only", opt.only);
  im.command = opt.command;

  const size_t n = im.units.size();
  std::vector<bool> ran(n, false), stale(n, false);
  for (auto& u : im.units) {
    u.status = u.enabled ? "pending" : "disabled";
    u.seconds = 0;
    u.record = u.enabled ? read_stage_record(u.output) : std::nullopt;
  }
  spdlog::info("pipeline '{}': output {}, report {}", im.cfg.pipeline.name, im.out, im.cfg.pipeline.report_dir);
  for (size_t i = 0; i < n; ++i) {
    Unit& u = im.units[i];
    if (!u.enabled) {
      spdlog::info("pipeline: {} disabled", u.name);
      continue;
    }
    const bool same_hash = u.record && u.record->hash == u.hash;
    const bool up_to_date = same_hash && im.outputs_complete(u);
    std::string upstream;
    bool dep_stale = false;
    for (size_t d : u.deps) {
      if (ran[d] && upstream.empty()) upstream = im.units[d].name;
      if (stale[d]) dep_stale = true;
    }
    if (!opt.only.empty() && u.stage != opt.only) {
      const bool current = up_to_date && upstream.empty() && !dep_stale;
      u.status = current ? "skipped" : "not_run";
      stale[i] = !current;
      continue;
    }
    if (dep_stale) {
      std::string which;
      for (size_t d : u.deps)
        if (stale[d]) which = im.units[d].name;
      fail("--only " + opt.only, u.name + " reads the output of " + which +
                                     ", which is not up to date; run the pipeline without --only first");
    }
    const bool forced = std::find(opt.force.begin(), opt.force.end(), u.stage) != opt.force.end();
    if (up_to_date && !forced && upstream.empty()) {
      u.status = "skipped";
      spdlog::info("pipeline: skip {} (unchanged)", u.name);
      im.write_state();
      continue;
    }
    const std::string why = forced             ? "forced"
                            : !upstream.empty() ? upstream + " reran"
                            : !u.record         ? "no earlier run"
                            : !same_hash        ? "config or inputs changed"
                                                : "outputs incomplete";
    im.forget_readers_of(i);
    spdlog::info("pipeline: {} started ({})", u.name, why);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      im.prepare_output(u);
      u.work();
    } catch (...) {
      u.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      u.status = "failed";
      u.record.reset();
      for (size_t k = i + 1; k < n; ++k)
        if (im.units[k].enabled) im.units[k].status = "not_run";
      try {
        im.write_state();
      } catch (const std::exception& e) {
        spdlog::warn("pipeline: could not write pipeline.json: {}", first_line(e.what()));
      }
      rethrow_in(u.name);
    }
    u.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    im.write_record(u);
    u.status = "ran";
    ran[i] = true;
    spdlog::info("pipeline: {} finished in {:.1f} s", u.name, u.seconds);
    im.write_state();
  }
  im.write_state();
  size_t ran_n = 0, skipped_n = 0;
  for (const auto& u : im.units) ran_n += u.status == "ran", skipped_n += u.status == "skipped";
  spdlog::info("pipeline: done ({} ran, {} skipped); report in {}", ran_n, skipped_n, im.cfg.pipeline.report_dir);
  return im.state_json();
}

}  // namespace srl::pipeline
