// Preference pairs: the JSONL schema every later stage reads (docs/data_format.md), its validator and
// the loader. One pair = a conversation prefix (a string `prompt` or a `messages` list ending with a user
// turn), two candidate replies and which one won. Unknown keys are kept and written back unchanged.
// No libtorch here: this header is included by tools that never train.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/jsonl.hpp"
#include "core/names.hpp"
#include "text/chat_format.hpp"

namespace srl::data {

enum class Winner { A, B, Tie };
// "a", "b", "tie".
const char* winner_name(Winner w);

// Problem codes (the validator's summary counts lines per code).
namespace reason {
inline constexpr const char* kInvalidUtf8 = jsonl_reason::kInvalidUtf8;
inline constexpr const char* kInvalidJson = jsonl_reason::kInvalidJson;
inline constexpr const char* kNotObject = jsonl_reason::kNotObject;
inline constexpr const char* kMissingField = "missing_field";
inline constexpr const char* kWrongType = "wrong_type";
inline constexpr const char* kPromptXorMessages = "prompt_xor_messages";  // both or neither
inline constexpr const char* kBadMessages = "bad_messages";               // empty list, malformed message
inline constexpr const char* kBadRole = "bad_role";                       // unknown role, last turn not user
inline constexpr const char* kEmptyPrompt = "empty_prompt";
inline constexpr const char* kBadWinner = "bad_winner";
inline constexpr const char* kEmptyResponse = "empty_response";
inline constexpr const char* kIdenticalResponses = "identical_responses";
inline constexpr const char* kTooLong = "too_long";
inline constexpr const char* kDuplicateId = "duplicate_id";
inline constexpr const char* kBadSegment = "bad_segment";
inline constexpr const char* kEmptyFile = "empty_file";
}  // namespace reason

struct ValidationLimits {
  size_t max_text_bytes = 20000;  // per text field: prompt, each message, each response, rationale
};

struct PreferencePair {
  std::optional<std::string> prompt;    // set: a single-turn prompt (then `messages` is empty)
  std::vector<text::Message> messages;  // else: the multi-turn prefix, ending with a user turn
  std::string response_a, response_b;
  Winner winner = Winner::Tie;
  nlohmann::json tags = nlohmann::json::object();  // intent, difficulty, segment + any extra keys
  std::optional<std::string> rationale, id, source, annotator;
  nlohmann::json extras = nlohmann::json::object();  // unknown top-level keys, round-tripped verbatim

  // The prefix as chat messages: a string prompt becomes one user message.
  std::vector<text::Message> conversation() const;
  const std::string& chosen() const { return winner == Winner::B ? response_b : response_a; }  // A for a tie
  const std::string& rejected() const { return winner == Winner::B ? response_a : response_b; }

  // Strict: the first schema problem is srl::fail("preference pair", "<reason>: <detail>").
  static PreferencePair from_json(const nlohmann::json& j, const ValidationLimits& limits = {});
  nlohmann::json to_json() const;
};

// One problem with a record. `reason` is a code from srl::data::reason, `message` says what and where.
using Issue = LineIssue;

// All schema problems of one parsed JSON value (no duplicate-id check: that needs the whole file).
// Fills *out when there are none and out != nullptr.
std::vector<Issue> check_pair(const nlohmann::json& j, const ValidationLimits& limits = {},
                              PreferencePair* out = nullptr);

// The JSONL reader's pieces (core/jsonl.hpp), also spelled srl::data:: for the data stage's callers.
using srl::for_each_line;
using srl::is_valid_utf8;
using srl::parse_json_line;

struct Problem {
  int64_t line = 0;  // 1-based; 0 = the file as a whole
  std::string reason;
  std::string message;
};

struct ValidationReport {
  std::string path;
  int64_t lines = 0;  // non-blank lines (records)
  int64_t valid = 0;
  int64_t invalid = 0;
  std::vector<Problem> problems;           // in line order; a line may have several
  std::map<std::string, int64_t> counts;   // problems per reason
  bool ok() const { return problems.empty(); }
};

// Checks every line of a JSONL file. Blank lines are ignored; a trailing '\r' is stripped.
// A file that cannot be read (missing, a directory) is srl::fail(path, ...).
ValidationReport validate_file(const std::string& path, const ValidationLimits& limits = {});

enum class OnInvalid { Error, Skip };
inline constexpr config::Names<OnInvalid, 2> kOnInvalidNames{{{"error", OnInvalid::Error}, {"skip", OnInvalid::Skip}}};

struct LoadStats {
  int64_t lines = 0;    // non-blank lines
  int64_t loaded = 0;
  int64_t skipped = 0;  // lines with at least one problem (Skip mode)
  std::map<std::string, int64_t> skipped_by_reason;  // first problem of each skipped line
};

// Loads pairs. Error mode: the first problem is srl::fail("FILE:LINE", "<reason>: <detail>").
// Skip mode: each bad line is logged (spdlog::warn "FILE:LINE: ...") and counted in *stats.
// A duplicate id counts as a problem of the later line. A file without any record is srl::fail(path).
std::vector<PreferencePair> load_pairs(const std::string& path, OnInvalid mode = OnInvalid::Error,
                                       LoadStats* stats = nullptr, const ValidationLimits& limits = {});

// One JSON object per line, written atomically. Keys come out sorted.
std::string to_jsonl(const std::vector<nlohmann::json>& rows);
void write_jsonl(const std::string& path, const std::vector<nlohmann::json>& rows);
void write_pairs(const std::string& path, const std::vector<PreferencePair>& pairs);


}  // namespace srl::data
