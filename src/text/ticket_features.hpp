// Hashed sparse features of a support ticket for the request classifier (model/request_classifier.hpp):
// the fastText recipe of word unigrams, word bigrams and character n-grams of each word, hashed into a
// fixed number of buckets. Character n-grams are what lets "pasword", "passwrd" and "password" share most
// of their features, so spelling noise costs little; bigrams keep "not working" apart from "working".
//
// Normalisation before tokenising: ASCII lowercase, typographic apostrophes made plain, every digit
// mapped to '0' (order numbers and card numbers then share features by shape, "A12345" -> "a00000").
// Tokens: runs of ASCII letters, digits and apostrophes; each non-ASCII character (an emoji, an accented
// letter) is a token of its own; other ASCII characters separate tokens, except that a run of "!" or of
// "?" becomes the token "!" or "?".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace srl::text {

struct TicketFeatureConfig {
  int64_t buckets = 1 << 18;  // hash space (embedding rows)
  int char_min = 3;           // character n-gram lengths over "<word>", inclusive
  int char_max = 5;
  bool word_bigrams = true;
};

// The normalised tokens of `text` (see above). Invalid UTF-8 bytes are dropped.
std::vector<std::string> ticket_tokens(const std::string& text);

// Feature ids in [0, buckets): for each token "w:<token>", for each adjacent pair "b:<a> <b>", for each
// character n-gram g of "<token>" (whole words of up to char_max-2 letters are covered by the unigram)
// "c:<g>", each FNV-1a 64 hashed modulo buckets. Never empty: a text without tokens gives the id of "w:".
std::vector<int64_t> ticket_features(const std::string& text, const TicketFeatureConfig& cfg);

}  // namespace srl::text
