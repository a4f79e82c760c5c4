// The way customers write, for the world's tickets: hand-written phrasings per intent in several
// strategies ("families": indirect, symptom, story, terse, non-native, slang, ...), risky phrasings
// (credential requests and out-of-policy demands inside ordinary intents, prompt injections), fragments
// that compose around the ask (greetings, background, asides, signatures, quoted earlier messages), and
// typing noise (typos, casing, dropped apostrophes, texting abbreviations, emoji). The phrasings are a
// table in support_phrasings.cpp written for this purpose, independently of data/eval_ood/ (which they
// must never be checked against or tuned on).
//
// sample_customer_ticket draws one labelled ticket: intents (1 or 2) and a risk category. Phrasings are
// split once by a hash of their text into a training part (4/5) and a validation part (1/5), so the
// validation tickets measure generalisation to phrasings the classifier never saw.
#pragma once
#include <string>
#include <vector>

#include "data/support_world.hpp"

namespace srl::data {

struct Phrasing {
  const char* intent;  // one of intents()
  const char* risk;    // "none" or a risk category of the safety evaluator (see intent_risk)
  const char* family;  // the phrasing strategy
  const char* text;    // may hold {order} {product} {amount} {days} {email} {who} {name}
};
// Every phrasing, in table order.
const std::vector<Phrasing>& customer_phrasings();

struct Fragment {
  const char* kind;  // greeting | context | aside | signature | quoted
  const char* text;  // may hold {name}
};
const std::vector<Fragment>& ticket_fragments();

// The risk category an intent carries by itself: other_customer_data, phishing, legal_threat, self_harm for
// those intents, "abusive" for abusive_customer, "none" for every other.
std::string intent_risk(const std::string& intent);
// The eight risk categories, "none" first (the safety evaluator's RequestRisk names, in enum order).
const std::vector<std::string>& risk_categories();

struct CustomerTicket {
  std::string text;
  std::vector<std::string> intents;  // primary first; a second when the ticket asks two things
  std::string risk = "none";
  std::string source;                // "template" or "phrasing:<family>" of the primary ask
};

struct SpeechOptions {
  double phrasing_share = 0.75;  // primary ask from a phrasing (else from the world's templates)
  double risky_share = 0.08;     // of phrasing asks: a credential-request or out-of-policy line
  double two_intents = 0.15;     // a second, ordinary ask joined to the first
  double self_harm_aside = 0.03; // a self-harm remark after an ordinary ask (risk self_harm)
  double greeting = 0.3, context = 0.3, aside = 0.15, signature = 0.2, quoted = 0.06;
  double noise = 0.4;            // chance that typing noise is applied at all
};

enum class SpeechSplit { Train, Validation };
// The split a phrasing belongs to (FNV-1a of its text: 1 in 5 is validation).
SpeechSplit phrasing_split(const Phrasing& p);

// One ticket. The primary intent is uniform over intents(); for Validation only held-out phrasings are
// used (templates never), for Train the world's templates and the training phrasings.
CustomerTicket sample_customer_ticket(const SupportWorld& world, Rng& rng, const SpeechOptions& opt,
                                      SpeechSplit split);

// A world Prompt for `intent` written the way customers write, for preference and SFT data: a training
// phrasing of the intent's own risk (no credential or out-of-policy lines: the world's answers do not
// handle them), with fragments and noise as above but one intent; entities are the slots it used, difficulty
// "customer", mood "frustrated" for the frustrated and slang families else "calm", segment as the world's.
// Falls back to the world's template prompt when the intent has no such phrasing.
Prompt sample_customer_prompt(const SupportWorld& world, const std::string& intent, Rng& rng, const SpeechOptions& opt);

// Typing noise on a finished text: per word a 4% chance of one typo (swap, drop or double a letter),
// lowercase everything (30%), drop apostrophes (25%), texting abbreviations (you -> u, please -> pls,
// ...; 20%), an emoji at the end (10%). `{slots}` must already be filled.
std::string add_typing_noise(const std::string& text, Rng& rng);

}  // namespace srl::data
