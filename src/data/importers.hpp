// Importers from public formats into the preference schema (docs/data_format.md), and the TRL exporter.
//   hh      Anthropic HH-RLHF: {"chosen": "\n\nHuman: ..\n\nAssistant: ..", "rejected": ".."}
//   trl     TRL preference: {"prompt", "chosen", "rejected"}, strings or message lists
//   bitext  the Bitext customer-support CSV -> SFT conversations (+ optional prompt lines)
// Every imported pair passes check_pair() (a line that would not is an import error), so an import's
// output always validates. Text transforms (anonymization) are injected by the caller.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/preference.hpp"

namespace srl::data {

struct ImportOptions {
  uint64_t seed = 0;  // decides, per line, whether the chosen reply lands in response_a or response_b
  OnInvalid on_invalid = OnInvalid::Error;
  // Applied to every text field after parsing (the CLI passes the anonymizer). Empty: unchanged.
  std::function<std::string(std::string_view)> transform;
  // Tags for pairs whose source has none (hh, trl); keys the input line already has win.
  nlohmann::json default_tags = {{"intent", "unknown"}, {"difficulty", "unknown"}, {"segment", "smb"}};
  std::string source;  // "source" of every imported pair; empty: the format name ("hh", "trl")
  ValidationLimits limits;
};

struct ImportStats {
  int64_t lines = 0;     // records read (non-blank lines, CSV data rows)
  int64_t imported = 0;
  int64_t skipped = 0;   // bad records (OnInvalid::Skip)
  int64_t chosen_a = 0;  // pairs whose winner is "a" (the rest are "b")
  std::map<std::string, int64_t> skipped_by_reason;
};

// Chosen side in response_a? Deterministic for (seed, line); about half the lines for any seed.
bool chosen_first(uint64_t seed, int64_t line);

// Splits an HH transcript into turns on "\n\nHuman:" / "\n\nAssistant:" (one following space dropped).
// Text before the first marker is srl::fail("hh transcript", ...).
std::vector<text::Message> parse_hh_transcript(std::string_view transcript);

// Bad lines: srl::fail("FILE:LINE", reason) or, with OnInvalid::Skip, logged and counted.
std::vector<PreferencePair> import_hh(const std::string& path, const ImportOptions& opt = {},
                                      ImportStats* stats = nullptr);
std::vector<PreferencePair> import_trl(const std::string& path, const ImportOptions& opt = {},
                                       ImportStats* stats = nullptr);

// RFC 4180: comma-separated, fields optionally in double quotes; inside quotes commas, newlines and
// doubled quotes ("") are literal. CRLF or LF record ends; a leading UTF-8 BOM is dropped.
struct CsvRecord {
  int64_t line = 0;  // physical line where the record starts (1-based)
  std::vector<std::string> fields;
};
// A quote inside an unquoted field, text after a closing quote or an unterminated quote is
// srl::fail("NAME:LINE", ...).
std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& name = "csv");

struct SftExample {
  std::vector<text::Message> messages;  // user instruction, assistant response
  nlohmann::json tags;                  // {"intent": .., "category": ..}
  nlohmann::json to_json() const;         // {"messages": [...], "tags": {...}}
  nlohmann::json prompt_json() const;     // {"prompt": first user message, "tags": {...}}
};
// Needs columns instruction, intent, category, response (any order, others ignored). A row with the
// wrong number of fields, an empty instruction/response or invalid UTF-8 is a FILE:LINE error.
std::vector<SftExample> import_bitext(const std::string& path, const ImportOptions& opt = {},
                                      ImportStats* stats = nullptr);

struct ExportStats {
  int64_t exported = 0;
  int64_t ties_skipped = 0;
};
// TRL rows {"prompt","chosen","rejected"}: strings when the pair has a string prompt; with `messages`,
// prompt is the message list and chosen/rejected are [{"role":"assistant","content":..}]. Ties skipped.
std::vector<nlohmann::json> to_trl(const std::vector<PreferencePair>& pairs, ExportStats* stats = nullptr);

}  // namespace srl::data
