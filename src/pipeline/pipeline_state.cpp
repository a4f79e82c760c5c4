// The pipeline's state: each unit's dependencies and content hash, the stage records and output directories
// that decide whether a unit is up to date, and pipeline.json, which the report command reads back.
// Dependencies are not declared by hand: a unit depends on the unit whose output directory holds one of the
// paths its resolved config reads, so a user's `set` that points a stage elsewhere changes the graph too.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "core/run_dir.hpp"
#include "pipeline/pipeline_impl.hpp"

namespace srl::pipeline {

namespace stdfs = std::filesystem;
using detail::first_line;
using detail::normal;

namespace {

constexpr const char* kOwnerFile = ".pipeline_owner";  // marks a directory the pipeline may delete

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm g{};
  gmtime_r(&t, &g);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &g);
  return b;
}

bool inside(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// A file's bytes, or a directory's files (relative names, symlink targets, contents) in sorted order.
std::string content_hash(const std::string& path) {
  std::error_code ec;
  if (stdfs::is_regular_file(path, ec)) return fnv1a64_file_hex(path);
  if (!stdfs::is_directory(path, ec)) return "missing";
  std::vector<std::pair<std::string, std::string>> entries;
  for (auto it = stdfs::recursive_directory_iterator(path, ec); !ec && it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto rel = stdfs::relative(it->path(), path).string();
    if (it->is_symlink()) entries.emplace_back(rel, "-> " + stdfs::read_symlink(it->path()).string());
    else if (it->is_regular_file()) entries.emplace_back(rel, fnv1a64_file_hex(it->path().string()));
  }
  if (ec) fail(path, "cannot list the directory: " + ec.message());
  std::sort(entries.begin(), entries.end());
  Hasher h;
  for (const auto& [rel, v] : entries) h.update(rel).update(std::string_view("\0", 1)).update(v).update("\n");
  return "dir " + h.hex();
}

// tokens_seen of a training run's final checkpoint (trainer_state.json), 0 when it has none.
double run_tokens(const std::string& run_dir) {
  try {
    const auto j = nlohmann::json::parse(fs::read_file(run_dir + "/final/trainer_state.json"));
    return j.value("tokens_seen", 0.0);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

std::optional<StageRecord> read_stage_record(const std::string& dir) {
  if (dir.empty()) return std::nullopt;
  const std::string path = dir + "/" + kRecordFile;
  std::error_code ec;
  if (!stdfs::is_regular_file(path, ec)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(fs::read_file(path));
    StageRecord r;
    r.stage = j.at("stage").get<std::string>();
    r.hash = j.at("hash").get<std::string>();
    r.seconds = j.at("seconds").get<double>();
    r.tokens = j.at("tokens").get<double>();
    r.finished_at = j.at("finished_at").get<std::string>();
    return r;
  } catch (const std::exception& e) {
    spdlog::warn("pipeline: ignoring unreadable {} ({})", path, first_line(e.what()));
    return std::nullopt;
  }
}

// Dependencies from the paths each unit reads, then the hashes in run order.
void Pipeline::Impl::link() {
  std::vector<std::string> owned(units.size());
  for (size_t j = 0; j < units.size(); ++j)
    if (!units[j].output.empty()) owned[j] = normal(units[j].output);
  for (size_t i = 0; i < units.size(); ++i) {
    Unit& u = units[i];
    if (!u.enabled) continue;
    Hasher h;
    h.update("srl-pipeline-stage-v1\nversion: " SRL_VERSION "\nunit: ").update(u.name).update("\n").update(u.hash_yaml);
    for (const auto& in : u.inputs) {
      if (in.empty()) continue;
      const std::string p = normal(in);
      std::optional<size_t> owner;
      for (size_t j = 0; j < units.size(); ++j)  // the innermost output holding the path
        if (!owned[j].empty() && inside(p, owned[j]) && (!owner || owned[j].size() > owned[*owner].size())) owner = j;
      h.update("input ").update(in).update(" = ");
      if (!owner) {
        auto it = hash_cache.find(p);
        if (it == hash_cache.end()) it = hash_cache.emplace(p, content_hash(in)).first;
        h.update(it->second).update("\n");
        continue;
      }
      const Unit& o = units[*owner];
      if (*owner == i) fail("pipeline stage " + u.name, "reads its own output " + in);
      if (!o.enabled)
        fail("pipeline stage " + u.name, "reads " + in + ", the output of stage " + o.name +
                                             ", which is disabled (enable it, or disable " + u.stage + ")");
      if (*owner > i) fail("pipeline stage " + u.name, "reads " + in + ", the output of stage " + o.name + ", which runs later");
      if (std::find(u.deps.begin(), u.deps.end(), *owner) == u.deps.end()) u.deps.push_back(*owner);
      h.update("stage ").update(o.name).update(" ").update(o.hash).update("\n");
    }
    u.hash = h.hex();
  }
}

bool Pipeline::Impl::outputs_complete(const Unit& u) const {
  std::error_code ec;
  if (u.run_dir && !stdfs::exists(u.output + "/final/" + RunDir::kCompleteMarker, ec)) return false;
  for (const auto& f : u.outputs)
    if (!stdfs::is_regular_file(u.output + "/" + f, ec)) return false;
  return true;
}

// A clean start: the old output is deleted, never mixed with the new one. Only directories the pipeline
// made (marked by kOwnerFile or a stage record) or empty ones are deleted; the report directory keeps
// everything but the report's own files.
void Pipeline::Impl::prepare_output(const Unit& u) const {
  std::error_code ec;
  if (!u.owns_dir) {
    fs::make_dirs(u.output);
    for (const auto& f : u.outputs) stdfs::remove(u.output + "/" + f, ec);
    stdfs::remove(u.output + "/" + kRecordFile, ec);
    return;
  }
  if (stdfs::exists(u.output, ec)) {
    const bool ours = stdfs::exists(u.output + "/" + kOwnerFile, ec) || stdfs::exists(u.output + "/" + kRecordFile, ec);
    if (!ours && !stdfs::is_empty(u.output, ec))
      fail("pipeline stage " + u.name, u.output + " exists and was not written by the pipeline; move it away or change "
                                       "pipeline.output_dir");
    stdfs::remove_all(u.output, ec);
    if (ec) fail("pipeline stage " + u.name, "cannot delete the old " + u.output + ": " + ec.message());
  }
  fs::make_dirs(u.output);
  fs::write_file_atomic(u.output + "/" + kOwnerFile, u.name + "\n");
}

void Pipeline::Impl::write_record(Unit& u) const {
  StageRecord r;
  r.stage = u.name;
  r.hash = u.hash;
  r.seconds = u.seconds;
  r.tokens = u.run_dir ? run_tokens(u.output) : 0.0;
  r.finished_at = utc_now();
  nlohmann::ordered_json j = {{"stage", r.stage}, {"hash", r.hash}, {"seconds", r.seconds}, {"tokens", r.tokens},
                              {"finished_at", r.finished_at}};
  fs::write_file_atomic(u.output + "/" + kRecordFile, j.dump(2) + "\n");
  u.record = r;
}

nlohmann::ordered_json Pipeline::Impl::state_json() const {
  nlohmann::ordered_json j;
  j["format"] = "srl-pipeline-v1";
  j["name"] = cfg.pipeline.name;
  j["output_dir"] = out;
  j["report_dir"] = cfg.pipeline.report_dir;
  j["seed"] = cfg.pipeline.seed;
  j["version"] = SRL_VERSION;
  j["command"] = command;
  j["stages"] = nlohmann::ordered_json::object();
  for (const auto& u : units) {
    nlohmann::ordered_json s;
    s["stage"] = u.stage;
    s["status"] = u.status;
    s["seconds"] = u.seconds;
    s["hash"] = u.enabled ? nlohmann::ordered_json(u.hash) : nlohmann::ordered_json();
    s["output"] = u.output;
    if (u.record) {
      s["record_seconds"] = u.record->seconds;
      s["tokens"] = u.record->tokens;
      s["finished_at"] = u.record->finished_at;
    }
    j["stages"][u.name] = s;
  }
  nlohmann::ordered_json rep;
  rep["baseline"] = "sft";
  rep["reward_model_dir"] = enabled("reward_model") ? out + "/reward_model" : "";
  rep["guardrail_eval"] = guardrail_eval_file();
  rep["methods"] = nlohmann::ordered_json::array();
  for (const auto& r : report_methods()) {
    rep["methods"].push_back({{"name", r.name}, {"label", r.label}, {"run_dir", r.run_dir}, {"eval_dir", r.eval_dir},
                              {"sim_dir", r.sim_dir}, {"train_seconds", r.train_seconds},
                              {"train_tokens", r.train_tokens}, {"seed", r.seed}});
    rep["methods"].back()["set_evals"] = nlohmann::ordered_json::array();
    for (const auto& [set, dir] : r.set_evals) rep["methods"].back()["set_evals"].push_back({set, dir});
  }
  j["report"] = rep;
  return j;
}

void Pipeline::Impl::write_state() const {
  fs::make_dirs(out);
  fs::write_file_atomic(out + "/pipeline.json", state_json().dump(2) + "\n");
}

eval::ReportInput report_input_from_state(const std::string& pipeline_dir, const std::string& out_dir,
                                          const std::string& name, const std::string& command) {
  const std::string path = pipeline_dir + "/pipeline.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + first_line(e.what()));
  }
  eval::ReportInput in;
  try {
    if (j.value("format", "") != "srl-pipeline-v1") fail(path, "not a pipeline state (format srl-pipeline-v1 expected)");
    in.name = name.empty() ? j.at("name").get<std::string>() : name;
    in.out_dir = out_dir;
    in.command = command;
    const auto& rep = j.at("report");
    in.baseline = rep.at("baseline").get<std::string>();
    in.reward_model_dir = rep.at("reward_model_dir").get<std::string>();
    in.guardrail_eval = rep.value("guardrail_eval", "");
    for (const auto& m : rep.at("methods")) {
      eval::MethodRun r;
      r.name = m.at("name").get<std::string>();
      r.label = m.at("label").get<std::string>();
      r.run_dir = m.at("run_dir").get<std::string>();
      r.eval_dir = m.at("eval_dir").get<std::string>();
      r.sim_dir = m.at("sim_dir").get<std::string>();
      r.train_seconds = m.at("train_seconds").get<double>();
      r.train_tokens = m.at("train_tokens").get<double>();
      r.seed = m.at("seed").get<uint64_t>();
      if (m.contains("set_evals"))  // absent in the state of an earlier version
        for (const auto& e : m.at("set_evals")) r.set_evals.emplace_back(e.at(0).get<std::string>(), e.at(1).get<std::string>());
      in.methods.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("malformed pipeline state: ") + first_line(e.what()));
  }
  if (in.methods.empty()) fail(path, "no evaluated method to report on");
  return in;
}

}  // namespace srl::pipeline
