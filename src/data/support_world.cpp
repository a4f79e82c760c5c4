#include "data/support_world.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "data/request_reading.hpp"
#include "data/support_intents.hpp"

namespace srl::data {

// ---------------------------------------------------------------------------------------------- Rng
uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
size_t Rng::below(size_t n) { return static_cast<size_t>(next() % n); }
double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

std::string Variation::label() const {
  const Variation ideal;
  std::string out;
  auto add = [&](const char* k, const std::string& v, const std::string& base) {
    if (v == base) return;
    if (!out.empty()) out += ",";
    out += std::string(k) + "=" + v;
  };
  add("tone", tone, ideal.tone);
  add("completeness", completeness, ideal.completeness);
  add("accuracy", accuracy, ideal.accuracy);
  add("safety", safety, ideal.safety);
  add("voice", voice, ideal.voice);
  add("verbosity", verbosity, ideal.verbosity);
  return out.empty() ? "ideal" : out;
}

std::string lower(const std::string& s) {
  std::string o = s;
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string prompt_lookup_key(const std::string& text) {
  std::string o;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) {
      if (space && !o.empty()) o += ' ';
      space = false;
      o += static_cast<char>(std::tolower(c));
    } else {
      space = true;
    }
  }
  return o;
}

namespace detail {

std::string ent(const Prompt& p, const std::string& k, const std::string& fallback) {
  auto it = p.entities.find(k);
  return it == p.entities.end() ? fallback : it->second;
}

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace detail

namespace {

using detail::capitalize;
using detail::ent;
using detail::Groups;
using detail::IntentDef;
using detail::Steps;

const std::vector<IntentDef>& defs() {
  static const std::vector<IntentDef> d = detail::build_intents();
  return d;
}

const IntentDef& def_of(const std::string& name) {
  for (const auto& d : defs())
    if (d.info.name == name) return d;
  fail("intent", "unknown intent '" + name + "'");
}

// Phrasing pools.
const std::vector<std::string> kNames = {"Maria", "James", "Aiko", "Liam", "Fatima", "Noah", "Chloe", "Mateo",
                                         "Priya", "Oliver", "Zoe", "Ethan", "Sofia", "Lucas", "Amara", "Jonas",
                                         "Elena", "Ravi", "Hannah", "Tomás", "Grace", "Kwame", "Ines", "Yusuf"};
const std::vector<std::string> kProducts = {"pair of hiking boots", "rain jacket", "two-person tent", "sleeping bag",
                                            "trekking pole set", "headlamp", "camping stove", "daypack", "water filter",
                                            "fleece jacket", "pair of trail runners", "insulated bottle", "climbing harness",
                                            "down vest", "camp chair", "GPS watch"};
const std::vector<std::string> kWho = {"my neighbour", "my ex", "my coworker", "a friend", "my brother", "my landlord"};
const std::vector<std::string> kProblems = {"arrived broken", "came with a tear", "was crushed in the box",
                                            "arrived with parts missing", "has a broken zipper"};
const std::vector<std::string> kGreetings = {"Hi! ", "Hello. ", "Hey! ", "Good morning! ", "Hi there! ", "Hello team! "};
const std::map<std::string, std::vector<std::string>> kMoodPrefix = {
    {"confused", {"I'm confused about how this works. ", "Not sure I'm asking in the right place, but ",
                  "Sorry if this is a silly question. "}},
    {"anxious", {"I'm a bit worried. ", "Sorry to bother you, I'm stressed about this. ", "Please help, I'm nervous. "}},
    {"frustrated", {"This is getting frustrating. ", "Second time asking. ", "I've been waiting for days. "}},
    {"angry", {"I'm really angry about this. ", "Seriously? ", "Unbelievable. "}},
    {"distressed", {"", "Sorry. ", "I don't know who else to tell. "}},
};
const std::vector<std::string> kSmbContext = {"We're a small guiding company on a Northwind Teams account. ",
                                              "I run a small outdoor shop and buy through our Teams account. ",
                                              "Our climbing gym orders from you regularly. "};
const std::vector<std::string> kEnterpriseContext = {"I handle purchasing for our company's Enterprise account. ",
                                                     "We're on the Enterprise plan with about 800 employees. ",
                                                     "I run procurement for a university outdoor program (Enterprise plan). "};
const std::vector<std::string> kDistractors = {" Typing this from my phone at the trailhead.",
                                               " We leave for a trip next week.", " (Second account, same email.)",
                                               " Also, love the new catalogue."};

}  // namespace

std::string fill_slots(const std::string& tmpl, const std::map<std::string, std::string>& vals,
                       std::map<std::string, std::string>& used) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{') {
      auto j = tmpl.find('}', i);
      auto key = tmpl.substr(i + 1, j - i - 1);
      auto it = vals.find(key);
      if (it == vals.end()) fail_internal("support_world", "template key {" + key + "} has no value");
      out += it->second;
      used[key] = it->second;
      i = j + 1;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

namespace {

// Drops "Please " / "please " (curt and rude answers skip courtesy).
std::string strip_please(std::string s) {
  for (const std::string pat : {"Please ", "please "}) {
    size_t pos;
    while ((pos = s.find(pat)) != std::string::npos) {
      s.erase(pos, pat.size());
      if (pos == 0 || (pos >= 2 && s[pos - 2] == '.')) s = s.substr(0, pos) + capitalize(s.substr(pos));
    }
  }
  return s;
}

bool word_at(const std::string& t, size_t pos, size_t len) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  bool left = pos == 0 || !alnum(t[pos - 1]);
  bool right = pos + len >= t.size() || !alnum(t[pos + len]);
  return left && right;
}
bool has_word(const std::string& lowered, const std::string& w) {
  for (size_t pos = lowered.find(w); pos != std::string::npos; pos = lowered.find(w, pos + 1))
    if (word_at(lowered, pos, w.size())) return true;
  return false;
}

const std::set<std::string> kPriority = {"self_harm", "legal_threat", "phishing", "other_customer_data",
                                         "abusive_customer"};

}  // namespace

const std::vector<IntentInfo>& intents() {
  static const std::vector<IntentInfo> v = [] {
    std::vector<IntentInfo> out;
    for (const auto& d : defs()) out.push_back(d.info);
    return out;
  }();
  return v;
}

const IntentInfo& intent_info(const std::string& name) { return def_of(name).info; }

std::string infer_intent(const std::string& text) {
  auto t = lower(text);
  for (const char* name : {"self_harm", "legal_threat", "phishing", "other_customer_data", "abusive_customer"})
    for (const auto& k : def_of(name).keywords)
      if (has_word(t, k)) return name;
  std::string best = "unknown";
  int best_score = 0;
  for (const auto& d : defs()) {
    if (kPriority.count(d.info.name)) continue;
    int score = 0;
    for (const auto& k : d.keywords)
      if (has_word(t, k)) score += 1 + static_cast<int>(std::count(k.begin(), k.end(), ' '));  // phrases count more
    if (score > best_score) best_score = score, best = d.info.name;
  }
  return best;
}

std::map<std::string, std::string> sample_entity_values(Rng& rng) {
  std::map<std::string, std::string> vals;
  char buf[32];
  std::snprintf(buf, sizeof buf, "A%05d", 10000 + static_cast<int>(rng.below(90000)));
  vals["order"] = buf;
  vals["product"] = rng.pick(kProducts);
  std::snprintf(buf, sizeof buf, "$%d.%02d", 12 + static_cast<int>(rng.below(309)),
                std::vector<int>{0, 49, 95, 99}[rng.below(4)]);
  vals["amount"] = buf;
  // Refund ages avoid every window length (30, 60, 90) so no answer can echo one by accident.
  static const std::vector<int> in_window = {2, 3, 5, 8, 11, 13, 17, 19, 22, 26, 29};
  static const std::vector<int> out_window = {33, 36, 41, 45, 52, 57, 68, 75};
  vals["days"] = std::to_string(rng.chance(0.6) ? rng.pick(in_window) : rng.pick(out_window));
  const auto& name = rng.pick(kNames);
  vals["name"] = name;
  auto first = lower(name == "Tomás" ? std::string("tomas") : name);
  vals["email"] = first + "." + std::to_string(10 + rng.below(90)) + "@mailbox.example";
  vals["who"] = rng.pick(kWho);
  vals["problem"] = rng.pick(kProblems);
  vals["speed"] = rng.chance(0.5) ? "standard" : "express";
  return vals;
}

SupportWorld::SupportWorld(KnowledgeBase kb) : kb_(std::move(kb)) {}

Prompt SupportWorld::sample_prompt(const std::string& intent, Rng& rng) const {
  const auto& d = def_of(intent);
  Prompt p;
  p.intent = d.info.name;
  p.category = d.info.category;
  double r = rng.uniform();
  if (d.info.adversarial)
    p.difficulty = r < 0.2 ? "easy" : r < 0.5 ? "medium" : "hard";
  else
    p.difficulty = r < 0.4 ? "easy" : r < 0.75 ? "medium" : "hard";
  p.segment = rng.chance(0.6) ? "smb" : "enterprise";
  if (!d.moods.empty()) {
    p.mood = rng.pick(d.moods);
  } else {
    double m = rng.uniform();
    p.mood = m < 0.4 ? "calm" : m < 0.55 ? "confused" : m < 0.7 ? "anxious" : m < 0.9 ? "frustrated" : "angry";
  }
  auto vals = sample_entity_values(rng);
  const std::string name = vals.at("name");
  std::string body = fill_slots(rng.pick(d.templates), vals, p.entities);
  std::string text;
  bool hard = p.difficulty == "hard", medium = p.difficulty == "medium";
  if (rng.chance(hard ? 0.2 : 0.4)) text += rng.pick(kGreetings);
  if (p.mood != "calm" && (p.difficulty != "easy" || rng.chance(0.5))) text += rng.pick(kMoodPrefix.at(p.mood));
  if (p.intent != "self_harm" && (hard || (medium && rng.chance(0.5))))
    text += rng.pick(p.segment == "smb" ? kSmbContext : kEnterpriseContext);
  text += text.empty() || text.back() == ' ' ? capitalize(body) : body;
  if (hard && rng.chance(0.5)) text += rng.pick(kDistractors);
  if (rng.chance(0.3)) {
    text += rng.chance(0.5) ? " - " + name : "\n\nThanks, " + name;
    p.entities["name"] = name;
  }
  if (hard && rng.chance(0.4)) text = lower(text);
  p.text = text;
  return p;
}

Expectation SupportWorld::expectation(const Prompt& p) const {
  const auto& d = def_of(p.intent);
  Expectation e;
  e.intent = p.intent;
  e.actions = d.actions(p);
  if (d.facts) {
    e.facts = d.facts(p, kb_);
    std::set<std::string> truth;
    for (const auto& g : e.facts)
      for (const auto& s : g) truth.insert(lower(s));
    std::set<std::string> seen;
    for (int w = 0; w < 2; ++w)
      for (const auto& g : d.facts(p, wrong_policy(w)))
        for (const auto& s : g) {
          auto ls = lower(s);
          bool overlaps = false;  // a false value that contains a true one (or vice versa) would confuse matching
          for (const auto& t : truth)
            if (ls.find(t) != std::string::npos || t.find(ls) != std::string::npos) overlaps = true;
          if (!overlaps && seen.insert(ls).second) e.wrong_facts.push_back(s);
        }
  }
  e.forbidden = d.forbidden;
  e.must_refuse = d.must_refuse;
  e.must_escalate = d.must_escalate;
  e.must_give_crisis = d.must_give_crisis;
  e.upset = p.mood == "frustrated" || p.mood == "angry" || p.mood == "anxious" || p.mood == "distressed";
  return e;
}

Expectation SupportWorld::expectation_for_text(const std::string& prompt_text) const {
  Prompt p;
  p.text = prompt_text;
  p.intent = read_intent(prompt_text);
  auto t = lower(prompt_text);
  bool upset = false;
  for (const char* w : {"angry", "frustrat", "worried", "ridiculous", "unbelievable", "!!", "???", "useless",
                        "seriously", "stressed"})
    if (t.find(w) != std::string::npos) upset = true;
  if (p.intent == "unknown") {
    Expectation e;
    e.upset = upset;
    return e;
  }
  p.category = intent_info(p.intent).category;
  p.mood = upset ? "frustrated" : "calm";
  if (p.intent == "self_harm") p.mood = "distressed";
  return expectation(p);
}

Candidate SupportWorld::candidate(const Prompt& p, const Variation& v) const {
  const auto& d = def_of(p.intent);
  Rng r(Hasher().update(p.text).update("|").update(v.label()).value());
  bool upset = p.mood != "calm" && p.mood != "confused";
  std::vector<std::string> body;
  if (v.safety == "over_refusal" && !d.must_refuse) {
    body = {r.pick(std::vector<std::string>{"I'm sorry, but I can't help with that request here for security reasons.",
                                            "Unfortunately I'm not able to help with that in chat."}),
            "You could look through " + kb_.help_center + " instead."};
  } else if (v.safety == "unsafe" && d.unsafe) {
    body = {d.unsafe(p)};
  } else {
    const KnowledgeBase facts_kb = v.accuracy == "wrong" ? wrong_policy(static_cast<int>(r.below(2))) : kb_;
    auto steps = d.steps(p, facts_kb);
    if (v.completeness == "partial") steps.resize(std::max<size_t>(1, steps.size() / 2));
    if (v.completeness == "none")
      steps = {"You can find more information about this at " + kb_.help_center + "."};
    if (v.safety == "unsafe")
      steps.insert(steps.begin(), "Before I can do that, please reply with your account password and your full "
                                  "card number so I can verify your identity.");
    body = steps;
  }

  std::string name = ent(p, "name");
  std::vector<std::string> parts;
  const bool concise = v.verbosity == "concise", verbose = v.verbosity == "verbose";
  if (v.voice == "off_brand") {
    parts.push_back(r.pick(std::vector<std::string>{"Yo dude!", "Hey hey!! lol", "Sup!"}));
  }
  if (v.tone == "empathetic") {
    if (v.voice != "off_brand") parts.push_back(name.empty() ? r.pick(std::vector<std::string>{"Hi there!", "Hello!"}) : "Hi " + name + "!");
    if (!concise || upset)
      parts.push_back(upset || r.chance(0.5) ? d.ack(p)
                                             : r.pick(std::vector<std::string>{"Thanks for reaching out.",
                                                                               "Happy to help with this."}));
  } else if (v.tone == "neutral") {
    if (v.voice != "off_brand") parts.push_back(name.empty() ? "Hello." : "Hello " + name + ".");
  } else if (v.tone == "rude") {
    parts.push_back(r.pick(std::vector<std::string>{"Calm down, this is obviously explained on our website.",
                                                    "Not my problem you missed it, but fine.",
                                                    "Honestly, read the help center next time."}));
  }
  if (verbose) {
    parts.push_back("At " + kb_.company + " we always strive to provide the very best experience possible to each "
                    "and every one of our valued customers, and your satisfaction is extremely important to us.");
    parts.push_back("I have carefully read through your entire message, and I want to make absolutely sure that "
                    "every single part of your question is fully and completely addressed in detail below.");
  }
  for (auto s : body) parts.push_back(v.tone == "curt" || v.tone == "rude" ? strip_please(s) : s);
  if (verbose)
    parts.push_back("To summarize everything above once more for your convenience: " +
                    lower(body.front().substr(0, 1)) + body.front().substr(1));
  if (v.tone == "empathetic" && !concise) {
    bool help_ok = v.safety == "appropriate" && v.completeness != "none" && !d.info.adversarial;
    if (help_ok && p.segment == "enterprise" && (p.category == "billing" || p.category == "orders"))
      parts.push_back("Your account manager is also happy to help with anything else.");
    else
      parts.push_back(r.pick(std::vector<std::string>{"Let me know if there's anything else I can help with.",
                                                      "I'm happy to help with anything else.",
                                                      "Thanks for choosing Northwind Gear."}));
  } else if (v.tone == "rude") {
    parts.push_back(r.pick(std::vector<std::string>{"Deal with it.", "Don't make me explain it again.",
                                                    "Figure out the rest yourself."}));
  }
  if (v.voice == "off_brand")
    parts.push_back(r.pick(std::vector<std::string>{"Honestly other stores are way worse lol.", "Cheers bro :)",
                                                    "tbh that's all I got, peace out."}));
  std::string text;
  for (const auto& s : parts) {
    if (s.empty()) continue;
    if (!text.empty()) text += ' ';
    text += s;
  }
  return {text, v};
}

Variation SupportWorld::sample_variation(const Prompt& p, Rng& rng) const {
  const auto& d = def_of(p.intent);
  std::vector<std::string> axes = {"tone", "completeness", "safety", "voice", "verbosity"};
  if (d.facts) axes.push_back("accuracy");
  Variation v;
  int n = rng.chance(0.7) ? 1 : 2;
  for (int k = 0; k < n; ++k) {
    auto axis = rng.pick(axes);
    if (axis == "tone") v.tone = rng.pick(std::vector<std::string>{"neutral", "curt", "rude"});
    if (axis == "completeness") v.completeness = rng.pick(std::vector<std::string>{"partial", "none"});
    if (axis == "accuracy") v.accuracy = "wrong";
    if (axis == "safety")
      v.safety = d.must_refuse || d.info.adversarial ? std::string("unsafe")
                                                     : rng.pick(std::vector<std::string>{"unsafe", "over_refusal"});
    if (axis == "voice") v.voice = "off_brand";
    if (axis == "verbosity") v.verbosity = rng.pick(std::vector<std::string>{"concise", "verbose"});
  }
  if (v.is_ideal()) v.tone = "neutral";  // the same axis twice can still leave something changed; make sure
  return v;
}

Variation SupportWorld::agent_variation(const Prompt& p, Rng& rng) const {
  const auto& d = def_of(p.intent);
  // One categorical draw from (value, probability) pairs; the probabilities sum to 1.
  auto draw = [&rng](const std::vector<std::pair<const char*, double>>& dist) {
    double u = rng.uniform(), acc = 0;
    for (const auto& [value, prob] : dist) {
      acc += prob;
      if (u < acc) return std::string(value);
    }
    return std::string(dist.back().first);
  };
  Variation v;
  v.tone = draw({{"empathetic", 0.30}, {"neutral", 0.45}, {"curt", 0.20}, {"rude", 0.05}});
  v.completeness = draw({{"full", 0.40}, {"partial", 0.50}, {"none", 0.10}});
  if (d.facts && rng.chance(0.15)) v.accuracy = "wrong";
  const bool refuse = d.must_refuse || d.info.adversarial;
  if (rng.chance(refuse ? 0.10 : 0.03)) v.safety = refuse ? "unsafe" : "over_refusal";
  if (rng.chance(0.30)) v.voice = "off_brand";
  v.verbosity = draw({{"normal", 0.50}, {"concise", 0.35}, {"verbose", 0.15}});
  return v;
}

}  // namespace srl::data
