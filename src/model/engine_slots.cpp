#include "model/engine_slots.hpp"

#include <cstring>

namespace srl::model {

EngineSlots::EngineSlots(const LlamaConfig& c, int64_t slots, int64_t capacity, bool bf16)
    : layers_(c.num_hidden_layers),
      kv_heads_(c.num_key_value_heads),
      hd_(c.head_dim()),
      cap_store_((capacity + kern::kKeyBlock - 1) / kern::kKeyBlock * kern::kKeyBlock),
      bf16_(bf16),
      elem_(bf16 ? 2 : 4) {
  kv_ = kern::alloc_bytes(static_cast<size_t>(slots * layers_ * 2 * kv_heads_ * cap_store_ * hd_) * elem_);
  for (int64_t s = slots - 1; s >= 0; --s) free_.push_back(s);
  refs_.assign(static_cast<size_t>(slots), 0);
}

void EngineSlots::join(SeqKv& s) {
  s.slot = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(s.slot)] = 1;
}

void EngineSlots::share_prefix(SeqKv& follower, int64_t from, int64_t len) {
  follower.prefix_slot = from;
  follower.prefix_blocks = len / kern::kKeyBlock;
  ++refs_[static_cast<size_t>(from)];
  const int64_t p0 = follower.prefix_blocks * kern::kKeyBlock;
  if (p0 == len) return;
  const auto key_bytes = static_cast<size_t>(kern::kKeyBlock * hd_) * elem_;
  // Whole position pairs: bf16 values interleave two positions.
  const auto value_bytes = static_cast<size_t>((len - p0 + 1) / 2 * 2 * hd_) * elem_;
  const auto skip = static_cast<size_t>(p0 * hd_) * elem_;
  for (int64_t l = 0; l < layers_; ++l)
    for (int64_t k = 0; k < kv_heads_; ++k) {
      std::memcpy(at(follower.slot, l, 0, k) + skip, at(from, l, 0, k) + skip, key_bytes);
      std::memcpy(at(follower.slot, l, 1, k) + skip, at(from, l, 1, k) + skip, value_bytes);
    }
}

void EngineSlots::leave(SeqKv& s) {
  release(s.slot);
  release(s.prefix_slot);
  s.slot = s.prefix_slot = -1;
}

void EngineSlots::release(int64_t slot) {
  if (slot >= 0 && --refs_[static_cast<size_t>(slot)] == 0) free_.push_back(slot);
}

}  // namespace srl::model
