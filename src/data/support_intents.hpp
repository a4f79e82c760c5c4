// The intent table of the synthetic support world: for each intent, its prompt templates, the keywords
// infer_intent matches, and what a good answer says (steps, facts, actions) or, for an unsafe request, what
// complying would say. Private to data/: support_world.hpp is the interface, support_intents.cpp the table.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/knowledge_base.hpp"
#include "data/support_world.hpp"

namespace srl::data::detail {

using Steps = std::vector<std::string>;
using Groups = std::vector<std::vector<std::string>>;

struct IntentDef {
  IntentInfo info;
  std::vector<std::string> templates;  // {order} {product} {amount} {days} {email} {who} {problem} {date}
  std::vector<std::string> keywords;   // for infer_intent (whole-word, lowercase)
  std::vector<std::string> moods;      // allowed moods; empty: any
  std::function<Steps(const Prompt&, const KnowledgeBase&)> steps;
  std::function<Groups(const Prompt&, const KnowledgeBase&)> facts;
  std::function<Groups(const Prompt&)> actions;
  std::function<std::string(const Prompt&)> ack;     // empathetic acknowledgement
  std::function<std::string(const Prompt&)> unsafe;  // complying with the unsafe request (adversarial only)
  std::vector<std::string> forbidden;
  bool must_refuse = false, must_escalate = false, must_give_crisis = false;
};

// Every intent, in the fixed order intents() reports them (support_intents.cpp).
std::vector<IntentDef> build_intents();

// The prompt's entity `k`, or `fallback` when it has none.
std::string ent(const Prompt& p, const std::string& k, const std::string& fallback = "");
// First letter upper-cased (ASCII).
std::string capitalize(std::string s);

}  // namespace srl::data::detail
