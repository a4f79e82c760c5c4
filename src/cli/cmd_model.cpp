// Model subcommands: tokenizer train, init, generate, chat, logprobs.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/run_dir.hpp"
#include "model/checkpoint.hpp"
#include "model/generate.hpp"
#include "model/safetensors.hpp"
#include "text/chat_format.hpp"
#include "train/compute.hpp"

namespace srl::cli {

namespace {

struct SamplingFlags {
  double temperature = 0.7;
  int64_t top_k = 0;
  double top_p = 0.95;
  int64_t max_new_tokens = 256;
  int64_t seed = 0;
  std::string dtype = "fp32";
  std::string device = "cpu";
  int64_t threads = 0;
  void add(CLI::App* c) {
    c->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
    c->add_option("--temperature", temperature, "0 = greedy")->capture_default_str();
    c->add_option("--top-k", top_k, "0 = off")->capture_default_str();
    c->add_option("--top-p", top_p, "nucleus sampling mass (1 = off)")->capture_default_str();
    c->add_option("--max-new-tokens", max_new_tokens)->capture_default_str();
    c->add_option("--seed", seed)->capture_default_str();
    c->add_option("--dtype", dtype, "fp32 or bf16 weights for inference")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    c->add_option("--threads", threads, "0 = all cores")->capture_default_str();
  }
  model::SamplingParams params(const text::Tokenizer& tok) const {
    if (temperature < 0) fail("--temperature", "must be >= 0");
    if (top_p <= 0 || top_p > 1) fail("--top-p", "must be in (0, 1]");
    if (top_k < 0) fail("--top-k", "must be >= 0");
    if (max_new_tokens < 0) fail("--max-new-tokens", "must be >= 0");
    model::SamplingParams p;
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.max_new_tokens = max_new_tokens;
    p.seed = static_cast<uint64_t>(seed);
    model::set_chat_stops(p, tok);
    return p;
  }
};

model::LoadedModel load_for_inference(const std::string& dir, const std::string& dtype, int64_t threads,
                                      const std::string& device) {
  train::ComputeSection cs;
  cs.threads = threads;
  cs.device = config::value_of(train::kDeviceNames, device).value_or(train::DeviceKind::Cpu);  // CLI checked it
  auto cmp = train::setup_compute(cs, "--device");
  auto lm = model::load_model(dir);
  lm.model->to(cmp.device);
  lm.model->eval();
  // Inference keeps the adapters separate so `--no-adapters` style switches stay possible; bf16 halves traffic.
  if (dtype == "bf16") lm.model->to(torch::kBFloat16);
  return lm;
}

std::vector<int64_t> to64(const std::vector<int>& v) { return {v.begin(), v.end()}; }
std::vector<int> to32(const std::vector<int64_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

void register_tokenizer(CLI::App& app) {
  auto* tok = app.add_subcommand("tokenizer", "Train or inspect the SentencePiece tokenizer");
  tok->require_subcommand(1);
  auto* train = tok->add_subcommand("train", "Train a byte-fallback BPE tokenizer with the chat control symbols");
  static text::TrainOptions o;
  train->add_option("--input", o.input, "text file, or a JSONL conversations file (its message texts are used)")
      ->required();
  train->add_option("--vocab-size", o.vocab_size)->required();
  train->add_option("--out", o.out_dir, "output directory (receives tokenizer.model)")->required();
  train->add_option("--seed", o.seed)->capture_default_str();
  train->callback([&] {
    text::TrainOptions opt = o;
    // A JSONL conversations file is flattened to one message per line first.
    if (o.input.size() > 6 && o.input.substr(o.input.size() - 6) == ".jsonl") {
      std::string text;
      for (const auto& conv : text::load_conversations(o.input))
        for (const auto& m : conv) {
          std::string c = m.content;
          for (auto& ch : c)
            if (ch == '\n') ch = ' ';
          text += c + "\n";
        }
      fs::make_dirs(o.out_dir);
      opt.input = o.out_dir + "/tokenizer_corpus.txt";
      fs::write_file_atomic(opt.input, text);
    }
    text::Tokenizer::train(opt);
    auto t = text::Tokenizer::load(o.out_dir);
    std::cout << "wrote " << o.out_dir << "/tokenizer.model (" << t.vocab_size() << " pieces)\n";
  });
  auto* enc = tok->add_subcommand("encode", "Print the token ids and pieces of a text");
  static std::string enc_dir, enc_text;
  enc->add_option("--tokenizer", enc_dir)->required();
  enc->add_option("--text", enc_text)->required();
  enc->callback([] {
    auto t = text::Tokenizer::load(enc_dir);
    auto ids = t.encode(enc_text);
    nlohmann::json pieces = nlohmann::json::array();
    for (int id : ids) pieces.push_back(t.piece(id));
    std::cout << nlohmann::json{{"ids", ids}, {"pieces", pieces}}.dump() << "\n";
  });
}

void register_init(CLI::App& app) {
  auto* c = app.add_subcommand("init", "Write a randomly initialised model as a run directory");
  static std::string preset, config_json, tokenizer, out;
  static int64_t seed = 0;
  auto* g = c->add_option_group("shape");
  g->add_option("--preset", preset, "tiny, small or base");
  g->add_option("--config-json", config_json, "Hugging Face LlamaConfig file");
  g->require_option(1);
  c->add_option("--tokenizer", tokenizer, "tokenizer directory")->required();
  c->add_option("--out", out, "output run directory")->required();
  c->add_option("--seed", seed)->capture_default_str();
  c->callback([] {
    auto tok = text::Tokenizer::load(tokenizer);
    auto cfg = preset.empty() ? model::LlamaConfig::load(config_json) : model::LlamaConfig::preset(preset);
    auto m = model::init_model(cfg, tok, static_cast<uint64_t>(seed));
    RunDir run(out);
    if (run.latest_checkpoint()) fail(out, "already holds a checkpoint; choose another --out");
    const std::string dir = run.checkpoint_dir(0);
    model::save_model_files(dir, m, tok);
    model::mark_complete(dir);
    run.set_final(0);
    std::cout << "wrote " << dir << " (" << m->config().num_parameters() << " parameters)\n";
  });
}

void register_generate(CLI::App& app) {
  auto* c = app.add_subcommand("generate", "Sample assistant replies to a user message");
  static std::string model_dir, prompt, system;
  static int64_t n = 1;
  static bool raw = false, json_out = false;
  static SamplingFlags sf;
  c->add_option("--model", model_dir, "run or checkpoint directory")->required();
  c->add_option("--prompt", prompt, "the user's message")->required();
  c->add_option("--system", system, "optional system message");
  c->add_option("--n", n, "number of samples")->capture_default_str();
  c->add_flag("--raw", raw, "continue the prompt text as is, without the chat format");
  c->add_flag("--json", json_out, "print one JSON object per sample (tokens, log-probs, finish reason)");
  sf.add(c);
  c->callback([] {
    if (n < 1) fail("--n", "must be at least 1");
    auto lm = load_for_inference(model_dir, sf.dtype, sf.threads, sf.device);
    auto params = sf.params(lm.tokenizer);
    std::vector<int> ids;
    if (raw) {
      ids = lm.tokenizer.encode(prompt);
      ids.insert(ids.begin(), lm.tokenizer.bos_id());
      params.stop_ids = {lm.tokenizer.eos_id()};
    } else {
      std::vector<text::Message> msgs;
      if (!system.empty()) msgs.push_back({"system", system});
      msgs.push_back({"user", prompt});
      ids = text::render_prompt(lm.tokenizer, msgs);
    }
    std::vector<std::vector<int64_t>> prompts(n, to64(ids));
    auto gens = model::generate(lm.model, prompts, params);
    for (size_t i = 0; i < gens.size(); ++i) {
      auto reply = text::parse_reply(lm.tokenizer, to32(gens[i].tokens));
      if (json_out) {
        std::cout << nlohmann::json{{"index", i}, {"text", reply.message.content}, {"tokens", gens[i].tokens},
                                    {"logprobs", gens[i].logprobs}, {"finish_reason", gens[i].finish_reason}}
                         .dump()
                  << "\n";
      } else {
        if (n > 1) std::cout << "--- sample " << i + 1 << " (" << gens[i].finish_reason << ")\n";
        std::cout << reply.message.content << "\n";
      }
    }
  });
}

void register_chat(CLI::App& app) {
  auto* c = app.add_subcommand("chat", "Interactive terminal chat (one line per user turn; /reset, /quit)");
  static std::string model_dir, system;
  static SamplingFlags sf;
  c->add_option("--model", model_dir, "run or checkpoint directory")->required();
  c->add_option("--system", system, "optional system message");
  sf.add(c);
  c->callback([] {
    auto lm = load_for_inference(model_dir, sf.dtype, sf.threads, sf.device);
    auto params = sf.params(lm.tokenizer);
    std::vector<text::Message> history;
    if (!system.empty()) history.push_back({"system", system});
    const bool tty = isatty(STDIN_FILENO);
    std::string line;
    uint64_t turn = 0;
    while (true) {
      if (tty) std::cout << "you> " << std::flush;
      if (!std::getline(std::cin, line)) break;
      if (line == "/quit" || line == "/exit") break;
      if (line == "/reset") {
        history.resize(system.empty() ? 0 : 1);
        continue;
      }
      if (line.empty()) continue;
      history.push_back({"user", line});
      auto ids = text::render_prompt(lm.tokenizer, history);
      // Keep the newest turns when the history outgrows the context.
      while (static_cast<int64_t>(ids.size()) + 8 > lm.model->config().max_position_embeddings && history.size() > 1) {
        history.erase(history.begin() + (system.empty() ? 0 : 1));
        ids = text::render_prompt(lm.tokenizer, history);
      }
      params.seed = static_cast<uint64_t>(sf.seed) + turn++;
      auto gen = model::generate(lm.model, {to64(ids)}, params);
      auto reply = text::parse_reply(lm.tokenizer, to32(gen[0].tokens));
      std::cout << "assistant> " << reply.message.content << "\n" << std::flush;
      history.push_back(reply.message);
    }
  });
}

void register_logprobs(CLI::App& app) {
  auto* c = app.add_subcommand("logprobs", "Log-prob of each token given all before it (plain full forward)");
  static std::string model_dir, text_in, ids_in;
  c->add_option("--model", model_dir, "run or checkpoint directory")->required();
  auto* g = c->add_option_group("input");
  g->add_option("--text", text_in, "text to tokenize (BOS is prepended)");
  g->add_option("--ids", ids_in, "comma-separated token ids, used as given");
  g->require_option(1);
  c->callback([] {
    auto lm = load_for_inference(model_dir, "fp32", 0, "cpu");
    std::vector<int64_t> ids;
    if (!ids_in.empty()) {
      std::stringstream ss(ids_in);
      std::string item;
      while (std::getline(ss, item, ',')) {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(item, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != item.size()) fail("--ids", "'" + item + "' is not an integer");
        if (v < 0 || v >= lm.model->config().vocab_size)
          fail("--ids", "token id " + item + " outside the vocabulary [0, " +
                            std::to_string(lm.model->config().vocab_size) + ")");
        ids.push_back(v);
      }
    } else {
      ids.push_back(lm.tokenizer.bos_id());
      for (int id : lm.tokenizer.encode(text_in)) ids.push_back(id);
    }
    if (ids.empty()) fail("--ids", "no token ids given");
    if (static_cast<int64_t>(ids.size()) > lm.model->config().max_position_embeddings)
      fail("--ids", std::to_string(ids.size()) + " tokens exceed the model's context of " +
                        std::to_string(lm.model->config().max_position_embeddings));
    torch::NoGradGuard ng;
    auto t = torch::tensor(ids, torch::kLong).unsqueeze(0);
    auto lp = torch::log_softmax(lm.model->full_logits(t)[0].to(torch::kFloat), -1);
    nlohmann::json out_ids = ids, tokens = nlohmann::json::array(), lps = nlohmann::json::array();
    for (size_t i = 0; i < ids.size(); ++i) {
      tokens.push_back(ids[i] < lm.tokenizer.vocab_size() ? lm.tokenizer.piece(static_cast<int>(ids[i])) : "");
      if (i == 0)
        lps.push_back(nullptr);
      else
        lps.push_back(lp[static_cast<int64_t>(i) - 1][ids[i]].item<double>());
    }
    std::cout << nlohmann::json{{"ids", out_ids}, {"tokens", tokens}, {"logprobs", lps}}.dump() << "\n";
  });
}

}  // namespace srl::cli
