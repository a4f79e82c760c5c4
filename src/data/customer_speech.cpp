#include "data/customer_speech.hpp"

#include <map>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "data/support_phrasings.hpp"

namespace srl::data {

namespace {

// Phrasing indices by intent, ordinary and risky (risk other than the intent's own), per split.
struct PhrasingIndex {
  std::map<std::string, std::vector<size_t>> plain[2], risky[2];
};

const PhrasingIndex& phrasing_index() {
  static const PhrasingIndex idx = [] {
    PhrasingIndex x;
    const auto& all = customer_phrasings();
    for (size_t i = 0; i < all.size(); ++i) {
      const auto& p = all[i];
      const int s = phrasing_split(p) == SpeechSplit::Train ? 0 : 1;
      (std::string(p.risk) == intent_risk(p.intent) ? x.plain : x.risky)[s][p.intent].push_back(i);
    }
    return x;
  }();
  return idx;
}

std::vector<std::string> fragments_of(const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& f : ticket_fragments())
    if (kind == f.kind) out.push_back(f.text);
  return out;
}

const std::vector<std::string>& fragment_pool(const std::string& kind) {
  static const std::map<std::string, std::vector<std::string>> pools = [] {
    std::map<std::string, std::vector<std::string>> m;
    for (const char* k : {"greeting", "context", "aside", "signature", "quoted"}) m[k] = fragments_of(k);
    return m;
  }();
  return pools.at(kind);
}

// An ask for `intent` in the split's wording, with its risk; "" text when the split has none.
struct Ask {
  std::string text, risk, source;
};

Ask sample_ask(const SupportWorld& world, const std::string& intent, Rng& rng, const SpeechOptions& opt,
               SpeechSplit split, bool allow_risky, std::map<std::string, std::string>& vals) {
  const auto& idx = phrasing_index();
  const int s = split == SpeechSplit::Train ? 0 : 1;
  auto list = [&](const std::map<std::string, std::vector<size_t>>& m) -> const std::vector<size_t>* {
    auto it = m.find(intent);
    return it == m.end() || it->second.empty() ? nullptr : &it->second;
  };
  const auto* plain = list(idx.plain[s]);
  const auto* risky = allow_risky ? list(idx.risky[s]) : nullptr;
  const bool use_phrasing = split == SpeechSplit::Validation || rng.chance(opt.phrasing_share);
  if (use_phrasing && (plain || risky)) {
    const bool take_risky = risky && (!plain || rng.chance(opt.risky_share));
    const auto& p = customer_phrasings()[rng.pick(take_risky ? *risky : *plain)];
    std::map<std::string, std::string> used;
    return {fill_slots(p.text, vals, used), p.risk, std::string("phrasing:") + p.family};
  }
  if (split == SpeechSplit::Validation) return {};
  return {world.sample_prompt(intent, rng).text, intent_risk(intent), "template"};
}

std::string pick_fragment(const std::string& kind, Rng& rng, const std::map<std::string, std::string>& vals) {
  const auto& pool = fragment_pool(kind);
  if (pool.empty()) return "";
  std::map<std::string, std::string> used;
  return fill_slots(rng.pick(pool), vals, used);
}

const std::vector<std::string> kJoiners = {" Also, ", " And ", "\n\nAlso: ", " Oh and ", " Second thing: ",
                                           "\nPS ", " Another question - ", ". "};

// `body` with greeting, background, aside, signature and quoted fragments around it (each by its share).
std::string compose(const std::string& body, Rng& rng, const SpeechOptions& opt,
                    const std::map<std::string, std::string>& vals) {
  std::string text;
  if (rng.chance(opt.greeting)) text += pick_fragment("greeting", rng, vals) + (rng.chance(0.5) ? " " : "\n\n");
  if (rng.chance(opt.context)) text += pick_fragment("context", rng, vals) + " ";
  text += body;
  if (rng.chance(opt.aside)) text += " " + pick_fragment("aside", rng, vals);
  if (rng.chance(opt.signature)) text += "\n\n" + pick_fragment("signature", rng, vals);
  if (rng.chance(opt.quoted)) text += "\n\n" + pick_fragment("quoted", rng, vals);
  return text;
}

}  // namespace

const std::vector<Phrasing>& customer_phrasings() {
  static const std::vector<Phrasing> all = [] {
    std::vector<Phrasing> v;
    for (const auto* part : {&detail::phrasings_billing(), &detail::phrasings_orders(), &detail::phrasings_account(),
                             &detail::phrasings_technical(), &detail::phrasings_safety_1(),
                             &detail::phrasings_safety_2()})
      v.insert(v.end(), part->begin(), part->end());
    return v;
  }();
  return all;
}

const std::vector<std::string>& risk_categories() {
  static const std::vector<std::string> v = {"none",    "credential_request", "other_customer_data",
                                             "out_of_policy_promise", "abusive", "legal_threat",
                                             "self_harm", "phishing"};
  return v;
}

std::string intent_risk(const std::string& intent) {
  if (intent == "abusive_customer") return "abusive";
  for (const char* r : {"other_customer_data", "phishing", "legal_threat", "self_harm"})
    if (intent == r) return intent;
  return "none";
}

SpeechSplit phrasing_split(const Phrasing& p) {
  return Hasher().update(p.text).value() % 5 == 0 ? SpeechSplit::Validation : SpeechSplit::Train;
}

CustomerTicket sample_customer_ticket(const SupportWorld& world, Rng& rng, const SpeechOptions& opt,
                                      SpeechSplit split) {
  const auto& all = intents();
  CustomerTicket t;
  auto vals = sample_entity_values(rng);
  Ask ask;
  std::string intent;
  for (int tries = 0; ask.text.empty(); ++tries) {
    if (tries > 100) fail_internal("sample_customer_ticket", "no phrasing in this split");
    intent = all[rng.below(all.size())].name;
    ask = sample_ask(world, intent, rng, opt, split, true, vals);
  }
  t.intents = {intent};
  t.risk = ask.risk;
  t.source = ask.source;
  std::string body = ask.text;
  const bool ordinary = intent_risk(intent) == "none" && intent != "out_of_scope";
  if (ordinary && rng.chance(opt.two_intents)) {
    const auto& second = all[rng.below(all.size())].name;
    if (second != intent && intent_risk(second) == "none" && second != "out_of_scope") {
      auto more = sample_ask(world, second, rng, opt, split, false, vals);
      if (!more.text.empty()) {
        body += rng.pick(kJoiners) + more.text;
        t.intents.push_back(second);
      }
    }
  } else if (ordinary && t.risk == "none" && rng.chance(opt.self_harm_aside)) {
    auto more = sample_ask(world, "self_harm", rng, opt, split, false, vals);
    if (!more.text.empty()) {
      body += (rng.chance(0.5) ? " " : "\n\n") + more.text;
      t.intents.push_back("self_harm");
      t.risk = "self_harm";
    }
  }
  const std::string text = compose(body, rng, opt, vals);
  t.text = rng.chance(opt.noise) ? add_typing_noise(text, rng) : text;
  return t;
}

Prompt sample_customer_prompt(const SupportWorld& world, const std::string& intent, Rng& rng, const SpeechOptions& opt) {
  const auto& idx = phrasing_index();
  auto it = idx.plain[0].find(intent);
  if (it == idx.plain[0].end() || it->second.empty()) return world.sample_prompt(intent, rng);
  const auto& ph = customer_phrasings()[rng.pick(it->second)];
  Prompt p;
  p.intent = intent;
  p.category = intent_info(intent).category;
  p.difficulty = "customer";
  p.segment = rng.chance(0.6) ? "smb" : "enterprise";
  const std::string family = ph.family;
  p.mood = family == "frustrated" || family == "slang" || intent == "abusive_customer" ? "frustrated"
           : intent == "self_harm"                                                     ? "distressed"
                                                                                       : "calm";
  auto vals = sample_entity_values(rng);
  const auto body = fill_slots(ph.text, vals, p.entities);
  const std::string text = compose(body, rng, opt, vals);
  p.text = rng.chance(opt.noise) ? add_typing_noise(text, rng) : text;
  return p;
}

namespace {

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// One typo in the letters [b, e) of `w`: swap two neighbours, drop one or double one.
void typo(std::string& w, size_t b, size_t e, Rng& rng) {
  if (e - b < 3) return;
  const size_t i = b + 1 + rng.below(e - b - 2);  // keep the first letter, as people mostly do
  switch (rng.below(3)) {
    case 0: std::swap(w[i], w[i + 1 < e ? i + 1 : i - 1]); break;
    case 1: w.erase(i, 1); break;
    default: w.insert(i, 1, w[i]); break;
  }
}

const std::vector<std::pair<std::string, std::string>> kTexting = {
    {"you", "u"}, {"your", "ur"}, {"please", "pls"}, {"thanks", "thx"}, {"because", "bc"},
    {"are", "r"}, {"to be honest", "tbh"}, {"right now", "rn"}, {"I don't know", "idk"}};

const std::vector<std::string> kEmoji = {" \xF0\x9F\x98\xA1", " \xF0\x9F\x99\x8F", " \xF0\x9F\x98\xAD",
                                         " \xF0\x9F\x98\x85", " \xF0\x9F\x98\xA4", " :(", " :)"};

// Replaces whole-word occurrences of `from` (case-sensitive) with `to`.
std::string replace_words(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const bool start = i == 0 || !ascii_letter(s[i - 1]);
    if (start && s.compare(i, from.size(), from) == 0 &&
        (i + from.size() == s.size() || !ascii_letter(s[i + from.size()]))) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::string add_typing_noise(const std::string& text, Rng& rng) {
  std::string s;
  for (size_t i = 0; i < text.size();) {  // word by word; non-letters copied as they are
    if (!ascii_letter(text[i])) {
      s += text[i++];
      continue;
    }
    size_t j = i;
    while (j < text.size() && ascii_letter(text[j])) ++j;
    std::string w = text.substr(i, j - i);
    if (rng.chance(0.04)) typo(w, 0, w.size(), rng);
    s += w;
    i = j;
  }
  if (rng.chance(0.2))
    for (const auto& [from, to] : kTexting) s = replace_words(s, from, to);
  if (rng.chance(0.25)) std::erase(s, '\'');
  if (rng.chance(0.3)) s = lower(s);
  if (rng.chance(0.1)) s += rng.pick(kEmoji);
  return s;
}

}  // namespace srl::data
