// Group-aware, intent-stratified splitting (see split.hpp).
#include "data/split.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "data/anonymize.hpp"

namespace srl::data {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
// ASCII punctuation, except the braces of {{PLACEHOLDER}}s, which must survive at the ends.
bool is_punct(char c) {
  return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || c == '|' || c == '~';
}

// splitmix64 finaliser: FNV-1a of similar keys differs in few bits; this spreads them.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string normalize_prompt(std::string_view prompt) {
  std::string anon = anonymize(prompt);
  std::string out;
  out.reserve(anon.size());
  bool pending_space = false;
  for (char c : anon) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  }
  size_t b = 0, e = out.size();
  while (b < e && (is_punct(out[b]) || out[b] == ' ')) ++b;
  while (e > b && (is_punct(out[e - 1]) || out[e - 1] == ' ')) --e;
  return out.substr(b, e - b);
}

void validate_split_spec(const SplitSpec& spec) {
  if (spec.names.empty()) fail("split", "no splits given");
  if (spec.names.size() != spec.fractions.size())
    fail("split", std::to_string(spec.names.size()) + " names but " + std::to_string(spec.fractions.size()) +
                      " fractions; give one fraction per split name");
  std::set<std::string> seen;
  double sum = 0;
  for (size_t s = 0; s < spec.names.size(); ++s) {
    if (spec.names[s].empty()) fail("split", "split name " + std::to_string(s + 1) + " is empty");
    if (!seen.insert(spec.names[s]).second) fail("split", "split name '" + spec.names[s] + "' given twice");
    double f = spec.fractions[s];
    if (!(f > 0) || !std::isfinite(f))
      fail("split", "fraction for '" + spec.names[s] + "' is " + std::to_string(f) + "; each must be > 0");
    sum += f;
  }
  if (std::fabs(sum - 1.0) > 1e-6) fail("split", "fractions sum to " + std::to_string(sum) + ", not 1");
}

std::vector<int> assign_splits(const std::vector<std::string>& prompt_keys, const std::vector<std::string>& intents,
                               const SplitSpec& spec) {
  validate_split_spec(spec);
  if (prompt_keys.size() != intents.size())
    fail("split", std::to_string(prompt_keys.size()) + " prompt keys but " + std::to_string(intents.size()) +
                      " intents");
  // Groups: key -> item count per intent.
  struct Group {
    std::string key;
    std::map<std::string, int64_t> intents;
    int64_t size = 0;
    uint64_t order = 0;
    int split = -1;
  };
  std::unordered_map<std::string, size_t> index;
  std::vector<Group> groups;
  for (size_t i = 0; i < prompt_keys.size(); ++i) {
    auto [it, added] = index.try_emplace(prompt_keys[i], groups.size());
    if (added) groups.push_back({prompt_keys[i], {}, 0, 0, -1});
    Group& g = groups[it->second];
    ++g.intents[intents[i]];
    ++g.size;
  }
  // Primary intent per group; groups per intent.
  std::map<std::string, std::vector<size_t>> by_intent;
  std::map<std::string, int64_t> intent_items;
  const std::string seed_text = std::to_string(spec.seed) + "\x1f";
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = groups[gi];
    const std::string* best = nullptr;
    int64_t best_n = -1;
    for (const auto& [name, n] : g.intents)  // map order: ties go to the smallest name
      if (n > best_n) best = &name, best_n = n;
    g.order = mix(Hasher().update(seed_text).update(g.key).value() ^ mix(spec.seed));
    by_intent[*best].push_back(gi);
    intent_items[*best] += g.size;
  }
  const size_t S = spec.names.size();
  for (auto& [intent, members] : by_intent) {
    std::sort(members.begin(), members.end(), [&](size_t a, size_t b) {
      const Group &x = groups[a], &y = groups[b];
      if (x.size != y.size) return x.size > y.size;
      if (x.order != y.order) return x.order < y.order;
      return x.key < y.key;
    });
    const double total = double(intent_items[intent]);
    std::vector<int64_t> assigned(S, 0);
    for (size_t gi : members) {
      size_t best = 0;
      double best_deficit = -1e300;
      for (size_t s = 0; s < S; ++s) {
        double deficit = spec.fractions[s] * total - double(assigned[s]);
        if (deficit > best_deficit + 1e-9 ||
            (std::fabs(deficit - best_deficit) <= 1e-9 && spec.fractions[s] > spec.fractions[best])) {
          best = s;
          best_deficit = deficit;
        }
      }
      groups[gi].split = int(best);
      assigned[best] += groups[gi].size;
    }
  }
  std::vector<int> out(prompt_keys.size());
  for (size_t i = 0; i < prompt_keys.size(); ++i) out[i] = groups[index.at(prompt_keys[i])].split;
  return out;
}

}  // namespace srl::data
