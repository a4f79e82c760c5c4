// Where online RL's rewards come from (rl.hpp): a scalar RewardSource per rollout (reward-model RL) or a
// PairwiseJudge that compares two rollouts of one prompt (direct preference RL), and the two built-in
// ones: the simulated annotator panel (the oracle the synthetic data was labelled with) and a trained
// reward model (both a source and, through Bradley-Terry, a judge). The heuristic judge lives in eval/
// and is injected (RlOptions::judge), so train/ does not depend on eval/.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/chat_format.hpp"
#include "train/reward_model.hpp"

namespace srl::train {

// One rollout as reward sources see it.
struct RolloutText {
  std::vector<text::Message> conversation;  // the prompt (ends with the user turn being answered)
  std::string response;                     // the decoded reply, without its stop token
  int64_t tokens = 0;                       // sampled tokens, the stop token included
  bool finished = true;                     // ended with a stop token (false: hit max_new_tokens)
};

// A scalar reward per rollout (reward-model RL). One call per step with every rollout of the step.
class RewardSource {
 public:
  virtual ~RewardSource() = default;
  virtual std::string name() const = 0;
  virtual std::vector<double> score(const std::vector<const RolloutText*>& rollouts) = 0;
};

// A pairwise judge (direct preference RL): P(a beats b) for each pair, both answers to the same
// conversation, a shown first. One call per step with every comparison of the step's tournaments.
class PairwiseJudge {
 public:
  virtual ~PairwiseJudge() = default;
  virtual std::string name() const = 0;
  virtual std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) = 0;
};

// The default annotator panel of `data generate --seed panel_seed` (data::dataset_panel) as a judge:
// the oracle the synthetic data was labelled with.
std::shared_ptr<PairwiseJudge> make_panel_judge(uint64_t panel_seed);

// A reward model as a scalar source (reward-model RL) and as a Bradley-Terry pairwise judge: each distinct
// rollout is scored once per call and P(a beats b) = sigmoid(r_a - r_b), so a tournament costs G scores,
// not one forward per comparison. `standardize`: (score - mean) / std with the model's training statistics.
class RewardModelSource : public RewardSource, public PairwiseJudge {
 public:
  RewardModelSource(const std::string& path, bool standardize, int64_t batch, torch::Device device);
  std::string name() const override { return "reward_model"; }
  std::vector<double> score(const std::vector<const RolloutText*>& rollouts) override;
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) override;

 private:
  RewardModel rm_;
  int64_t batch_;
  double mean_ = 0, std_ = 1;
};

// A reward source's answer checked: `expected` values, each finite (and in [0, 1] when `probability`);
// anything else is srl::fail_internal naming the source (a bug in it, not bad input).
void check_judged(const std::vector<double>& v, size_t expected, const std::string& source, const char* what,
                  bool probability);

}  // namespace srl::train
