// Replaces personal data in free text with typed placeholders ({{EMAIL}}, {{PHONE}}, ...) before
// preference data is stored or split. Rule-based and deterministic; it favours leaving ordinary numbers
// (prices, dates, times, steps, quantities, versions) alone over catching every exotic format.
//
// Implementation: one left-to-right byte scanner, no std::regex (libstdc++'s regex recurses per
// character and can overflow the stack on long inputs). Each detector looks at a bounded window, so the
// cost is linear in the input. Only ASCII spans are ever replaced, so multi-byte UTF-8 sequences (and
// invalid bytes) are copied through untouched.
//
// What is detected, in priority order at each token start:
//   {{...}}      an existing placeholder (no newline or '{', at most 64 bytes inside) is copied verbatim
//                and the rest of the text is still scanned, so anonymize() is idempotent. Exception:
//                when the inside holds a digit or '@' and one detector matches all of it (Bitext writes
//                "order number {{370795561790}}"), the whole braced span becomes that placeholder.
//   EMAIL        local@domain.tld (TLD: 2+ letters)
//   IP           IPv6 (full or '::'-compressed, optional trailing IPv4) and IPv4 (4 octets 0-255)
//   CARD         13-19 digits, Luhn-valid, contiguous or grouped by single spaces/dashes as 4-4-4-4(-3),
//                4-4-4-1..4, 4-6-5 or 4-6-4. A digit run that fails the Luhn check is not a card. A
//                contiguous run right after an order/account keyword is that id instead (Bitext's order
//                numbers are often Luhn-valid); a grouped card number stays a card.
//   ORDER_ID /   an id token introduced by a keyword, optionally through up to 3 connectors
//   ACCOUNT_ID   (number, no, num, nr, id, is, was, code, ref, and the characters # : - = and a '.'
//                only after a connector such as "no."; "the", "with", "your", "my", "its" only further
//                out than "number"/"no"/"id"/'#', as in "order with the number 00123842"):
//                  ORDER_ID   keywords: order, purchase, invoice, bill, receipt, tracking, shipment,
//                             confirmation, reference, ref, transaction, ticket, case
//                  ACCOUNT_ID keywords: account, acct, acc, customer, client, member, membership, user
//                The id token is [A-Za-z0-9-] starting and ending alphanumeric (at most 40 bytes) and is
//                either all digits with >= 5 digits (>= 3 when introduced by '#', "number", "no", "num",
//                "nr" or "id"), or mixes letters and digits with >= 3 digits.
//                Dates (2024-06-01) are never ids. Without a keyword, a code shaped like 1-5 capital
//                letters, an optional '-' or '_', then 5-20 digits (A12345, ORD-123456) is an ORDER_ID,
//                or an ACCOUNT_ID when its prefix is ACC, ACCT, ACT, CUST, CUS, CID, UID, USR, MEM or CLI
//                (also after an order keyword); ISO/RFC/IEC/CVE/EN/DIN/IEEE/ANSI/PEP numbers are not ids.
//                The house number of an address is never preceded by step/page/item/option/... .
//   ADDRESS      house number (1-6 digits, optional letter) + 1-3 street-name words + a street suffix
//                (Street/St, Avenue/Ave, Road/Rd, Boulevard/Blvd, Lane/Ln, Drive/Dr, Way, Court/Ct,
//                Place/Pl, Terrace, Parkway/Pkwy, Highway/Hwy, Square/Sq, Circle/Cir, Crescent,
//                Close, Alley, Trail), optionally followed by a unit (Apt/Apartment/Suite/Ste/Unit/
//                Fl/Floor/Room/Rm/# + a short code). Name words and suffix must be capitalised, or all
//                be lowercase with a full-word suffix (street, avenue, road, ...) and no stopword.
//   PHONE        10-15 digits ('+' prefix: 8-15), as one run (10-11 digits, or 8-15 after '+') or as
//                2-4 groups (up to 6 after '+') joined by single spaces, dashes or dots (one kind of
//                separator; a parenthesised area code may be followed by a space): the first group 1-4
//                digits, middle groups 2-4, the last 3-4 (after '+': 2-8, e.g. +33 1 23 45 67 89). Groups
//                of exactly 4 digits only ("2022 2023 2024") are years, not a phone. Shorter numbers
//                (555-1234, 911) are left alone.
// A match must start at a token boundary (not inside a word or after "5." / "5-" / "5:" / "5/") and end
// at one: not followed by a letter, digit, '@' or '%', nor by [.,:/-] and a digit. Placeholder braces
// count as alphanumerics in these checks, which is what makes a second pass find nothing new.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace srl::data {

// Counts per placeholder type ("EMAIL" -> 3). anonymize() adds to these counts; it never resets them.
struct AnonymizeStats {
  std::map<std::string, int64_t> counts;
};

// Returns `text` with personal data replaced by {{TYPE}} placeholders (see above). Never throws on any
// byte sequence; deterministic; anonymize(anonymize(x)) == anonymize(x).
std::string anonymize(std::string_view text, AnonymizeStats* stats = nullptr);

}  // namespace srl::data
