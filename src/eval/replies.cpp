#include "eval/replies.hpp"

#include "text/chat_format.hpp"

namespace srl::eval {

std::vector<ChatReply> generate_chat_replies(model::Llama& m, const text::Tokenizer& tok,
                                             const std::vector<std::vector<int64_t>>& prompts,
                                             const model::SamplingParams& params, const train::Compute& cmp) {
  std::vector<model::Generation> gens;
  {
    train::AutocastGuard ac(cmp.bf16, cmp.device);
    gens = model::generate(m, prompts, params);
  }
  std::vector<ChatReply> out;
  out.reserve(gens.size());
  for (const auto& g : gens) {
    const std::vector<int> ids(g.tokens.begin(), g.tokens.end());
    out.push_back({text::parse_reply(tok, ids).message.content, static_cast<int64_t>(g.tokens.size()),
                   g.finish_reason == "stop"});
  }
  return out;
}

}  // namespace srl::eval
