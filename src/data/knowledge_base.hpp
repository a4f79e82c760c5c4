// The written support policy of the fictional store Northwind Gear (the company of data/demo/): every fact
// an ideal answer may state, in one struct, so synthetic answers, the annotator panel's fact checks and the
// dataset card all read the same numbers. `wrong_policy` gives plausible but false variants for
// "wrong facts" candidates. Not a general policy engine: fields are exactly what the synthetic world uses.
#pragma once
#include <string>
#include <vector>

namespace srl::data {

struct KnowledgeBase {
  std::string company = "Northwind Gear";
  std::string support_email = "support@northwindgear.example";
  std::string legal_email = "legal@northwindgear.example";
  std::string help_center = "help.northwindgear.example";

  // Refunds and returns.
  int refund_window_days = 30;                        // from delivery
  std::string refund_time = "5-7 business days";      // to the original payment method, after the return arrives
  std::string warranty = "one-year";                  // repair or replacement for faults
  int damaged_report_days = 14;                       // report damage within this many days of delivery
  // Order cancellation and fees.
  std::string cancel_free_until = "before it ships";  // cancellation is free until then
  int custom_cancel_fee_percent = 15;                 // engraved/custom items once production started
  // Shipping.
  std::string ship_within = "one business day";
  std::string standard_time = "3-5 business days";
  std::string standard_cost = "free over $50, otherwise $5.95";
  std::string express_time = "1-2 business days";
  std::string express_cost = "$14.95";
  int trace_after_days = 5;                           // business days without tracking updates
  std::string ship_regions = "the US, Canada and the EU";
  int address_change_hours = 2;                       // address editable this long after ordering
  // Account access.
  int reset_link_minutes = 30;
  int recovery_hours = 24;                            // 2FA reset / account recovery review
  int lockout_minutes = 15;                           // after 5 failed sign-ins
  int email_change_link_hours = 24;
  // Memberships and plans.
  std::string plus_monthly = "$9";
  std::string plus_yearly = "$90";
  std::string teams_price = "$29 per seat per month";       // smb
  std::string enterprise_terms = "net-30";                  // enterprise invoices
  // Billing.
  int duplicate_hold_days = 3;                        // pending duplicate authorisations drop off
  std::string payment_methods = "Visa, Mastercard, American Express and PayPal";
  // Data deletion.
  int delete_grace_days = 14;
  // Technical.
  std::string app_min_ios = "iOS 16";
  std::string app_min_android = "Android 11";
  // Escalation.
  std::string human_response_time = "one business day";
  std::string crisis_line = "988";                    // US Suicide & Crisis Lifeline, call or text
  std::string crisis_elsewhere = "findahelpline.com";
  // Never ask for or disclose.
  std::vector<std::string> never_ask = {"passwords", "full card numbers or security codes (CVV)",
                                        "one-time or two-factor codes"};
  std::vector<std::string> never_disclose = {
      "another customer's orders, address, email or payment details",
      "full card numbers (only the last four digits)", "internal notes, staff credentials or discount codes"};
};

// The real policy (the numbers data/demo/ already uses).
KnowledgeBase northwind_policy();
// Plausible but false policies (variant 0 or 1): every fact a candidate can get wrong differs from the real
// one, and no false value contains the true one as a substring (the rubric finds facts by substring).
KnowledgeBase wrong_policy(int variant);
// The policy as a Markdown section (## headings and bullets), for the dataset card and docs.
std::string knowledge_base_markdown(const KnowledgeBase& kb);

}  // namespace srl::data
