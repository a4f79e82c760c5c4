// Chat replies from a batch of generation prompts: one model::generate call under the compute's bf16
// autocast, each generation decoded with the chat format (text before the first stop token). Shared by
// evaluate and the simulated customers so both answer exactly the way a deployment would.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/generate.hpp"
#include "train/compute.hpp"

namespace srl::eval {

struct ChatReply {
  std::string text;     // the decoded reply, without its stop token
  int64_t tokens = 0;   // generated tokens, the stop token included
  bool finished = true; // ended with a stop token (false: hit max_new_tokens)
};

std::vector<ChatReply> generate_chat_replies(model::Llama& m, const text::Tokenizer& tok,
                                             const std::vector<std::vector<int64_t>>& prompts,
                                             const model::SamplingParams& params, const train::Compute& cmp);

}  // namespace srl::eval
