// The one reader of a conversation given in JSON, as every file format of this project spells it:
// {"prompt": "..."} (a lone user turn) or {"messages": [{"role": "system"|"user"|"assistant",
// "content": "..."}, ...]}. Preference pairs, RL and evaluation prompts, `score` inputs and SFT
// conversations all go through it, so they accept and reject exactly the same things; what differs
// between them is said in ConversationRules.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "text/chat_format.hpp"

namespace srl::text {

struct ConversationRules {
  bool allow_prompt = true;       // {"prompt": "..."} accepted (SFT data must give "messages")
  bool last_is_user = true;       // the last message is the user turn to answer (prompts)
  bool needs_assistant = false;   // at least one assistant message (SFT data: something to train on)
};

// What is wrong with one conversation; the kinds let callers map problems onto their own codes.
struct ConversationProblem {
  enum class Kind {
    PromptXorMessages,  // neither or both of "prompt" and "messages" (or "prompt" where not allowed)
    WrongType,          // "prompt" not a string, "messages" not an array
    BadMessages,        // "messages" empty, a message not an object, role or content not a string
    BadRole,            // a role other than system/user/assistant, or the wrong last role
    EmptyContent,       // a blank prompt or message content
    NoAssistant,        // needs_assistant and none
  };
  Kind kind;
  std::string message;  // e.g. "messages[2].content is empty"
};

struct ParsedConversation {
  std::vector<Message> messages;  // a "prompt" becomes one user message
  bool from_prompt = false;       // given as "prompt"
  std::string prompt;             // the "prompt" string as given (from_prompt)
  std::vector<ConversationProblem> problems;  // empty: usable
  bool ok() const { return problems.empty(); }
};

// Every problem is collected (not only the first), in document order. Other keys of `j` are ignored.
ParsedConversation parse_conversation_json(const nlohmann::json& j, const ConversationRules& rules = {});

}  // namespace srl::text
