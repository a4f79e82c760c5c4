// Chat rendering, reply parsing and JSONL conversation loading; the layout is specified in
// docs/chat_format.md and the two must change together.
#include "text/chat_format.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"

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
  const std::string text = fs::read_file(path);
  std::vector<std::vector<Message>> out;
  size_t pos = 0;
  for (int line_no = 1; pos < text.size(); ++line_no) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);

    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail(where, std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) fail(where, "expected a JSON object with \"messages\"");
    auto msgs = j.find("messages");
    if (msgs == j.end()) fail(where, "missing \"messages\"");
    if (!msgs->is_array()) fail(where, "\"messages\" must be an array");
    if (msgs->empty()) fail(where, "\"messages\" is empty");

    std::vector<Message> conv;
    bool has_assistant = false;
    for (size_t i = 0; i < msgs->size(); ++i) {
      const auto& m = (*msgs)[i];
      const std::string at = "message " + std::to_string(i) + ": ";
      if (!m.is_object()) fail(where, at + "must be an object");
      auto role = m.find("role");
      if (role == m.end() || !role->is_string()) fail(where, at + "\"role\" must be a string");
      const auto& r = role->get_ref<const std::string&>();
      if (r != "system" && r != "user" && r != "assistant")
        fail(where, at + "bad role '" + r + "' (expected system, user or assistant)");
      auto content = m.find("content");
      if (content == m.end()) fail(where, at + "missing \"content\"");
      if (!content->is_string()) fail(where, at + "\"content\" must be a string");
      has_assistant |= r == "assistant";
      conv.push_back(Message{r, content->get<std::string>()});
    }
    if (!has_assistant) fail(where, "conversation has no assistant message (nothing to train on)");
    out.push_back(std::move(conv));
  }
  if (out.empty()) fail(path, "no conversations in file");
  return out;
}

}  // namespace srl::text
