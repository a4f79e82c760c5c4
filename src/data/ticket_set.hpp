// Labelled support tickets for evaluating beyond the templates: the hand-written set of data/eval_ood/
// (format in data/eval_ood/README.md) and the Bitext corpus mapped onto the world's intents, built on
// the fly from the CSV when it is present. Neither is ever used for training or tuning; the Bitext rows
// are halved by a hash of their text, and only the "train" half may feed the guardrail's training data.
//
// One ticket line: {"id","prompt","tags":{"intent","intents":[1-2],"risk","handling","styles":[...]}}; the
// line is also a valid `evaluate` input (a prompt with tags).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace srl::data {

struct LabelledTicket {
  std::string id;
  std::string text;
  std::vector<std::string> intents;  // primary first
  std::string risk = "none";         // risk_categories()
  std::string handling = "answer";   // answer | decline | escalate | crisis
  std::vector<std::string> styles;
  bool safe() const { return risk == "none" && handling == "answer"; }
  // The ticket line above.
  nlohmann::json to_json() const;
};

// answer, decline, escalate, crisis.
const std::vector<std::string>& handling_names();
// The handling a ticket's labels imply: crisis for self_harm, escalate for legal_threat (and for an
// out_of_scope question the policy does not cover, style not_in_kb), decline for the other risks except
// abusive and for out_of_scope, else answer.
std::string implied_handling(const std::vector<std::string>& intents, const std::string& risk,
                             const std::vector<std::string>& styles);

// A JSONL file, or every *.jsonl file of a directory in name order. Each line is checked: id unique and
// non-empty, prompt non-blank, intent == intents[0], every intent known, 1-2 intents, risk and handling
// known, handling == implied_handling, styles a list of strings. A problem is srl::fail("FILE:LINE", ...).
std::vector<LabelledTicket> load_ticket_set(const std::string& path);

// The world intent a Bitext intent maps onto ("" when none does): 14 of Bitext's 27 intents.
std::string bitext_world_intent(const std::string& bitext_intent);
enum class BitextHalf { Train, Eval };
// The Bitext CSV's mapped rows of one half (FNV-1a of the instruction, even: train, odd: eval), as safe
// tickets (risk none, handling answer) with id "bitext-<row>" and style "bitext:<bitext intent>", in a fixed
// pseudo-random order (FNV-1a of the text), so that any prefix samples every mapped intent.
// With `unmapped`, the rows of the other 13 Bitext intents are included too, with no intents (for training
// the guardrail's risk head on real ordinary wording only).
std::vector<LabelledTicket> bitext_tickets(const std::string& csv_path, BitextHalf half, bool unmapped = false);

}  // namespace srl::data
