#include "train/reward_eval.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <unordered_map>

#include "core/error.hpp"
#include "core/markup.hpp"
#include "core/numeric.hpp"
#include "data/generate_dataset.hpp"

namespace srl::train {

namespace {

// Stable -[t log sigmoid(d) + (1 - t) log(1 - sigmoid(d))] = softplus(d) - t d.
double bce_with_logit(double d, double t) { return std::max(d, 0.0) + std::log1p(std::exp(-std::abs(d))) - t * d; }


std::string group_key(const std::string& s) { return s.empty() ? "(none)" : s; }

nlohmann::json groups_json(const std::map<std::string, GroupAccuracy>& g) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : g) out[k] = {{"pairs", v.pairs}, {"correct", v.correct}, {"accuracy", v.accuracy()}};
  return out;
}

std::string num(double x, const char* fmt = "%.1f") {
  char b[32];
  std::snprintf(b, sizeof b, fmt, x);
  return b;
}

}  // namespace

Reliability reliability(const std::vector<double>& prob_a, const std::vector<int>& a_won, int n_bins) {
  if (n_bins < 1) fail_internal("reliability", "n_bins must be positive");
  if (prob_a.size() != a_won.size()) fail_internal("reliability", "prob_a and a_won differ in length");
  Reliability r;
  r.bins.resize(n_bins);
  std::vector<double> conf_sum(n_bins, 0.0), won_sum(n_bins, 0.0);
  for (size_t i = 0; i < prob_a.size(); ++i) {
    const double p = prob_a[i];
    if (!std::isfinite(p) || p < 0 || p > 1)
      fail_internal("reliability", "probability " + std::to_string(p) + " outside [0, 1]");
    const int b = std::min(n_bins - 1, static_cast<int>(p * n_bins));
    ++r.bins[b].count;
    conf_sum[b] += p;
    won_sum[b] += a_won[i] ? 1.0 : 0.0;
  }
  r.count = static_cast<int64_t>(prob_a.size());
  for (int b = 0; b < n_bins; ++b) {
    auto& bin = r.bins[b];
    bin.lo = static_cast<double>(b) / n_bins;
    bin.hi = static_cast<double>(b + 1) / n_bins;
    if (bin.count == 0) continue;
    bin.mean_confidence = conf_sum[b] / bin.count;
    bin.observed = won_sum[b] / bin.count;
    r.ece += static_cast<double>(bin.count) / r.count * std::abs(bin.observed - bin.mean_confidence);
  }
  return r;
}

RewardEval evaluate_scored_pairs(const std::vector<ScoredPair>& pairs, int n_bins) {
  if (pairs.empty()) fail_internal("reward eval", "no scored pairs");
  RewardEval e;
  e.pairs = static_cast<int64_t>(pairs.size());
  std::vector<double> probs;
  std::vector<int> won;
  double rsum = 0, rsq = 0, margin_sum = 0, loss_sum = 0;
  e.reward_min = pairs.front().reward_a;
  e.reward_max = pairs.front().reward_a;
  for (const auto& p : pairs) {
    if (!std::isfinite(p.reward_a) || !std::isfinite(p.reward_b)) fail_internal("reward eval", "non-finite reward");
    for (double r : {p.reward_a, p.reward_b}) {
      rsum += r;
      rsq += r * r;
      e.reward_min = std::min(e.reward_min, r);
      e.reward_max = std::max(e.reward_max, r);
    }
    const double d = p.reward_a - p.reward_b;
    const double target = p.winner == data::Winner::A ? 1.0 : p.winner == data::Winner::B ? 0.0 : 0.5;
    loss_sum += bce_with_logit(d, target);
    if (p.winner == data::Winner::Tie) {
      ++e.ties;
      continue;
    }
    const double margin = p.winner == data::Winner::A ? d : -d;
    const bool correct = margin > 0;
    margin_sum += margin;
    for (auto* g : {&e.overall, &e.by_intent[group_key(p.intent)], &e.by_difficulty[group_key(p.difficulty)]}) {
      ++g->pairs;
      g->correct += correct;
    }
    probs.push_back(sigmoid(d));
    won.push_back(p.winner == data::Winner::A);
  }
  const double n = 2.0 * static_cast<double>(pairs.size());
  e.reward_mean = rsum / n;
  e.reward_std = std::sqrt(std::max(0.0, rsq / n - e.reward_mean * e.reward_mean));
  e.loss = loss_sum / static_cast<double>(pairs.size());
  e.mean_margin = e.overall.pairs ? margin_sum / e.overall.pairs : 0.0;
  e.calibration = reliability(probs, won, n_bins);
  return e;
}

LabelCeiling synthetic_label_ceiling(const std::vector<data::PreferencePair>& pairs) {
  LabelCeiling c;
  if (pairs.empty()) {
    c.note = "no pairs";
    return c;
  }
  // Every pair must name the generator and one seed.
  const auto& a0 = pairs.front().annotator;
  if (!a0 || a0->rfind("panel-", 0) != 0) {
    c.note = "not labelled by the synthetic annotator panel (no annotator \"panel-<seed>\")";
    return c;
  }
  const std::string seed_str = a0->substr(6);
  if (seed_str.empty() || seed_str.size() > 18 || seed_str.find_first_not_of("0123456789") != std::string::npos) {
    c.note = "annotator '" + *a0 + "' does not name a panel seed";
    return c;
  }
  const std::string id_prefix = "syn-s" + seed_str + "-";
  for (const auto& p : pairs) {
    if (p.annotator != a0 || p.source != std::optional<std::string>("synthetic") || !p.id ||
        p.id->rfind(id_prefix, 0) != 0 || !p.prompt) {
      c.note = "not every pair comes from `supportrl data generate` with one seed";
      return c;
    }
  }
  data::GenerateOptions opt;
  opt.seed = std::stoull(seed_str);
  const auto ds = data::build_dataset(opt);
  std::unordered_map<std::string, const data::PreferenceRecord*> by_id;
  for (const auto* split : {&ds.train, &ds.val})
    for (const auto& r : *split) by_id[r.id] = &r;
  double agree = 0, bayes = 0;
  int64_t labelled = 0;
  for (const auto& p : pairs) {
    auto it = by_id.find(*p.id);
    if (it == by_id.end() || it->second->prompt != *p.prompt || it->second->response_a != p.response_a ||
        it->second->response_b != p.response_b || it->second->winner != data::winner_name(p.winner)) {
      c.note = "pair " + *p.id + " differs from the default regeneration with seed " + seed_str +
               " (other generator options or edited data)";
      return c;
    }
    if (p.winner == data::Winner::Tie) continue;
    const double q = it->second->prob_a;
    agree += q * q + (1 - q) * (1 - q);
    bayes += std::max(q, 1 - q);
    ++labelled;
  }
  if (labelled == 0) {
    c.note = "no non-tie labels";
    return c;
  }
  c.agreement = agree / labelled;
  c.bayes_accuracy = bayes / labelled;
  c.pairs = labelled;
  c.source = "annotator_panel";
  c.note = "labelling panel's P(A wins) of each pair, from regenerating the data set with seed " + seed_str;
  return c;
}

nlohmann::json reward_eval_json(const RewardEval& e, const nlohmann::json& extra) {
  nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
  j["pairs"] = e.pairs;
  j["ties"] = e.ties;
  j["non_tie"] = e.overall.pairs;
  // Without a non-tie label there is no accuracy or calibration to report: null, not 0.
  const bool any = e.overall.pairs > 0;
  j["accuracy"] = any ? nlohmann::json(e.overall.accuracy()) : nlohmann::json(nullptr);
  j["correct"] = e.overall.correct;
  j["loss"] = e.loss;
  j["ece"] = any ? nlohmann::json(e.calibration.ece) : nlohmann::json(nullptr);
  j["mean_margin"] = any ? nlohmann::json(e.mean_margin) : nlohmann::json(nullptr);
  nlohmann::json bins = nlohmann::json::array();
  for (const auto& b : e.calibration.bins) {
    nlohmann::json row = {{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}};
    // Empty bins have no confidence or frequency; null rather than a made-up 0.
    row["mean_confidence"] = b.count ? nlohmann::json(b.mean_confidence) : nlohmann::json(nullptr);
    row["observed"] = b.count ? nlohmann::json(b.observed) : nlohmann::json(nullptr);
    bins.push_back(row);
  }
  j["reliability"] = bins;
  j["reward"] = {{"mean", e.reward_mean}, {"std", e.reward_std}, {"min", e.reward_min}, {"max", e.reward_max}};
  j["by_intent"] = groups_json(e.by_intent);
  j["by_difficulty"] = groups_json(e.by_difficulty);
  auto opt_num = [](const std::optional<double>& x) { return x ? nlohmann::json(*x) : nlohmann::json(nullptr); };
  j["label_ceiling"] = {{"agreement", opt_num(e.ceiling.agreement)},
                        {"bayes_accuracy", opt_num(e.ceiling.bayes_accuracy)},
                        {"source", e.ceiling.source},
                        {"pairs", e.ceiling.pairs},
                        {"note", e.ceiling.note}};
  return j;
}

std::string reliability_svg(const Reliability& r, const std::string& title) {
  // Plot area: x0..x0+W (predicted), y0..y0+H (observed, upwards).
  const double x0 = 70, y0 = 50, W = 360, H = 320;
  auto X = [&](double v) { return num(x0 + v * W); };
  auto Y = [&](double v) { return num(y0 + H - v * H); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"440\" viewBox=\"0 0 480 440\" "
       "font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"480\" height=\"440\" fill=\"white\"/>\n";
  s << "<text x=\"240\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">" << xml_escape(title) << "</text>\n";
  s << "<text x=\"240\" y=\"40\" text-anchor=\"middle\">ECE " << num(r.ece, "%.4f") << " over " << r.count
    << " non-tie pairs</text>\n";
  // Grid, ticks and tick labels.
  for (int i = 0; i <= 5; ++i) {
    const double v = i / 5.0;
    s << "<line x1=\"" << X(v) << "\" y1=\"" << Y(0) << "\" x2=\"" << X(v) << "\" y2=\"" << Y(1)
      << "\" stroke=\"#eeeeee\"/>\n";
    s << "<line x1=\"" << X(0) << "\" y1=\"" << Y(v) << "\" x2=\"" << X(1) << "\" y2=\"" << Y(v)
      << "\" stroke=\"#eeeeee\"/>\n";
    s << "<text x=\"" << X(v) << "\" y=\"" << num(y0 + H + 16) << "\" text-anchor=\"middle\">" << num(v) << "</text>\n";
    s << "<text x=\"" << num(x0 - 6) << "\" y=\"" << num(y0 + H - v * H + 4) << "\" text-anchor=\"end\">" << num(v)
      << "</text>\n";
  }
  // Bars: observed frequency per non-empty bin; a point at the bin's mean confidence.
  for (const auto& b : r.bins) {
    if (b.count == 0) continue;
    s << "<rect x=\"" << X(b.lo) << "\" y=\"" << Y(b.observed) << "\" width=\"" << num((b.hi - b.lo) * W)
      << "\" height=\"" << num(b.observed * H) << "\" fill=\"#4c78a8\" fill-opacity=\"0.55\" stroke=\"#4c78a8\"/>\n";
    s << "<circle cx=\"" << X(b.mean_confidence) << "\" cy=\"" << Y(b.observed) << "\" r=\"4\" fill=\"#e45756\"/>\n";
    s << "<text x=\"" << X((b.lo + b.hi) / 2) << "\" y=\"" << num(y0 + H - b.observed * H - 6)
      << "\" text-anchor=\"middle\" font-size=\"10\">n=" << b.count << "</text>\n";
  }
  // Perfect calibration and the axes.
  s << "<line x1=\"" << X(0) << "\" y1=\"" << Y(0) << "\" x2=\"" << X(1) << "\" y2=\"" << Y(1)
    << "\" stroke=\"#555555\" stroke-dasharray=\"6,4\"/>\n";
  s << "<line x1=\"" << X(0) << "\" y1=\"" << Y(0) << "\" x2=\"" << X(1) << "\" y2=\"" << Y(0)
    << "\" stroke=\"black\"/>\n";
  s << "<line x1=\"" << X(0) << "\" y1=\"" << Y(0) << "\" x2=\"" << X(0) << "\" y2=\"" << Y(1)
    << "\" stroke=\"black\"/>\n";
  s << "<text x=\"" << num(x0 + W / 2) << "\" y=\"" << num(y0 + H + 36)
    << "\" text-anchor=\"middle\">predicted P(A wins) = sigmoid(r_a - r_b)</text>\n";
  s << "<text x=\"18\" y=\"" << num(y0 + H / 2) << "\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
    << num(y0 + H / 2) << ")\">observed frequency A won</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace srl::train
