#include "data/ticket_set.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/jsonl.hpp"
#include "core/strings.hpp"
#include "data/customer_speech.hpp"
#include "data/importers.hpp"
#include "data/support_world.hpp"

namespace srl::data {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> string_list(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_array()) fail(where, "tags." + key + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& x : j[key]) {
    if (!x.is_string()) fail(where, "tags." + key + " must be a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::string string_field(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) fail(where, "\"" + key + "\" must be a string");
  return j[key].get<std::string>();
}

LabelledTicket parse_ticket(const nlohmann::json& j, const std::string& where) {
  LabelledTicket t;
  t.id = string_field(j, "id", where);
  t.text = string_field(j, "prompt", where);
  if (t.id.empty()) fail(where, "empty id");
  if (blank(t.text)) fail(where, "blank prompt");
  if (!j.contains("tags") || !j["tags"].is_object()) fail(where, "\"tags\" must be an object");
  const auto& g = j["tags"];
  t.intents = string_list(g, "intents", where);
  if (t.intents.empty() || t.intents.size() > 2) fail(where, "tags.intents must hold 1 or 2 intents");
  for (const auto& i : t.intents) {
    bool known = std::any_of(intents().begin(), intents().end(), [&](const IntentInfo& x) { return x.name == i; });
    if (!known) fail(where, "unknown intent \"" + i + "\"");
  }
  if (string_field(g, "intent", where) != t.intents[0]) fail(where, "tags.intent must equal tags.intents[0]");
  t.risk = string_field(g, "risk", where);
  if (!contains(risk_categories(), t.risk))
    fail(where, "unknown risk \"" + t.risk + "\" (known: " + join(risk_categories()) + ")");
  t.handling = string_field(g, "handling", where);
  if (!contains(handling_names(), t.handling))
    fail(where, "unknown handling \"" + t.handling + "\" (known: " + join(handling_names()) + ")");
  t.styles = string_list(g, "styles", where);
  const auto implied = implied_handling(t.intents, t.risk, t.styles);
  if (t.handling != implied)
    fail(where, "handling \"" + t.handling + "\" contradicts the labels (they imply \"" + implied + "\")");
  return t;
}

std::vector<std::string> jsonl_files(const std::string& path) {
  namespace sfs = std::filesystem;
  std::error_code ec;
  if (!sfs::is_directory(path, ec)) return {path};
  std::vector<std::string> files;
  for (const auto& e : sfs::directory_iterator(path, ec))
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  if (ec) fail(path, "cannot list the directory: " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail(path, "no .jsonl files in the directory");
  return files;
}

}  // namespace

nlohmann::json LabelledTicket::to_json() const {
  return {{"id", id},
          {"prompt", text},
          {"tags", {{"intent", intents.at(0)}, {"intents", intents}, {"risk", risk}, {"handling", handling},
                    {"styles", styles}}}};
}

const std::vector<std::string>& handling_names() {
  static const std::vector<std::string> v = {"answer", "decline", "escalate", "crisis"};
  return v;
}

std::string implied_handling(const std::vector<std::string>& intents, const std::string& risk,
                             const std::vector<std::string>& styles) {
  if (risk == "self_harm") return "crisis";
  if (risk == "legal_threat") return "escalate";
  if (risk != "none" && risk != "abusive") return "decline";
  if (!intents.empty() && intents[0] == "out_of_scope") return contains(styles, "not_in_kb") ? "escalate" : "decline";
  return "answer";
}

std::vector<LabelledTicket> load_ticket_set(const std::string& path) {
  std::vector<LabelledTicket> out;
  std::map<std::string, std::string> seen;  // id -> where
  for (const auto& file : jsonl_files(path)) {
    read_json_lines(file, [&](const nlohmann::json& j, const std::string& where) {
      auto t = parse_ticket(j, where);
      if (auto [it, fresh] = seen.emplace(t.id, where); !fresh) fail(where, "id \"" + t.id + "\" repeats " + it->second);
      out.push_back(std::move(t));
    });
  }
  if (out.empty()) fail(path, "no tickets");
  return out;
}

std::string bitext_world_intent(const std::string& b) {
  static const std::map<std::string, std::string> m = {
      {"cancel_order", "cancel_order"},          {"change_shipping_address", "change_address"},
      {"set_up_shipping_address", "change_address"}, {"check_invoice", "invoice_request"},
      {"get_invoice", "invoice_request"},        {"get_refund", "refund_request"},
      {"check_refund_policy", "refund_request"}, {"track_refund", "refund_request"},
      {"delivery_options", "shipping_options"},  {"delivery_period", "shipping_options"},
      {"track_order", "order_status"},           {"delete_account", "delete_account"},
      {"recover_password", "password_reset"},    {"payment_issue", "checkout_error"},
      {"switch_account", "change_plan"}};
  auto it = m.find(b);
  return it == m.end() ? "" : it->second;
}

std::vector<LabelledTicket> bitext_tickets(const std::string& csv_path, BitextHalf half, bool unmapped) {
  ImportStats st;
  std::vector<LabelledTicket> out;
  int64_t row = 0;
  for (const auto& ex : import_bitext(csv_path, {}, &st)) {
    ++row;
    const auto bitext_intent = ex.tags.value("intent", "");
    const auto intent = bitext_world_intent(bitext_intent);
    const auto& text = ex.messages.at(0).content;
    const bool eval_half = Hasher().update(text).value() % 2 == 1;
    if ((intent.empty() && !unmapped) || eval_half != (half == BitextHalf::Eval)) continue;
    LabelledTicket t;
    t.id = "bitext-" + std::to_string(row);
    t.text = text;
    if (!intent.empty()) t.intents = {intent};
    t.styles = {"bitext:" + bitext_intent};
    out.push_back(std::move(t));
  }
  // A fixed pseudo-random order (FNV-1a of the text, then the id), so any prefix is a sample of every intent.
  auto key = [](const LabelledTicket& t) { return std::pair{Hasher().update(t.text).value(), t.id}; };
  std::sort(out.begin(), out.end(), [&](const LabelledTicket& a, const LabelledTicket& b) { return key(a) < key(b); });
  return out;
}

}  // namespace srl::data
