// `supportrl train-reward-model --config FILE [--train-file F] [--eval-file F] [--set k=v]... [--resume]`
// `supportrl score --model RM_DIR --input FILE.jsonl [--output FILE] [--batch N]`
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/jsonl.hpp"
#include "data/preference.hpp"
#include "text/conversation_json.hpp"
#include "train/compute.hpp"
#include "train/reward_model.hpp"
#include "train/reward_model_train.hpp"
#include "train/rl.hpp"

namespace srl::cli {

namespace {

void register_train(CLI::App& app) {
  struct Flags {
    std::string config_path, train_file, eval_file;
    std::vector<std::string> sets;
    train::RewardModelOptions opt;
    bool print_config = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("train-reward-model", "Train a Bradley-Terry reward model on preference pairs");
  c->add_option("--config", f->config_path, "YAML config (e.g. configs/rl_reward_model.yaml)")->required();
  c->add_option("--train-file", f->train_file, "preference pairs to train on (overrides reward_model.data.train_file)");
  c->add_option("--eval-file", f->eval_file, "held-out pairs (overrides reward_model.data.eval_file)");
  c->add_option("--set", f->sets, "override a config key: section.key=value (repeatable)");
  c->add_flag("--resume", f->opt.resume, "continue from the newest complete checkpoint in output_dir");
  c->add_option("--stop-after-step", f->opt.stop_after_step, "stop (after checkpointing) at this step")
      ->group("");  // for tests that simulate an interrupted run
  c->add_flag("--print-config", f->print_config, "print the resolved config and exit");
  c->callback([f] {
    // The file also configures reward-model RL (`rl:`); this command uses its reward_model part.
    auto cfg = config::load<train::RlRewardModelFileConfig>(f->config_path, f->sets).reward_model_stage();
    if (!f->train_file.empty()) cfg.reward_model.data.train_file = f->train_file;
    if (!f->eval_file.empty()) cfg.reward_model.data.eval_file = f->eval_file;
    if (f->print_config) {
      std::cout << config::to_yaml(cfg);
      return;
    }
    auto res = train::run_train_reward_model(cfg, f->opt);
    std::cout << "reward_model: step " << res.step << ", loss " << res.last_loss << ", accuracy " << res.last_accuracy;
    if (res.eval) {
      const auto& e = *res.eval;
      std::cout << ", eval_accuracy ";
      if (e["accuracy"].is_number())
        std::cout << e["accuracy"].get<double>();
      else
        std::cout << "n/a";
      std::cout << " (label ceiling ";
      const auto& lc = e["label_ceiling"]["agreement"];
      if (lc.is_number())
        std::cout << lc.get<double>();
      else
        std::cout << "unknown";
      std::cout << ")";
      if (e["ece"].is_number()) std::cout << ", ece " << e["ece"].get<double>();
    }
    std::cout << "\ncheckpoint: " << res.checkpoint_dir << "\n";
  });
}

// The conversation of a score input line: `prompt` or `messages` ending with a user turn (the one parser).
std::vector<text::Message> conversation_of(const nlohmann::json& j, const std::string& where) {
  auto conv = text::parse_conversation_json(j);
  if (!conv.ok()) fail(where, conv.problems.front().message);
  return std::move(conv.messages);
}

std::string response_field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j[key].is_string() || j[key].get<std::string>().empty())
    fail(where, std::string("'") + key + "' must be a non-empty string");
  return j[key].get<std::string>();
}

void register_score(CLI::App& app) {
  struct Flags {
    std::string model_dir, input, output;
    int64_t batch = 8;
    int64_t threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("score", "Score responses (or A/B pairs) with a trained reward model");
  c->add_option("--model", f->model_dir, "reward model run or checkpoint directory")->required();
  c->add_option("--input", f->input,
                "JSONL: {prompt|messages, response} or {prompt|messages, response_a, response_b, ...}")
      ->required();
  c->add_option("--output", f->output, "write JSONL here instead of stdout");
  c->add_option("--batch", f->batch, "sequences per forward pass")->capture_default_str();
  c->add_option("--threads", f->threads, "0 = all cores")->capture_default_str();
  c->callback([f] {
    if (f->batch < 1) fail("--batch", "must be at least 1");
    train::ComputeSection cs;
    cs.dtype = train::DtypePolicy::Fp32;
    cs.threads = f->threads;
    train::setup_compute(cs, "--threads");
    // Read and check every line before loading the model: a malformed line fails fast.
    std::vector<nlohmann::json> rows;
    std::vector<train::ScoreItem> singles;
    std::vector<train::ScorePair> pairs;
    std::vector<std::pair<bool, size_t>> slot;  // per row: (is pair, index into pairs/singles)
    read_json_lines(f->input, [&](nlohmann::json j, const std::string& where) {
      auto conv = conversation_of(j, where);
      const bool single = j.contains("response");
      const bool pair = j.contains("response_a") || j.contains("response_b");
      if (single == pair) fail(where, "expected 'response', or 'response_a' and 'response_b'");
      if (single) {
        slot.emplace_back(false, singles.size());
        singles.push_back({std::move(conv), response_field(j, "response", where)});
      } else {
        if (!j.contains("response_a") || !j.contains("response_b"))
          fail(where, "a pair needs both 'response_a' and 'response_b'");
        slot.emplace_back(true, pairs.size());
        pairs.push_back(
            {std::move(conv), response_field(j, "response_a", where), response_field(j, "response_b", where)});
      }
      rows.push_back(std::move(j));
    });
    if (rows.empty()) fail(f->input, "no input lines");

    auto rm = train::RewardModel::load(f->model_dir);
    const auto single_scores = rm.score_batch(singles, f->batch);
    const auto pair_scores = rm.score_pairs(pairs, std::max<int64_t>(1, f->batch / 2));
    std::string out;
    for (size_t i = 0; i < rows.size(); ++i) {
      auto& j = rows[i];
      if (slot[i].first) {
        auto [ra, rb] = pair_scores[slot[i].second];
        j["reward_a"] = ra;
        j["reward_b"] = rb;
        j["prob_a"] = 1.0 / (1.0 + std::exp(-(ra - rb)));
      } else {
        j["reward"] = single_scores[slot[i].second];
      }
      out += j.dump() + "\n";
    }
    if (f->output.empty())
      std::cout << out;
    else
      fs::write_file_atomic(f->output, out);
  });
}

}  // namespace

void register_reward(CLI::App& app) {
  register_train(app);
  register_score(app);
}

}  // namespace srl::cli
