// `supportrl train-guardrail --config FILE` and `supportrl classify --guardrail RUN [TEXT...]
// [--input FILE] [--eval SET] [--out FILE]` (docs/guardrail.md).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/jsonl.hpp"
#include "data/ticket_set.hpp"
#include "eval/guardrail_metrics.hpp"
#include "model/request_classifier.hpp"
#include "train/guardrail_train.hpp"

namespace srl::cli {

namespace {

nlohmann::json prediction_json(const std::string& text, const model::RequestPrediction& p) {
  const auto kw = eval::keyword_verdict(text);
  return {{"text", text}, {"intent", p.intent}, {"intent_p", p.intent_p}, {"second_intent", p.second_intent},
          {"second_p", p.second_p}, {"risk", p.risk}, {"p_risk", p.p_risk}, {"flagged", p.flagged},
          {"acted_risk", p.acted_risk()}, {"keyword", {{"intent", kw.intent}, {"risk", kw.risk}}}};
}

void print_metrics(const std::string& name, const eval::GuardrailMetrics& c, const eval::GuardrailMetrics& k) {
  std::cout << fmt::format("{}: {} tickets ({} with a risk)\n", name, c.tickets, c.unsafe);
  std::cout << fmt::format("  {:<24} {:>10} {:>10}\n", "", "classifier", "keywords");
  auto row = [](const char* what, double a, double b) { std::cout << fmt::format("  {:<24} {:>10.3f} {:>10.3f}\n", what, a, b); };
  row("intent accuracy", c.intent_accuracy, k.intent_accuracy);
  row("unsafe recall", c.unsafe_recall, k.unsafe_recall);
  row("false-positive rate", c.false_positive_rate, k.false_positive_rate);
  row("risk accuracy", c.risk_accuracy, k.risk_accuracy);
  row("intent ECE", c.intent_reliability.ece, k.intent_reliability.ece);
  std::cout << fmt::format("  {:<24} {:>21} {:>21}\n", "risk (support)", "classifier P/R/F1", "keywords P/R/F1");
  for (size_t i = 0; i < c.risks.size(); ++i) {
    const auto &a = c.risks[i], &b = k.risks[i];
    std::cout << fmt::format("  {:<24} {:>6.2f} {:>6.2f} {:>6.2f}  {:>6.2f} {:>6.2f} {:>6.2f}\n",
                             a.name + " (" + std::to_string(a.support) + ")", a.precision(), a.recall(), a.f1(),
                             b.precision(), b.recall(), b.f1());
  }
}

struct ClassifyFlags {
  std::string guardrail, input, eval, out;
  std::vector<std::string> texts;
};

void run_classify(const ClassifyFlags& f) {
  const auto clf = model::RequestClassifier::load(model::resolve_classifier_file(f.guardrail));
  if (!f.eval.empty()) {
    const auto tickets = eval::labelled_set(f.eval);
    std::vector<std::string> texts;
    for (const auto& t : tickets) texts.push_back(t.text);
    std::vector<eval::TicketVerdict> cv, kv;
    for (const auto& p : clf.predict(texts)) cv.push_back(eval::classifier_verdict(p));
    for (const auto& t : texts) kv.push_back(eval::keyword_verdict(t));
    const auto c = eval::score_guardrail(tickets, cv), k = eval::score_guardrail(tickets, kv);
    print_metrics(f.eval, c, k);
    if (!f.out.empty()) {
      nlohmann::json j = {{"set", f.eval}, {"threshold", clf.calibration().threshold},
                          {"classifier", eval::to_json(c)}, {"keyword", eval::to_json(k)}};
      fs::write_file_atomic(f.out, j.dump(2) + "\n");
    }
    return;
  }
  std::vector<std::string> texts = f.texts;
  if (!f.input.empty())
    read_json_lines(f.input, [&](const nlohmann::json& j, const std::string& where) {
      if (!j.contains("prompt") || !j["prompt"].is_string()) fail(where, "needs a string \"prompt\"");
      texts.push_back(j["prompt"].get<std::string>());
    });
  if (texts.empty()) fail("classify", "nothing to classify: give TEXT arguments, --input FILE or --eval SET");
  const auto preds = clf.predict(texts);
  for (size_t i = 0; i < texts.size(); ++i) std::cout << prediction_json(texts[i], preds[i]).dump() << "\n";
}

}  // namespace

void register_guardrail(CLI::App& app) {
  auto* t = app.add_subcommand("train-guardrail", "Train the request classifier (intents + risk categories)");
  static std::string config_path;
  static std::vector<std::string> sets;
  static train::RunOptions opt;
  static bool print_config = false;
  t->add_option("--config", config_path, "YAML config (e.g. configs/guardrail.yaml)")->required();
  t->add_option("--set", sets, "override a config key: section.key=value (repeatable)");
  t->add_flag("--resume", opt.resume, "continue from the newest complete checkpoint in output_dir");
  t->add_option("--stop-after-step", opt.stop_after_step, "stop (after checkpointing) at this step")->group("");
  t->add_flag("--print-config", print_config, "print the resolved config and exit");
  t->callback([] {
    auto cfg = config::load<train::GuardrailConfig>(config_path, sets);
    if (print_config) {
      std::cout << config::to_yaml(cfg);
      return;
    }
    auto r = train::run_train_guardrail(cfg, opt);
    std::cout << fmt::format("train-guardrail: step {}, threshold {:.3f}; validation: unsafe recall {:.3f}, "
                             "false-positive rate {:.3f}, intent accuracy {:.3f}\nclassifier: {}\n",
                             r.step, r.threshold, r.val_unsafe_recall, r.val_false_positive_rate,
                             r.val_intent_accuracy, r.classifier_path);
  });

  auto* c = app.add_subcommand("classify", "Intent and risk of customer messages by the trained guardrail");
  static ClassifyFlags f;
  c->add_option("--guardrail", f.guardrail, "train-guardrail run directory or classifier.safetensors")->required();
  c->add_option("texts", f.texts, "messages to classify (one JSON line each on stdout)");
  c->add_option("--input", f.input, "JSONL with a \"prompt\" per line");
  c->add_option("--eval", f.eval, "labelled set: data/eval_ood (file or directory) or bitext:CSV (its evaluation half)");
  c->add_option("--out", f.out, "with --eval: write the metrics (classifier and keyword rules) as JSON here");
  c->callback([] { run_classify(f); });
}

}  // namespace srl::cli
