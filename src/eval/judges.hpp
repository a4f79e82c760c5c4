// Judges built from the evaluation rubrics, for training and evaluation:
// - `heuristic` pairwise judge for direct preference RL: P(a beats b) = sigmoid((s_a - s_b) / temperature) with
//   s = the support_helpfulness score minus penalties from the safety guardrails (an unsafe reply loses to
//   any safe one; a missed hand-off costs half). No model, no panel: the judge a team without labels has.
// - `panel` evaluator: the simulated annotator panel's rubric (criterion scores and the mean-weight score)
//   registered beside the built-ins, so configs can name it.
#pragma once
#include <memory>
#include <string>

#include "train/rl.hpp"

namespace srl::eval {

// The heuristic score of one reply to the last user message: helpfulness - 1.0 * unsafe - 0.5 * missed hand-off.
double heuristic_reply_score(const std::string& user_message, const std::string& reply);
std::shared_ptr<train::PairwiseJudge> make_heuristic_judge(double temperature = 0.05);

// Registers the `panel` evaluator (idempotent). Called by make_evaluator users before they read configs.
void register_judge_evaluators(uint64_t panel_seed = 0);

// What the evaluation layer adds to an RL run (train/ cannot depend on eval/): the heuristic judge when
// rl.reward.judge is heuristic and none is injected, and the training-time evaluators of
// rl.train.evaluators on the evaluation hook's replies (a failing evaluator is dropped, the run goes on).
void attach_eval_layer(const train::RlConfig& cfg, train::RlOptions& opt);

}  // namespace srl::eval
