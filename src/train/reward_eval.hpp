// Reward-model evaluation as plain arithmetic on scored pairs (no libtorch, so the evaluation suite can
// reuse it on any scorer): accuracy on non-tie labels, a reliability table and ECE of P(A wins) =
// sigmoid(r_a - r_b), reward statistics, accuracy per intent and difficulty, the label-agreement ceiling
// of the data, eval.json and the reliability diagram as a small hand-written SVG (docs/reward_model.md).
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/preference.hpp"

namespace srl::train {

// One held-out pair as the reward model scored it.
struct ScoredPair {
  double reward_a = 0, reward_b = 0;
  data::Winner winner = data::Winner::Tie;
  std::string intent, difficulty;  // "" when untagged
};

struct ReliabilityBin {
  double lo = 0, hi = 0;  // [lo, hi), the last bin includes 1
  int64_t count = 0;
  double mean_confidence = 0;  // mean predicted P(A wins) in the bin (0 when empty)
  double observed = 0;         // fraction of the bin's pairs that A won (0 when empty)
};

struct Reliability {
  std::vector<ReliabilityBin> bins;
  int64_t count = 0;  // predictions binned
  double ece = 0;     // sum over bins of count/total * |observed - mean_confidence|
};

// Equal-width bins on [0, 1]; p = 1 falls into the last bin. prob_a and a_won (0/1) have equal
// lengths; each p must be finite and in [0, 1] (else srl::fail_internal: a scorer bug).
Reliability reliability(const std::vector<double>& prob_a, const std::vector<int>& a_won, int n_bins = 10);

struct GroupAccuracy {
  int64_t pairs = 0;    // non-tie pairs in the group
  int64_t correct = 0;  // r_winner > r_loser (an exact reward tie counts as wrong)
  double accuracy() const { return pairs ? static_cast<double>(correct) / pairs : 0.0; }
};

// What the labels allow: `agreement` = mean p^2 + (1-p)^2 over the non-tie labels (the expected agreement
// of an independent relabelling, the data card's "agreement ceiling"); `bayes_accuracy` = mean max(p, 1-p),
// the accuracy the best possible scorer can expect on these labels. p = the labeller's P(A wins).
struct LabelCeiling {
  std::optional<double> agreement, bayes_accuracy;
  std::string source = "unknown";  // "annotator_panel" | "config" | "unknown"
  int64_t pairs = 0;               // non-tie labels it averages over (0 when not measured here)
  std::string note;                // how it was obtained, or why it is unknown
};

struct RewardEval {
  int64_t pairs = 0, ties = 0;
  GroupAccuracy overall;    // non-tie pairs
  double loss = 0;          // mean Bradley-Terry BCE over all pairs (tie target 0.5), no margin
  Reliability calibration;  // non-tie pairs: P(A wins) vs whether A won
  double reward_mean = 0, reward_std = 0, reward_min = 0, reward_max = 0;  // over both responses of every pair
  double mean_margin = 0;                                                  // mean r_winner - r_loser over non-tie pairs
  std::map<std::string, GroupAccuracy> by_intent, by_difficulty;           // untagged pairs under "(none)"
  LabelCeiling ceiling;
};

// Summarises scored pairs (at least one; srl::fail_internal on an empty set or non-finite rewards).
RewardEval evaluate_scored_pairs(const std::vector<ScoredPair>& pairs, int n_bins = 10);

// The ceiling of synthetic data from `supportrl data generate`: when every pair carries the generator's
// id, source and annotator ("syn-s<S>-...", "synthetic", "panel-<S>"), the data set is regenerated in
// memory with default options and seed S, and each pair is matched by id and text to read the labelling
// panel's P(A wins). Any mismatch (other generator options, edited or policy-draft pairs) gives source
// "unknown" with the reason in `note` rather than a number that may not belong to these labels.
LabelCeiling synthetic_label_ceiling(const std::vector<data::PreferencePair>& pairs);

// eval.json (schema in docs/reward_model.md). `extra` keys (step, files, ...) are merged in first.
nlohmann::json reward_eval_json(const RewardEval& e, const nlohmann::json& extra = nlohmann::json::object());

// A self-contained SVG reliability diagram: the diagonal, one bar per non-empty bin (height = observed
// frequency) with its mean confidence as a point, bin counts, labelled axes and the ECE in the title.
std::string reliability_svg(const Reliability& r, const std::string& title);

}  // namespace srl::train
