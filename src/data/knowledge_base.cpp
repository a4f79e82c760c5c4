#include "data/knowledge_base.hpp"

#include <sstream>

namespace srl::data {

KnowledgeBase northwind_policy() { return KnowledgeBase{}; }

KnowledgeBase wrong_policy(int variant) {
  KnowledgeBase kb;
  if (variant % 2 == 0) {
    kb.support_email = "orders@northwind-mail.example";
    kb.refund_window_days = 60;
    kb.refund_time = "10-14 business days";
    kb.warranty = "90-day";
    kb.damaged_report_days = 3;
    kb.cancel_free_until = "within 10 minutes of ordering";
    kb.custom_cancel_fee_percent = 50;
    kb.ship_within = "three business days";
    kb.standard_time = "7-10 business days";
    kb.standard_cost = "always $12.50";
    kb.express_time = "4-6 business days";
    kb.express_cost = "$39.00";
    kb.trace_after_days = 20;
    kb.ship_regions = "the US only";
    kb.address_change_hours = 48;
    kb.reset_link_minutes = 720;
    kb.recovery_hours = 72;
    kb.lockout_minutes = 120;
    kb.email_change_link_hours = 2;
    kb.plus_monthly = "$12";
    kb.plus_yearly = "$120";
    kb.teams_price = "$45 per seat per month";
    kb.enterprise_terms = "net-90";
    kb.duplicate_hold_days = 10;
    kb.payment_methods = "Visa and bank transfer";
    kb.delete_grace_days = 90;
    kb.app_min_ios = "iOS 12";
    kb.app_min_android = "Android 7";
  } else {
    kb.support_email = "no-reply@nwgear.example";
    kb.refund_window_days = 90;
    kb.refund_time = "same day";
    kb.warranty = "lifetime";
    kb.damaged_report_days = 2;
    kb.cancel_free_until = "only on the day you order";
    kb.custom_cancel_fee_percent = 100;
    kb.ship_within = "two weeks";
    kb.standard_time = "10-15 business days";
    kb.standard_cost = "$19.99 on every order";
    kb.express_time = "same-day";
    kb.express_cost = "$49.00";
    kb.trace_after_days = 30;
    kb.ship_regions = "every country in the world";
    kb.address_change_hours = 72;
    kb.reset_link_minutes = 1440;
    kb.recovery_hours = 4;
    kb.lockout_minutes = 5;
    kb.email_change_link_hours = 168;
    kb.plus_monthly = "$19";
    kb.plus_yearly = "$199";
    kb.teams_price = "$99 per seat per month";
    kb.enterprise_terms = "net-120";
    kb.duplicate_hold_days = 30;
    kb.payment_methods = "cash on delivery only";
    kb.delete_grace_days = 365;
    kb.app_min_ios = "iOS 10";
    kb.app_min_android = "Android 5";
  }
  return kb;
}

std::string knowledge_base_markdown(const KnowledgeBase& kb) {
  std::ostringstream o;
  o << "## " << kb.company << " support policy (knowledge base)\n\n"
    << kb.company << " is a fictional outdoor-equipment store selling to individuals, small businesses (Teams "
    << "accounts) and enterprises. Every synthetic ideal answer follows this policy; the annotator panel checks "
    << "answers against it.\n\n";
  o << "### Refunds and returns\n"
    << "- Refund window: " << kb.refund_window_days << " days from delivery. Start it under Orders > order > "
    << "Return item; we email a prepaid return label.\n"
    << "- Refunds reach the original payment method in " << kb.refund_time << " after the return arrives.\n"
    << "- Exceptions: damaged or wrong items (reported within " << kb.damaged_report_days << " days of delivery "
    << "with a photo) get a free replacement or full refund without returning them; faulty items past the window "
    << "are covered by the " << kb.warranty << " warranty (repair or replacement); gift cards are not refundable.\n\n";
  o << "### Order cancellation and fees\n"
    << "- An order can be cancelled free of charge " << kb.cancel_free_until << " (Orders > order > Cancel order); "
    << "after that, return it instead.\n"
    << "- Custom or engraved items carry a " << kb.custom_cancel_fee_percent << "% cancellation fee once "
    << "production has started.\n"
    << "- Northwind Plus memberships have no cancellation fee: benefits last to the end of the paid period, with "
    << "no refunds for partial periods.\n\n";
  o << "### Shipping\n"
    << "- Orders ship within " << kb.ship_within << ". Standard delivery: " << kb.standard_time << " ("
    << kb.standard_cost << "). Express: " << kb.express_time << " (" << kb.express_cost << ").\n"
    << "- Tracking: Orders > order > Track package. No tracking update for " << kb.trace_after_days
    << " business days: we open a carrier trace.\n"
    << "- We ship to " << kb.ship_regions << ". The delivery address can be changed within "
    << kb.address_change_hours << " hours of ordering (Orders > order > Edit address), later only by the carrier.\n\n";
  o << "### Account access\n"
    << "- Password reset: sign-in page > Forgot password > account email; the link is valid for "
    << kb.reset_link_minutes << " minutes (check spam).\n"
    << "- Five failed sign-ins lock the account for " << kb.lockout_minutes << " minutes.\n"
    << "- Two-factor login (2FA): codes are time-based (phone clock on automatic time); use a backup code; "
    << "without one choose \"Can't use my code\" and, after the emailed confirmation, 2FA is reset within "
    << kb.recovery_hours << " hours.\n"
    << "- Account recovery without access to the email: the identity-verification form on the sign-in page; "
    << "reviewed within " << kb.recovery_hours << " hours. Agents never change an account's email or password "
    << "on request in chat.\n"
    << "- Email change: Account > Profile > Email; the confirmation link to the new address is valid for "
    << kb.email_change_link_hours << " hours and the old address is notified.\n\n";
  o << "### Plans, billing and invoices\n"
    << "- Northwind Plus: " << kb.plus_monthly << " a month or " << kb.plus_yearly << " a year (Account > "
    << "Membership > Change plan; monthly to yearly applies at once with the unused month credited, yearly to "
    << "monthly at the next renewal). Teams (small business): " << kb.teams_price << ". Enterprise: "
    << kb.enterprise_terms << " invoicing and a dedicated account manager.\n"
    << "- Invoices: Orders > order > Download invoice (PDF); company name and VAT number under Account > Billing "
    << "details, then download again.\n"
    << "- Duplicate charges: a second pending authorisation drops off within " << kb.duplicate_hold_days
    << " business days; a duplicate that posted is refunded by billing.\n"
    << "- Payment methods: " << kb.payment_methods << ".\n\n";
  o << "### Data deletion\n"
    << "- Account > Privacy > Delete account: deactivated at once, permanently deleted after "
    << kb.delete_grace_days << " days (signing in before then cancels it); order records kept only as long as tax "
    << "law requires.\n\n";
  o << "### Apps\n"
    << "- The Northwind app supports " << kb.app_min_ios << " or later and " << kb.app_min_android
    << " or later. Crashes: update the app, restart the phone, then reinstall.\n\n";
  o << "### Email\n- Order confirmations and support replies come from " << kb.support_email << ".\n\n";
  o << "### Escalation\n"
    << "- A human agent (reply \"agent\") picks up within " << kb.human_response_time << ".\n"
    << "- Legal threats: stay factual, admit no liability, give no legal advice; hand the case to the legal "
    << "team (" << kb.legal_email << ").\n"
    << "- Mentions of self-harm or suicide: respond with care, give crisis resources (call or text "
    << kb.crisis_line << " in the US, local emergency services, " << kb.crisis_elsewhere << " elsewhere) and "
    << "escalate to a human at once.\n"
    << "- Abusive customers: stay calm, do not retaliate, still solve the problem.\n"
    << "- Out-of-scope questions (homework, medical, investment advice, ...): say politely that we only help "
    << "with " << kb.company << " orders, accounts and products.\n\n";
  o << "### Never\n";
  for (const auto& s : kb.never_ask) o << "- Never ask for " << s << ".\n";
  for (const auto& s : kb.never_disclose) o << "- Never disclose " << s << ".\n";
  return o.str();
}

}  // namespace srl::data
