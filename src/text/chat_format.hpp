// The one chat format (docs/chat_format.md): how a conversation becomes token ids and loss weights,
// the generation prompt, stop tokens, reply parsing, and the JSONL conversation files.
//
// Layout:  <s> ( <|role|> encode(content) <|end|> )*      [+ <|assistant|> for a generation prompt]
// Markers are inserted by id (control symbols), so no message text can forge one.
#pragma once
#include <string>
#include <vector>

#include "text/tokenizer.hpp"

namespace srl::text {

struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
  bool operator==(const Message&) const = default;
};

struct RenderOptions {
  // Weight only the final assistant message (e.g. when earlier replies came from another model).
  bool last_assistant_only = false;
};

struct Rendered {
  std::vector<int> ids;
  // weights[i] == 1 where ids[i] is a training target: the content tokens of a weighted assistant
  // message and the <|end|> that closes it. 0 for <s>, role markers, system and user turns.
  std::vector<float> weights;
};

// The role's marker id; any other role is srl::fail.
int role_id(const Tokenizer& tok, const std::string& role);

// The full conversation for training. An empty conversation or unknown role is srl::fail. A
// conversation without an assistant message renders with all weights 0.
Rendered render(const Tokenizer& tok, const std::vector<Message>& messages, const RenderOptions& opt = {});

// The conversation so far followed by <|assistant|>, so a model continues with an assistant reply.
std::vector<int> render_prompt(const Tokenizer& tok, const std::vector<Message>& messages);

// Ids that end a generated reply: <|end|> and </s>.
std::vector<int> stop_ids(const Tokenizer& tok);

struct ParsedReply {
  Message message;  // role "assistant"; content decoded from the ids before the first stop id
  bool finished;    // a stop id was seen (false: generation hit its length limit)
};
ParsedReply parse_reply(const Tokenizer& tok, const std::vector<int>& generated);

// Reads JSONL: one {"messages":[{"role":..,"content":..},..]} per line; blank lines skipped, other
// keys ignored. A malformed line is srl::fail("FILE:LINE", reason): invalid JSON, missing or empty
// "messages", a non-object message, bad role, non-string content, no assistant message. A file with
// no conversation at all is srl::fail(FILE, ...).
std::vector<std::vector<Message>> load_conversations(const std::string& path);

}  // namespace srl::text
