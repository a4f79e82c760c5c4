#include "train/trainer_state.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/checkpoint.hpp"
#include "model/safetensors.hpp"

namespace srl::train {

std::string save_training_checkpoint(const RunDir& run, model::Llama& model, const text::Tokenizer& tok,
                                     const AdamW& opt, const TrainerState& st, int keep_last,
                                     const std::function<void(const std::string& dir)>& extra_files) {
  return save_training_checkpoint(
      run, [&](const std::string& dir) { model::save_model_files(dir, model, tok); }, opt, st, keep_last,
      extra_files);
}

std::string save_training_checkpoint(const RunDir& run, const std::function<void(const std::string& dir)>& model_files,
                                     const AdamW& opt, const TrainerState& st, int keep_last,
                                     const std::function<void(const std::string& dir)>& extra_files) {
  const std::string dir = run.checkpoint_dir(st.step);
  fs::make_dirs(dir);
  model_files(dir);
  auto tensors = opt.state();
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    tensors["__rng_cpu__"] = gen.get_state();
  }
  model::safetensors::save(dir + "/trainer_state.safetensors", tensors);
  nlohmann::json j = {{"step", st.step}, {"epoch", st.epoch}, {"cursor", st.cursor}, {"tokens_seen", st.tokens_seen}};
  fs::write_file_atomic(dir + "/trainer_state.json", j.dump(2) + "\n");
  if (extra_files) extra_files(dir);
  model::mark_complete(dir);
  RunDir(run.root()).set_final(st.step);
  RunDir(run.root()).prune_checkpoints(std::max(1, keep_last));
  return dir;
}

TrainerState load_trainer_state(const std::string& dir, AdamW& opt) {
  const std::string jpath = dir + "/trainer_state.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(jpath));
  } catch (const nlohmann::json::parse_error& e) {
    fail(jpath, std::string("invalid JSON: ") + e.what());
  }
  TrainerState st;
  for (auto [key, field] : {std::pair{"step", &st.step}, {"epoch", &st.epoch}, {"cursor", &st.cursor},
                            {"tokens_seen", &st.tokens_seen}}) {
    if (!j.contains(key) || !j[key].is_number_integer()) fail(jpath, std::string("missing integer '") + key + "'");
    *field = j[key].get<int64_t>();
  }
  auto file = model::safetensors::load(dir + "/trainer_state.safetensors");
  opt.load_state(file.tensors, dir + "/trainer_state.safetensors");
  auto it = file.tensors.find("__rng_cpu__");
  if (it == file.tensors.end()) fail(dir + "/trainer_state.safetensors", "missing RNG state '__rng_cpu__'");
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(it->second);
  return st;
}

}  // namespace srl::train
