#include "model/engine_plan.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <map>

namespace srl::model {

namespace {

// Rows of this step: every prompt token of a joining sequence, else the last sampled token. Joining
// sequences with the same prompt (RL's rollouts of one prompt) share one prefill: the first computes it,
// the others read its keys and values (EngineSlots::share_prefix) and sample from its logits with their
// own random streams.
void plan_rows(const std::vector<EngineSeq*>& live, StepPlan& p) {
  std::map<std::vector<int64_t>, size_t> leaders;
  p.logit_row.assign(live.size(), 0);
  for (size_t i = 0; i < live.size(); ++i) {
    const auto& s = *live[i];
    if (s.kv.cached == 0 && !leaders.emplace(s.prompt, i).second) {
      p.followers.emplace_back(i, leaders.at(s.prompt));
      continue;
    }
    if (s.kv.cached == 0) {
      for (size_t j = 0; j < s.prompt.size(); ++j)
        p.rows.push_back({static_cast<int64_t>(i), s.prompt[j], static_cast<int64_t>(j)});
    } else {
      p.rows.push_back({static_cast<int64_t>(i), s.out.gen.tokens.back(), s.kv.cached});
    }
    p.logit_row[i] = p.N() - 1;
  }
  for (auto [f, lead] : p.followers) p.logit_row[f] = p.logit_row[lead];
}

// The rows grouped by sequence (each sequence's rows are consecutive), with their attention work.
void plan_groups(const std::vector<EngineSeq*>& live, StepPlan& p) {
  const auto& rows = p.rows;
  for (int64_t r = 0; r < p.N(); ++r) {
    if (r == 0 || rows[r].seq != rows[r - 1].seq) {
      const auto& kv = live[static_cast<size_t>(rows[r].seq)]->kv;
      p.groups.push_back({r, r, kv.slot, kv.owner(), kv.prefix_blocks, 0});
    }
    p.groups.back().end = r + 1;
    p.groups.back().work += static_cast<double>(rows[r].pos + 1);
  }
}

// Attention units (group, kv head) split across the team by work (positions attended).
void plan_units(int64_t KV, StepPlan& p) {
  const int threads = p.threads;
  const auto units = static_cast<int64_t>(p.groups.size()) * KV;
  p.unit_start.assign(static_cast<size_t>(threads) + 1, units);
  p.unit_start[0] = 0;
  double total_work = 0, acc_work = 0;
  for (const auto& g : p.groups) total_work += g.work * static_cast<double>(KV);
  for (int64_t u = 0, j = 1; u < units && j < threads; ++u) {
    while (j < threads && acc_work >= total_work * static_cast<double>(j) / threads) p.unit_start[static_cast<size_t>(j++)] = u;
    acc_work += p.groups[static_cast<size_t>(u / KV)].work;
  }
}

}  // namespace

StepPlan plan_step(const std::vector<EngineSeq*>& live, int64_t kv_heads, double macs_per_row) {
  StepPlan p;
  plan_rows(live, p);
  plan_groups(live, p);
  // One team of threads runs the layers, or one thread when the step is too small to share.
  p.threads = static_cast<double>(p.N()) * macs_per_row >= kTeamMacs ? std::max(1, at::get_num_threads()) : 1;
  plan_units(kv_heads, p);
  return p;
}

}  // namespace srl::model
