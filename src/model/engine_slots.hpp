// The engine's KV cache as a table of sequence slots (the counterpart of llama.cpp's kv-cache type): one
// preallocated region per slot, reference counts, prompt-prefix sharing and the address of each kv head's
// keys and values. A sequence holds one slot for its own positions and may read a leader's slot for the
// whole key blocks of a prompt they share.
#pragma once
#include <cstdint>
#include <vector>

#include "model/kernels.hpp"
#include "model/llama_config.hpp"

namespace srl::model {

// A sequence's place in the slot table.
struct SeqKv {
  int64_t slot = -1;         // its own slot, -1 before it joins and after it leaves
  int64_t prefix_slot = -1;  // slot holding its first prefix_blocks key blocks (a shared prompt), or -1
  int64_t prefix_blocks = 0;
  int64_t cached = 0;  // positions in the cache
  int64_t owner() const { return prefix_slot >= 0 ? prefix_slot : slot; }  // where the prefix blocks live
};

class EngineSlots {
 public:
  // `slots` slots of room for `capacity` positions each, bf16 or fp32 keys and values.
  EngineSlots(const LlamaConfig& c, int64_t slots, int64_t capacity, bool bf16);

  bool bf16() const { return bf16_; }
  int64_t capacity_stored() const { return cap_store_; }  // capacity rounded up to whole key blocks
  bool has_free() const { return !free_.empty(); }

  // A free slot for a joining sequence (has_free() must hold).
  void join(SeqKv& s);
  // `follower` reads the prompt of `len` positions that the sequence in slot `from` has just prefilled: the
  // whole key blocks in place (counted as a reader of `from`), the partial last block copied into its own
  // slot (its own tokens will fill it).
  void share_prefix(SeqKv& follower, int64_t from, int64_t len);
  // The sequence stops reading its slots; a slot is free once nobody reads it.
  void leave(SeqKv& s);

  // Start of one kv head's keys (which = 0) or values (which = 1) in a slot; layouts in kernels_raw.hpp.
  uint8_t* at(int64_t slot, int64_t layer, int which, int64_t head) {
    const int64_t idx = (((slot * layers_ + layer) * 2 + which) * kv_heads_ + head) * cap_store_ * hd_;
    return kv_.get() + static_cast<size_t>(idx) * elem_;
  }

 private:
  void release(int64_t slot);

  int64_t layers_, kv_heads_, hd_, cap_store_;
  bool bf16_;
  size_t elem_;  // bytes per key or value element
  // (slots, layers, 2, KV, cap_store, hd) keys | values, left uninitialised: only written positions are
  // ever read (the unused lanes of a partial key block are masked out of the softmax).
  kern::AlignedBytes kv_;
  std::vector<int64_t> free_;  // free slots, the next one last
  std::vector<int> refs_;      // (slots) sequences reading a slot: its own, plus those sharing its prompt
};

}  // namespace srl::model
