#include "train/rl_rewards.hpp"

#include <unordered_map>

#include "core/error.hpp"
#include "core/numeric.hpp"
#include "data/annotator_panel.hpp"
#include "data/generate_dataset.hpp"

namespace srl::train {

namespace {

class PanelJudge : public PairwiseJudge {
 public:
  explicit PanelJudge(data::AnnotatorPanel panel) : panel_(std::move(panel)) {}
  std::string name() const override { return "panel"; }
  std::vector<double> prob_a_beats_b(
      const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) override {
    std::vector<double> out;
    out.reserve(pairs.size());
    for (const auto& [a, b] : pairs) out.push_back(panel_.prob_a_beats_b(a->conversation, a->response, b->response));
    return out;
  }

 private:
  data::AnnotatorPanel panel_;
};

}  // namespace

std::shared_ptr<PairwiseJudge> make_panel_judge(uint64_t panel_seed) {
  data::GenerateOptions go;
  go.seed = panel_seed;
  return std::make_shared<PanelJudge>(data::dataset_panel(go));
}

RewardModelSource::RewardModelSource(const std::string& path, bool standardize, int64_t batch, torch::Device device)
    : rm_(RewardModel::load(path)), batch_(batch) {
  rm_.to(device);
  if (!standardize) return;
  if (!rm_.stats.mean || !rm_.stats.std || !(*rm_.stats.std > 0))
    fail(path, "has no reward statistics (mean and a positive std) to standardize with; "
               "set rl.reward.standardize: false");
  mean_ = *rm_.stats.mean;
  std_ = *rm_.stats.std;
}

std::vector<double> RewardModelSource::score(const std::vector<const RolloutText*>& rollouts) {
  std::vector<ScoreItem> items;
  items.reserve(rollouts.size());
  for (const auto* r : rollouts) items.push_back(ScoreItem{r->conversation, r->response});
  auto s = rm_.score_batch(items, batch_);
  for (auto& x : s) x = (x - mean_) / std_;
  return s;
}

std::vector<double> RewardModelSource::prob_a_beats_b(
    const std::vector<std::pair<const RolloutText*, const RolloutText*>>& pairs) {
  std::unordered_map<const RolloutText*, size_t> index;
  std::vector<const RolloutText*> unique;
  for (const auto& [a, b] : pairs)
    for (const auto* r : {a, b})
      if (index.emplace(r, unique.size()).second) unique.push_back(r);
  auto s = score(unique);
  std::vector<double> out;
  out.reserve(pairs.size());
  for (const auto& [a, b] : pairs) out.push_back(sigmoid(s[index[a]] - s[index[b]]));
  return out;
}

void check_judged(const std::vector<double>& v, size_t expected, const std::string& source, const char* what,
                  bool probability) {
  if (v.size() != expected)
    fail_internal(source, "returned " + std::to_string(v.size()) + " " + what + " for " + std::to_string(expected) +
                              " requests");
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]) || (probability && (v[i] < 0 || v[i] > 1)))
      fail_internal(source, std::string("returned ") + what + " " + std::to_string(v[i]) + " for request " +
                                std::to_string(i) + (probability ? " (not a probability)" : " (not finite)"));
}

}  // namespace srl::train
