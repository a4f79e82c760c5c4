// Planning one engine step: which rows run (prompt tokens of joining sequences, the last token of the
// others; a prompt shared by several joining sequences is prefilled once), and how the thread team that
// runs the step shares its work. The team itself (Team, run_team) is here too, with the sizes at which
// work is worth splitting.
#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "model/engine_slots.hpp"
#include "model/generate.hpp"
#include "model/sampling.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace srl::model {

// A step runs on one team of threads (below) when it has at least this many multiply-adds; smaller
// steps (the tiny preset's decode) run on one thread, where even the barriers would cost more than the work.
constexpr double kTeamMacs = 1.0e6;
// Elementwise work that feeds a product (a norm, SiLU·up) is split across the team above this many
// elements, with a barrier after it; below, every thread computes all of it into its own buffer and
// needs no barrier. Sampling is split across threads above it.
constexpr double kSplitElements = 1.6e4;

// The threads of one step. A single OpenMP team runs all of a step's layers, its phases separated by
// barriers: a barrier costs ~0.4 µs here against ~1.1 µs for an OpenMP fork/join (plus at::parallel_for's
// bookkeeping), and a decode step has five phases per layer.
struct Team {
  int id = 0, size = 1;
  // This thread's share [first, second) of n items.
  std::pair<int64_t, int64_t> part(int64_t n) const { return {n * id / size, n * (id + 1) / size}; }
  void sync() const {
#ifdef _OPENMP
    if (size > 1) {
#pragma omp barrier
    }
#endif
  }
};

// Runs body(team) on `threads` threads; the body must not throw (every buffer is allocated before).
template <class F>
void run_team(int threads, F&& body) {
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    body(Team{omp_get_thread_num(), omp_get_num_threads()});
    return;
  }
#endif
  body(Team{});
}

// One sequence in the engine, from submit() to take().
struct EngineSeq {
  std::vector<int64_t> prompt;
  SamplingParams params;
  std::mt19937_64 rng;
  SeqKv kv;
  SequenceOutput out;
};

// Letters: S running sequences, N rows of the step, KV kv heads, T team threads.
struct StepRow {
  int64_t seq;    // index of its sequence among the step's S
  int64_t token;  // input token
  int64_t pos;    // its position
};

// The consecutive rows [begin, end) of one sequence, and where its keys and values live.
struct StepGroup {
  int64_t begin, end;
  int64_t slot;           // the sequence's own slot: this step's keys and values go there
  int64_t owner;          // slot of its first prefix_blocks key blocks
  int64_t prefix_blocks;  // key blocks read from `owner`
  double work;            // positions attended by its rows, per kv head
};

struct StepPlan {
  std::vector<StepRow> rows;                         // (N)
  std::vector<StepGroup> groups;                     // rows grouped by sequence, in row order
  std::vector<int64_t> logit_row;                    // (S) the row whose logits sequence i samples from
  std::vector<std::pair<size_t, size_t>> followers;  // (follower, leader): joins reading the leader's prefill
  int threads = 1;                                   // T: the team's size, 1 when the step is too small
  // (T + 1) attention units (group, kv head) u = group * KV + head, split by work: thread j takes units
  // [unit_start[j], unit_start[j + 1]).
  std::vector<int64_t> unit_start;
  int64_t N() const { return static_cast<int64_t>(rows.size()); }
  int64_t S() const { return static_cast<int64_t>(logit_row.size()); }
};

// The plan for the running sequences `live` (S of them) of a model with `kv_heads` and `macs_per_row`.
StepPlan plan_step(const std::vector<EngineSeq*>& live, int64_t kv_heads, double macs_per_row);

}  // namespace srl::model
