#include "model/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/run_dir.hpp"
#include "model/safetensors.hpp"

namespace srl::model {

namespace {
nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(fs::read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
}
}  // namespace

void save_model_files(const std::string& dir, Llama& model, const text::Tokenizer& tok,
                      const std::string& base_model_name) {
  fs::make_dirs(dir);
  fs::write_file_atomic(dir + "/config.json", model->config().to_json().dump(2) + "\n");
  std::map<std::string, torch::Tensor> base;
  for (auto& [n, t] : model->base_tensors()) base[n] = t.detach().to(torch::kFloat);
  safetensors::save(dir + "/model.safetensors", base, {{"format", "pt"}});
  if (model->has_lora()) {
    std::map<std::string, torch::Tensor> lora;
    for (auto& [n, t] : model->lora_tensors()) lora[n] = t.detach().to(torch::kFloat);
    safetensors::save(dir + "/adapter_model.safetensors", lora, {{"format", "pt"}});
    const auto& lc = model->lora_config();
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& t : lc.targets) targets.push_back(t + "_proj");
    nlohmann::json ac = {{"peft_type", "LORA"},          {"task_type", "CAUSAL_LM"},
                         {"r", lc.r},                    {"lora_alpha", lc.alpha},
                         {"lora_dropout", lc.dropout},   {"target_modules", targets},
                         {"bias", "none"},               {"fan_in_fan_out", false},
                         {"inference_mode", true},       {"base_model_name_or_path", base_model_name}};
    fs::write_file_atomic(dir + "/adapter_config.json", ac.dump(2) + "\n");
  }
  tok.save(dir);
}

void mark_complete(const std::string& dir) {
  fs::write_file_atomic(dir + "/" + RunDir::kCompleteMarker, "");
}

Llama init_model(const LlamaConfig& config, const text::Tokenizer& tok, uint64_t seed) {
  if (config.vocab_size < tok.vocab_size())
    fail("config.json", "vocab_size " + std::to_string(config.vocab_size) + " is smaller than the tokenizer's " +
                            std::to_string(tok.vocab_size()));
  LlamaConfig c = config;
  c.bos_token_id = tok.bos_id();
  c.eos_token_id = tok.eos_id();
  Llama m(c);
  m->init_weights(seed);
  return m;
}

void load_adapter(Llama& m, const std::string& dir) {
  auto ac = read_json(dir + "/adapter_config.json");
  const std::string where = dir + "/adapter_config.json";
  if (!ac.is_object() || ac.value("peft_type", "") != "LORA") fail(where, "peft_type must be \"LORA\"");
  if (!ac.contains("r") || !ac["r"].is_number_integer()) fail(where, "missing integer 'r'");
  if (!ac.contains("target_modules") || !ac["target_modules"].is_array())
    fail(where, "missing 'target_modules' list");
  LoraConfig lc;
  lc.r = ac["r"].get<int64_t>();
  try {
    lc.alpha = ac.value("lora_alpha", static_cast<double>(lc.r));
    lc.dropout = ac.value("lora_dropout", 0.0);
  } catch (const nlohmann::json::exception&) {
    fail(where, "lora_alpha and lora_dropout must be numbers");
  }
  lc.targets.clear();
  for (auto& t : ac["target_modules"]) {
    if (!t.is_string()) fail(where, "target_modules must be strings");
    auto s = t.get<std::string>();
    if (s.size() > 5 && s.substr(s.size() - 5) == "_proj") s = s.substr(0, s.size() - 5);
    lc.targets.push_back(s);
  }
  m->add_lora(lc);
  auto ad = safetensors::load(dir + "/adapter_model.safetensors");
  m->load_lora_tensors(ad.tensors, dir + "/adapter_model.safetensors");
}

LoadedModel load_model(const std::string& path) {
  const std::string dir = resolve_model_dir(path);
  auto cfg = LlamaConfig::load(dir + "/config.json");
  auto tok = text::Tokenizer::load(dir);
  if (cfg.vocab_size < tok.vocab_size())
    fail(dir, "tokenizer has " + std::to_string(tok.vocab_size()) + " pieces but the model only " +
                  std::to_string(cfg.vocab_size));
  Llama m(cfg);
  auto weights = safetensors::load(dir + "/model.safetensors");
  m->load_base_tensors(weights.tensors, dir + "/model.safetensors");
  if (fs::exists(dir + "/adapter_config.json")) load_adapter(m, dir);
  return LoadedModel{m, tok, dir};
}

}  // namespace srl::model
