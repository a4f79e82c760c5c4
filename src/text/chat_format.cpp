// Chat rendering, reply parsing and JSONL conversation loading; the layout is specified in
// docs/chat_format.md and the two must change together.
#include "text/chat_format.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/jsonl.hpp"
#include "text/conversation_json.hpp"

namespace srl::text {

namespace {

void append(Rendered& r, int id, float w) {
  r.ids.push_back(id);
  r.weights.push_back(w);
}

void append_message(Rendered& r, const Tokenizer& tok, const Message& m, float w) {
  append(r, role_id(tok, m.role), 0.0f);  // the marker is given, not predicted
  for (int id : tok.encode(m.content)) append(r, id, w);
  append(r, tok.end_id(), w);  // an assistant learns to stop
}

}  // namespace

int role_id(const Tokenizer& tok, const std::string& role) {
  if (role == "system") return tok.system_id();
  if (role == "user") return tok.user_id();
  if (role == "assistant") return tok.assistant_id();
  fail("chat", "unknown role '" + role + "' (expected system, user or assistant)");
}

Rendered render(const Tokenizer& tok, const std::vector<Message>& messages, const RenderOptions& opt) {
  if (messages.empty()) fail("chat", "cannot render an empty conversation");
  size_t last_assistant = messages.size();
  for (size_t i = 0; i < messages.size(); ++i)
    if (messages[i].role == "assistant") last_assistant = i;
  Rendered r;
  append(r, tok.bos_id(), 0.0f);
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    bool target = m.role == "assistant" && (!opt.last_assistant_only || i == last_assistant);
    append_message(r, tok, m, target ? 1.0f : 0.0f);
  }
  return r;
}

std::vector<int> render_prompt(const Tokenizer& tok, const std::vector<Message>& messages) {
  Rendered r;
  append(r, tok.bos_id(), 0.0f);
  for (const auto& m : messages) append_message(r, tok, m, 0.0f);
  r.ids.push_back(tok.assistant_id());
  return r.ids;
}

std::vector<int> stop_ids(const Tokenizer& tok) { return {tok.end_id(), tok.eos_id()}; }

ParsedReply parse_reply(const Tokenizer& tok, const std::vector<int>& generated) {
  const auto stops = stop_ids(tok);
  auto it = std::find_if(generated.begin(), generated.end(),
                         [&](int id) { return std::find(stops.begin(), stops.end(), id) != stops.end(); });
  std::vector<int> body(generated.begin(), it);
  // decode() drops any other control id (a stray role marker) rather than printing it.
  return ParsedReply{Message{"assistant", tok.decode(body)}, it != generated.end()};
}

std::vector<std::vector<Message>> load_conversations(const std::string& path) {
  ConversationRules rules;
  rules.allow_prompt = false;
  rules.last_is_user = false;
  rules.needs_assistant = true;
  std::vector<std::vector<Message>> out;
  read_json_lines(path, [&](const nlohmann::json& j, const std::string& where) {
    auto conv = parse_conversation_json(j, rules);
    if (!conv.ok()) fail(where, conv.problems.front().message);
    out.push_back(std::move(conv.messages));
  });
  if (out.empty()) fail(path, "no conversations in file");
  return out;
}

}  // namespace srl::text
