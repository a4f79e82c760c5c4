// Train/val/test splits for preference data without prompt leakage: items are grouped by a normalised
// prompt key, a whole group goes to one split, and groups are dealt out per intent so every intent is
// represented in each split in about the requested proportions.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace srl::data {

// Normalised prompt key: anonymize() first (so prompts that differ only in an order number, email, ...
// share a key, and normalize_prompt(anonymize(p)) == normalize_prompt(p)), then ASCII lowercase,
// whitespace runs collapsed to one space, and ASCII punctuation/whitespace stripped at both ends.
// Non-ASCII bytes are kept as they are.
std::string normalize_prompt(std::string_view prompt);

struct SplitSpec {
  std::vector<std::string> names;
  std::vector<double> fractions;
  uint64_t seed = 0;
};

// Checks a spec: at least one split, names non-empty and distinct, as many fractions as names, each
// fraction > 0 and their sum 1 (within 1e-6). srl::fail("split", ...) otherwise.
void validate_split_spec(const SplitSpec& spec);

// Assigns every item to a split by its prompt group, stratified by intent: all items with the same
// key land in the same split; within each intent, groups are distributed to match the fractions as
// closely as possible. Returns the split index per item.
//
// How: a group belongs to the intent most of its items have (ties: the smallest intent name). Within
// an intent, groups are ordered by size (largest first), ties broken by a hash of (seed, key), and
// each goes to the split whose item count is furthest below its target (fraction x intent items;
// ties: the larger fraction, then the lower index). Deterministic for a seed; independent of the
// order of the input items. Throws srl::Error if the vectors differ in length or the spec is invalid.
std::vector<int> assign_splits(const std::vector<std::string>& prompt_keys, const std::vector<std::string>& intents,
                               const SplitSpec& spec);

}  // namespace srl::data
