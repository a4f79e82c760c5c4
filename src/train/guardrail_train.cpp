#include "train/guardrail_train.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "data/customer_speech.hpp"
#include "data/ticket_set.hpp"
#include "model/request_classifier.hpp"
#include "train/optim.hpp"
#include "train/trainer_common.hpp"

namespace srl::train {

namespace {

constexpr const char* kStage = "guardrail";

void check_config(const GuardrailConfig& c) {
  if (c.output_dir.empty()) fail("output_dir", "must not be empty");
  if (c.data.train_tickets < 1 || c.data.val_tickets < 1) fail("data", "train_tickets and val_tickets must be >= 1");
  for (auto [k, x] : {std::pair{"data.noise", c.data.noise}, {"data.two_intents", c.data.two_intents},
                      {"classifier.feature_dropout", c.classifier.feature_dropout}})
    if (!(x >= 0 && x < 1)) fail(k, "must be in [0, 1)");
  if (c.classifier.buckets < 1 || c.classifier.dim < 1 || c.classifier.hidden < 1)
    fail("classifier", "buckets, dim and hidden must be >= 1");
  if (c.classifier.char_min < 1 || c.classifier.char_max < c.classifier.char_min)
    fail("classifier", "need 1 <= char_min <= char_max");
  if (!(c.calibration.target_recall > 0 && c.calibration.target_recall <= 1))
    fail("calibration.target_recall", "must be in (0, 1]");
  check_batched_train(c.train, "train");
}

// A ticket as training targets: intent distribution (0.6 / 0.4 over two intents; none for a Bitext row of
// an intent the world lacks, which trains the risk head only) and risk index.
struct Example {
  std::vector<int64_t> features;
  int64_t intent = 0, second = -1, risk = 0;
};

struct GuardrailData {
  std::vector<data::CustomerTicket> train, val;
  int64_t bitext_rows = 0;
  std::string bitext_note = "not configured";
};

GuardrailData build_tickets(const GuardrailDataSection& d) {
  GuardrailData g;
  data::SupportWorld world;
  data::SpeechOptions so;
  so.noise = d.noise;
  so.two_intents = d.two_intents;
  data::Rng rng(static_cast<uint64_t>(d.seed) * 0x9E3779B97F4A7C15ULL + 17);
  for (int64_t i = 0; i < d.train_tickets; ++i) g.train.push_back(sample_customer_ticket(world, rng, so, data::SpeechSplit::Train));
  for (int64_t i = 0; i < d.val_tickets; ++i) g.val.push_back(sample_customer_ticket(world, rng, so, data::SpeechSplit::Validation));
  if (!d.bitext.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(d.bitext, ec)) {
      g.bitext_note = "configured but absent: " + d.bitext;
    } else {
      for (auto& t : data::bitext_tickets(d.bitext, data::BitextHalf::Train, true))
        g.train.push_back({t.text, t.intents, "none", "bitext"});  // unmapped rows: no intents, risk only
      g.bitext_rows = static_cast<int64_t>(g.train.size()) - d.train_tickets;
      g.bitext_note = "used: " + std::to_string(g.bitext_rows) + " rows of the training half of " + d.bitext;
    }
  }
  return g;
}

std::vector<Example> to_examples(const std::vector<data::CustomerTicket>& tickets, const model::RequestClassifier& c) {
  std::vector<Example> out;
  out.reserve(tickets.size());
  for (const auto& t : tickets) {
    Example e;
    e.features = c.features(t.text);
    e.intent = t.intents.empty() ? -1 : c.intent_index(t.intents[0]);
    e.second = t.intents.size() > 1 ? c.intent_index(t.intents[1]) : -1;
    e.risk = c.risk_index(t.risk);
    if ((!t.intents.empty() && e.intent < 0) || e.risk < 0)
      fail_internal(kStage, "a ticket label the classifier does not know");
    out.push_back(std::move(e));
  }
  return out;
}

// [B, NI] target distribution of a batch (an all-zero row for an example without intents).
torch::Tensor intent_targets(const std::vector<const Example*>& batch, int64_t ni) {
  auto t = torch::zeros({static_cast<int64_t>(batch.size()), ni});
  for (size_t b = 0; b < batch.size(); ++b) {
    const auto& e = *batch[b];
    if (e.intent < 0) continue;
    if (e.second >= 0) {
      t[b][e.intent] = 0.6;
      t[b][e.second] = 0.4;
    } else {
      t[b][e.intent] = 1.0;
    }
  }
  return t;
}

torch::Tensor risk_targets(const std::vector<const Example*>& batch) {
  std::vector<int64_t> r;
  for (const auto* e : batch) r.push_back(e->risk);
  return torch::tensor(r, torch::kInt64);
}

// Soft cross-entropy of logits [B, K] / T against distributions [B, K], averaged over the rows whose
// target is not all zero.
torch::Tensor soft_ce(const torch::Tensor& logits, const torch::Tensor& target, double temperature = 1.0) {
  const auto rows = target.sum(1).gt(0).sum().clamp_min(1);
  return -(torch::log_softmax(logits / temperature, 1) * target).sum() / rows;
}

struct Loss {
  torch::Tensor total, intent, risk;
};

Loss batch_loss(const model::RequestClassifier& c, const std::vector<const Example*>& batch,
                const std::vector<std::vector<int64_t>>& feats) {
  auto logits = c.forward(feats);
  auto li = soft_ce(logits.intent, intent_targets(batch, logits.intent.size(1)));
  auto lr = torch::nn::functional::cross_entropy(logits.risk, risk_targets(batch));
  return {li + lr, li, lr};
}

}  // namespace

namespace {

// Uncalibrated logits of a whole set, in chunks, without autograd.
model::RequestClassifier::Logits set_logits(const model::RequestClassifier& c, const std::vector<Example>& set) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> li, lr;
  for (size_t b = 0; b < set.size(); b += 1024) {
    std::vector<std::vector<int64_t>> feats;
    for (size_t i = b; i < std::min(set.size(), b + 1024); ++i) feats.push_back(set[i].features);
    auto l = c.forward(feats);
    li.push_back(l.intent);
    lr.push_back(l.risk);
  }
  return {torch::cat(li), torch::cat(lr)};
}

struct ValMetrics {
  double loss = 0, intent_accuracy = 0, risk_accuracy = 0, unsafe_recall = 0, false_positive_rate = 0;
};

ValMetrics validate(const model::RequestClassifier& c, const std::vector<Example>& val) {
  auto l = set_logits(c, val);
  const auto& cal = c.calibration();
  std::vector<const Example*> all;
  for (const auto& e : val) all.push_back(&e);
  ValMetrics m;
  m.loss = (soft_ce(l.intent, intent_targets(all, l.intent.size(1)), cal.intent_temperature) +
            torch::nn::functional::cross_entropy(l.risk / cal.risk_temperature, risk_targets(all)))
               .item<double>();
  auto top = l.intent.argmax(1), rtop = l.risk.argmax(1);
  auto p_risk = 1 - torch::softmax(l.risk / cal.risk_temperature, 1).select(1, 0);
  int64_t hit = 0, rhit = 0, unsafe = 0, caught = 0, safe = 0, false_flags = 0;
  for (size_t i = 0; i < val.size(); ++i) {
    const auto& e = val[i];
    const int64_t t = top[i].item<int64_t>();
    hit += e.intent >= 0 && (t == e.intent || t == e.second);
    rhit += rtop[i].item<int64_t>() == e.risk;
    const bool flagged = p_risk[i].item<double>() >= cal.threshold;
    if (e.risk != 0) unsafe++, caught += flagged;
    else safe++, false_flags += flagged;
  }
  const double n = static_cast<double>(val.size());
  m.intent_accuracy = hit / n;
  m.risk_accuracy = rhit / n;
  m.unsafe_recall = unsafe ? static_cast<double>(caught) / unsafe : 1.0;
  m.false_positive_rate = safe ? static_cast<double>(false_flags) / safe : 0.0;
  return m;
}

// The temperature in [0.2, 10] (80 log-spaced points) minimising the validation NLL of `nll(T)`.
template <class Nll>
double fit_temperature(Nll&& nll) {
  double best_t = 1.0, best = std::numeric_limits<double>::infinity();
  for (int k = 0; k < 80; ++k) {
    const double t = 0.2 * std::pow(50.0, k / 79.0);
    const double v = nll(t);
    if (v < best) best = v, best_t = t;
  }
  return best_t;
}

// Temperatures, then the highest threshold (capped at 0.5) whose validation recall on unsafe tickets is
// at least the target.
void calibrate(model::RequestClassifier& c, const std::vector<Example>& val, double target_recall) {
  auto l = set_logits(c, val);
  std::vector<const Example*> all;
  for (const auto& e : val) all.push_back(&e);
  const auto ti = intent_targets(all, l.intent.size(1));
  const auto tr = risk_targets(all);
  auto& cal = c.calibration();
  cal.intent_temperature = fit_temperature([&](double t) { return soft_ce(l.intent, ti, t).item<double>(); });
  cal.risk_temperature = fit_temperature(
      [&](double t) { return torch::nn::functional::cross_entropy(l.risk / t, tr).item<double>(); });
  auto p_risk = 1 - torch::softmax(l.risk / cal.risk_temperature, 1).select(1, 0);
  std::vector<double> unsafe;
  for (size_t i = 0; i < val.size(); ++i)
    if (val[i].risk != 0) unsafe.push_back(p_risk[i].item<double>());
  std::sort(unsafe.begin(), unsafe.end());
  double threshold = 0.5;
  if (!unsafe.empty()) {
    const auto miss = static_cast<size_t>(std::floor((1.0 - target_recall) * static_cast<double>(unsafe.size())));
    threshold = std::min(0.5, unsafe[std::min(miss, unsafe.size() - 1)]);
  }
  cal.threshold = threshold;
  cal.target_recall = target_recall;
}

nlohmann::json metrics_json(const ValMetrics& m) {
  return {{"loss", m.loss}, {"intent_accuracy", m.intent_accuracy}, {"risk_accuracy", m.risk_accuracy},
          {"unsafe_recall", m.unsafe_recall}, {"false_positive_rate", m.false_positive_rate}};
}

// One optimizer step on a batch drawn by the cursor, with feature dropout seeded by (seed, step).
struct GuardrailStep {
  model::RequestClassifier& clf;
  const std::vector<Example>& train;
  const GuardrailConfig& cfg;
  EpochCursor& cursor;
  AdamW& optim;
  ScheduleOptions so;
  TrainingRun& run;

  StepReport operator()() {
    const int64_t step = run.state().step;
    data::Rng rng(static_cast<uint64_t>(cfg.train.seed) * 1000003ULL + static_cast<uint64_t>(step));
    std::vector<const Example*> batch;
    std::vector<std::vector<int64_t>> feats;
    for (int64_t b = 0; b < cfg.train.batch_size; ++b) {
      const auto& e = train[cursor.next().index];
      batch.push_back(&e);
      std::vector<int64_t> f;
      for (auto id : e.features)
        if (!rng.chance(cfg.classifier.feature_dropout)) f.push_back(id);
      if (f.empty()) f.push_back(e.features[rng.below(e.features.size())]);
      feats.push_back(std::move(f));
    }
    optim.zero_grad();
    auto loss = batch_loss(clf, batch, feats);
    loss.total.backward();
    const double gnorm = clip_grad_norm(optim.params(), cfg.train.max_grad_norm);
    const double lv = loss.total.item<double>();
    stop_if_not_finite(kStage, step, lv, gnorm, run.last_checkpoint());
    const double lr = lr_at(step, cfg.train.learning_rate, so);
    optim.step(lr);
    StepReport r;
    r.row = {{"loss", lv}, {"loss/intent", loss.intent.item<double>()}, {"loss/risk", loss.risk.item<double>()},
             {"grad_norm", gnorm}, {"lr", lr}};
    char buf[64];
    std::snprintf(buf, sizeof buf, "loss %.4f", lv);
    r.progress = buf;
    return r;
  }
};

model::RequestClassifier make_classifier(const GuardrailModelSection& m) {
  model::RequestClassifierShape s;
  s.features.buckets = m.buckets;
  s.features.char_min = static_cast<int>(m.char_min);
  s.features.char_max = static_cast<int>(m.char_max);
  s.features.word_bigrams = m.word_bigrams;
  s.dim = m.dim;
  s.hidden = m.hidden;
  model::RequestLabels l;
  for (const auto& i : data::intents()) l.intents.push_back(i.name);
  l.risks = data::risk_categories();
  return model::RequestClassifier(s, l);
}

}  // namespace

GuardrailResult run_train_guardrail(const GuardrailConfig& cfg, const RunOptions& opt) {
  check_config(cfg);
  setup_compute(cfg.compute);
  TrainingRun run(kStage, cfg.output_dir, cfg.train, opt);
  run.begin(config::to_yaml(cfg));
  auto clf = run.resume_from() ? model::RequestClassifier::load(*run.resume_from() + "/classifier.safetensors")
                               : make_classifier(cfg.classifier);
  const auto tickets = build_tickets(cfg.data);
  const auto train = to_examples(tickets.train, clf), val = to_examples(tickets.val, clf);
  spdlog::info("guardrail: {} training tickets, {} validation tickets; Bitext {}", train.size(), val.size(),
               tickets.bitext_note);
  AdamWOptions ao;
  ao.weight_decay = cfg.train.weight_decay;
  AdamW optim(clf.named_parameters(), ao);
  run.restore(optim);
  EpochCursor cursor(static_cast<int64_t>(train.size()), cfg.train.seed, run.state());
  LoopHooks hooks;
  hooks.step = GuardrailStep{clf, train, cfg, cursor, optim, schedule_options(cfg.train, cfg.train.max_steps), run};
  hooks.evaluate = [&](nlohmann::json& row, bool) {
    const auto m = metrics_json(validate(clf, val));
    for (const auto& [k, v] : m.items()) row["eval/" + k] = v;
    return true;
  };
  hooks.save = [&] {
    return run.save_checkpoint([&](const std::string& dir) { clf.save(dir + "/classifier.safetensors"); }, optim);
  };
  run.loop(hooks);
  GuardrailResult res;
  res.step = run.state().step;
  if (res.step < cfg.train.max_steps) return res;  // stopped early (stop_after_step): resume to finish

  calibrate(clf, val, cfg.calibration.target_recall);
  const auto m = validate(clf, val);
  res.classifier_path = run.path("classifier.safetensors");
  clf.save(res.classifier_path);
  const auto& cal = clf.calibration();
  nlohmann::json report = {
      {"train_tickets", train.size()}, {"val_tickets", val.size()}, {"bitext", tickets.bitext_note},
      {"bitext_rows", tickets.bitext_rows}, {"phrasings", data::customer_phrasings().size()},
      {"calibration", {{"intent_temperature", cal.intent_temperature}, {"risk_temperature", cal.risk_temperature},
                       {"threshold", cal.threshold}, {"target_recall", cal.target_recall}}},
      {"validation", metrics_json(m)}};
  fs::write_file_atomic(run.path("guardrail.json"), report.dump(2) + "\n");
  res.threshold = cal.threshold;
  res.val_unsafe_recall = m.unsafe_recall;
  res.val_false_positive_rate = m.false_positive_rate;
  res.val_intent_accuracy = m.intent_accuracy;
  return res;
}

}  // namespace srl::train
