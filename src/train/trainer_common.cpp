#include "train/trainer_common.hpp"

#include <random>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/metrics.hpp"
#include "core/run_dir.hpp"

namespace srl::train {

model::LoadedModel prepare_training_model(const ModelSection& mc, const LoraSection& lora,
                                          const std::optional<std::string>& resume_from) {
  auto load = [&]() -> model::LoadedModel {
    if (resume_from) return model::load_model(*resume_from);
    if (!mc.init.empty()) {
      auto lm = model::load_model(mc.init);
      if (lm.model->has_lora()) {
        // A new run trains on top of the merged weights of the previous one.
        auto merged = model::Llama(lm.model->config());
        lm.model->merge_lora();
        lm.model->set_adapters_enabled(false);
        std::map<std::string, torch::Tensor> base;
        for (auto& [n, t] : lm.model->base_tensors()) base[n] = t;
        merged->load_base_tensors(base, mc.init);
        lm.model = merged;
      }
      return lm;
    }
    if (mc.tokenizer.empty()) fail("config: model.tokenizer", "a fresh model needs a tokenizer directory");
    auto tok = text::Tokenizer::load(mc.tokenizer);
    auto cfg = mc.config_json.empty() ? model::LlamaConfig::preset(mc.preset) : model::LlamaConfig::load(mc.config_json);
    auto m = model::init_model(cfg, tok, static_cast<uint64_t>(mc.seed));
    return model::LoadedModel{m, tok, ""};
  };
  model::LoadedModel out = load();
  if (lora.lora_rank > 0 && !out.model->has_lora()) {
    model::LoraConfig lc;
    lc.r = lora.lora_rank;
    lc.alpha = lora.lora_alpha;
    lc.dropout = lora.lora_dropout;
    lc.targets = lora.lora_targets;
    out.model->add_lora(lc);
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> set_trainable(model::Llama& m) {
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  auto params = m->trainable_parameters();
  for (auto& [n, p] : params) p.set_requires_grad(true);
  return params;
}

std::vector<int64_t> epoch_order(int64_t n, int64_t seed, int64_t epoch) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

void stop_if_not_finite(const std::string& stage, int64_t step, double loss, double grad_norm,
                        const std::string& last_good_checkpoint) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) return;
  fail_internal(stage + " step " + std::to_string(step),
                "non-finite loss (" + std::to_string(loss) + ") or gradient norm (" + std::to_string(grad_norm) +
                    "); stopped without saving. Last good checkpoint: " +
                    (last_good_checkpoint.empty() ? std::string("none") : last_good_checkpoint) +
                    ". Try a lower learning_rate.");
}

int64_t count_parameters(const std::vector<std::pair<std::string, torch::Tensor>>& params) {
  int64_t n = 0;
  for (const auto& [name, p] : params) n += p.numel();
  return n;
}

void restart_logs(const std::vector<std::string>& paths, int64_t step) {
  for (const auto& p : paths)
    if (fs::exists(p)) MetricsLog::truncate_after_step(p, step);
}

std::optional<std::string> check_run_dir(const std::string& output_dir, bool resume) {
  RunDir run(output_dir);
  const auto latest = run.latest_checkpoint();
  if (resume && !latest) fail(output_dir, "--resume: no complete checkpoint to resume from");
  if (!resume && latest)
    fail(output_dir, "already holds checkpoints; pass --resume to continue it or choose another output_dir");
  return resume ? latest : std::nullopt;
}

}  // namespace srl::train
