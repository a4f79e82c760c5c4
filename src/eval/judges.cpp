#include "eval/judges.hpp"

#include <cmath>

#include "core/error.hpp"
#include "data/annotator_panel.hpp"
#include "data/generate_dataset.hpp"
#include "eval/evaluator.hpp"
#include "eval/helpfulness.hpp"
#include "eval/safety.hpp"
#include "eval/simulate.hpp"

namespace srl::eval {

namespace {

class HeuristicJudge : public train::PairwiseJudge {
 public:
  explicit HeuristicJudge(double temperature) : temperature_(temperature) {}
  std::string name() const override { return "heuristic"; }
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const train::RolloutText*, const train::RolloutText*>>& pairs) override {
    std::vector<double> out;
    out.reserve(pairs.size());
    for (const auto& [a, b] : pairs) {
      const std::string user = last_user_message(a->conversation);
      const double d = heuristic_reply_score(user, a->response) - heuristic_reply_score(user, b->response);
      out.push_back(1.0 / (1.0 + std::exp(-d / temperature_)));
    }
    return out;
  }

 private:
  double temperature_;
};

class PanelEvaluator : public Evaluator {
 public:
  explicit PanelEvaluator(data::AnnotatorPanel panel) : panel_(std::move(panel)) {}
  std::string name() const override { return "panel"; }
  std::vector<EvalResult> evaluate(const std::vector<EvalInput>& batch) override {
    std::vector<EvalResult> out;
    for (const auto& in : batch) {
      const auto e = panel_.expectation(last_user_message(in.conversation));
      const auto r = data::score_response(e, in.response);
      EvalResult res;
      std::string weak;
      for (int c = 0; c < data::kNumCriteria; ++c) {
        res.scores[data::criterion_names()[c]] = r.value[c];
        if (!r.weakness[c].empty()) weak += (weak.empty() ? "" : "; ") + r.weakness[c];
      }
      res.scores["score"] = rubric_reward(e, in.response);
      res.explanation = weak.empty() ? "meets every criterion" : weak;
      out.push_back(std::move(res));
    }
    return out;
  }

 private:
  data::AnnotatorPanel panel_;
};

}  // namespace

double heuristic_reply_score(const std::string& user_message, const std::string& reply) {
  const auto v = check_reply(user_message, reply);
  return score_helpfulness(user_message, reply).helpfulness - (v.unsafe() ? 1.0 : 0.0) -
         (v.escalation_ok() ? 0.0 : 0.5);
}

std::shared_ptr<train::PairwiseJudge> make_heuristic_judge(double temperature) {
  if (!(temperature > 0) || !std::isfinite(temperature))
    fail("reward.heuristic_temperature", "must be positive");
  return std::make_shared<HeuristicJudge>(temperature);
}

void attach_eval_layer(const train::RlConfig& cfg, train::RlOptions& opt) {
  if (opt.mode == train::RlMode::DirectPreference && cfg.reward.judge == train::JudgeKind::Heuristic && !opt.judge)
    opt.judge = make_heuristic_judge();
  if (cfg.train.evaluators.empty() || opt.eval_callback) return;
  register_judge_evaluators(static_cast<uint64_t>(cfg.reward.panel_seed));
  auto set = std::make_shared<EvaluatorSet>(make_evaluators(cfg.train.evaluators, 60.0, "config: rl.train.evaluators"));
  opt.eval_callback = [set](const std::vector<train::RolloutText>& replies) {
    std::vector<EvalInput> batch;
    for (const auto& r : replies) batch.push_back({r.conversation, r.response});
    return set->run(batch, "");
  };
}

void register_judge_evaluators(uint64_t panel_seed) {
  register_evaluator("panel", [panel_seed](const EvaluatorSpec&) {
    data::GenerateOptions go;
    go.seed = panel_seed;
    return std::make_unique<PanelEvaluator>(data::dataset_panel(go));
  });
}

}  // namespace srl::eval
