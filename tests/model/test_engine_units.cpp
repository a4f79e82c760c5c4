// The engine's units on their own: the finish bookkeeping both generate paths share (budget, stop tokens,
// finish reason, prompt checks) and the slot table's reference counts and prefix sharing.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.hpp"
#include "model/engine_slots.hpp"
#include "model/sampling.hpp"

using namespace srl::model;

TEST(SequenceOutput, EndsAtAStopTokenOrTheBudget) {
  SamplingParams p;
  p.max_new_tokens = 3;
  p.stop_ids = {7};
  SequenceOutput run(p, 4, 100);
  EXPECT_EQ(run.budget, 3);
  run.add(1, -0.5f, p);
  run.add(2, -0.5f, p);
  EXPECT_FALSE(run.done);
  run.add(3, -0.5f, p);
  EXPECT_TRUE(run.done);
  EXPECT_EQ(run.gen.finish_reason, "length");

  SequenceOutput stopped(p, 4, 100);
  stopped.add(7, -0.1f, p);
  EXPECT_TRUE(stopped.done);
  EXPECT_EQ(stopped.gen.finish_reason, "stop");
  EXPECT_EQ(stopped.gen.tokens, std::vector<int64_t>{7});  // the stop token is kept

  // The room cuts the budget; no budget at all has ended already.
  EXPECT_EQ(SequenceOutput(p, 98, 100).budget, 2);
  p.max_new_tokens = 0;
  SequenceOutput none(p, 4, 100);
  EXPECT_TRUE(none.done);
  EXPECT_EQ(none.gen.finish_reason, "length");
  EXPECT_THROW(SequenceOutput(SamplingParams{}, 1, 10).add(1, NAN, p), std::exception);
}

TEST(SequenceOutput, CheckPromptNamesWhatIsWrong) {
  auto c = LlamaConfig::preset("tiny");
  c.max_position_embeddings = 16;
  auto message = [&](const std::vector<int64_t>& prompt, int64_t room) -> std::string {
    try {
      check_prompt("prompt 2", prompt, room, c);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message({1, 2}, 16), "");
  EXPECT_NE(message({}, 16).find("empty prompt"), std::string::npos);
  EXPECT_NE(message(std::vector<int64_t>(16, 1), 16).find("model's context of 16"), std::string::npos);
  EXPECT_NE(message(std::vector<int64_t>(8, 1), 8).find("engine's capacity of 8"), std::string::npos);
  EXPECT_NE(message({c.vocab_size}, 16).find("outside the vocabulary"), std::string::npos);
}

TEST(EngineSlots, SharedPrefixesKeepTheLeadersSlotUntilTheLastReaderLeaves) {
  auto c = LlamaConfig::preset("tiny");
  EngineSlots slots(c, 2, 2 * kern::kKeyBlock, false);
  SeqKv leader, follower;
  slots.join(leader);
  slots.join(follower);
  EXPECT_EQ(leader.slot, 0);  // slots are handed out lowest first
  EXPECT_EQ(follower.slot, 1);
  EXPECT_FALSE(slots.has_free());
  // A prompt of one whole key block and 3 positions: the block is read in place, the rest copied.
  const int64_t len = kern::kKeyBlock + 3, hd = c.head_dim();
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    for (int which = 0; which < 2; ++which)
      for (int64_t k = 0; k < c.num_key_value_heads; ++k) {
        auto* from = reinterpret_cast<float*>(slots.at(0, l, which, k));
        for (int64_t i = 0; i < len * hd; ++i) from[i] = static_cast<float>(i + l + which + k);
      }
  slots.share_prefix(follower, leader.slot, len);
  EXPECT_EQ(follower.prefix_blocks, 1);
  EXPECT_EQ(follower.owner(), 0);
  const auto skip = static_cast<size_t>(kern::kKeyBlock * hd);
  const auto* a = reinterpret_cast<const float*>(slots.at(0, 1, 1, 0)) + skip;
  const auto* b = reinterpret_cast<const float*>(slots.at(1, 1, 1, 0)) + skip;
  EXPECT_EQ(std::memcmp(a, b, static_cast<size_t>(3 * hd) * sizeof(float)), 0);
  // The leader leaves first: its slot stays taken while the follower reads it.
  slots.leave(leader);
  EXPECT_EQ(leader.slot, -1);
  EXPECT_FALSE(slots.has_free());
  slots.leave(follower);
  EXPECT_TRUE(slots.has_free());
  SeqKv next;
  slots.join(next);
  slots.join(leader);
  EXPECT_FALSE(slots.has_free());
}
