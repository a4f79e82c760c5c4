#include "text/conversation_json.hpp"

#include "core/strings.hpp"

namespace srl::text {

namespace {

using Kind = ConversationProblem::Kind;

bool known_role(const std::string& r) { return r == "system" || r == "user" || r == "assistant"; }

void parse_messages(const nlohmann::json& msgs, const ConversationRules& rules, ParsedConversation& out) {
  auto add = [&](Kind k, std::string m) { out.problems.push_back({k, std::move(m)}); };
  if (!msgs.is_array()) return add(Kind::WrongType, std::string("\"messages\" must be an array, not ") + msgs.type_name());
  if (msgs.empty()) return add(Kind::BadMessages, "\"messages\" is empty");
  bool has_assistant = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) {
      add(Kind::BadMessages, at + " must be an object, not " + m.type_name());
      continue;
    }
    Message msg;
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      add(Kind::BadMessages, at + ".role must be a string");
    } else {
      msg.role = role->get<std::string>();
      if (!known_role(msg.role))
        add(Kind::BadRole, at + ": bad role \"" + msg.role + "\" (expected system, user or assistant)");
      else if (rules.last_is_user && i + 1 == msgs.size() && msg.role != "user")
        add(Kind::BadRole, at + ": the last message must be a user turn, not " + msg.role);
      has_assistant |= msg.role == "assistant";
    }
    auto content = m.find("content");
    if (content == m.end() || !content->is_string()) {
      add(Kind::BadMessages, at + ".content must be a string");
    } else {
      msg.content = content->get<std::string>();
      if (blank(msg.content)) add(Kind::EmptyContent, at + ".content is empty");
    }
    out.messages.push_back(std::move(msg));
  }
  if (rules.needs_assistant && !has_assistant)
    add(Kind::NoAssistant, "the conversation has no assistant message (nothing to train on)");
}

}  // namespace

ParsedConversation parse_conversation_json(const nlohmann::json& j, const ConversationRules& rules) {
  ParsedConversation out;
  auto add = [&](Kind k, std::string m) { out.problems.push_back({k, std::move(m)}); };
  if (!j.is_object()) {
    add(Kind::WrongType, std::string("expected a JSON object, not ") + j.type_name());
    return out;
  }
  const bool has_prompt = rules.allow_prompt && j.contains("prompt"), has_messages = j.contains("messages");
  if (has_prompt && has_messages) {
    add(Kind::PromptXorMessages, "has both \"prompt\" and \"messages\" (give exactly one)");
  } else if (!has_prompt && !has_messages) {
    add(Kind::PromptXorMessages, rules.allow_prompt ? "needs \"prompt\" or \"messages\"" : "missing \"messages\"");
  } else if (has_prompt) {
    const auto& p = j["prompt"];
    if (!p.is_string()) {
      add(Kind::WrongType, std::string("\"prompt\" must be a string, not ") + p.type_name());
    } else {
      out.from_prompt = true;
      out.prompt = p.get<std::string>();
      if (blank(out.prompt)) add(Kind::EmptyContent, "\"prompt\" is empty");
      out.messages.push_back({"user", out.prompt});
    }
  } else {
    parse_messages(j["messages"], rules, out);
  }
  return out;
}

}  // namespace srl::text
