#!/usr/bin/env python3
"""Writes the demo SFT corpus: short customer-support conversations for the fictional outdoor
retailer Northwind Gear. Deterministic (fixed seeds), plain python3, no packages.

    python3 scripts/make_demo_sft.py            # writes data/demo/support_sft.jsonl and _val.jsonl

All text is template-generated here; answers follow the small policy in POLICY so the corpus is
self-consistent (a model trained on it should never learn two different refund windows).
"""
import json
import os
import random

POLICY = {
    "refund_days": 30,
    "refund_business_days": "5-7",
    "standard_days": "3-5",
    "express_days": "1-2",
    "reset_link_minutes": 30,
    "plus_monthly": "$9",
    "plus_yearly": "$90",
    "delete_grace_days": 14,
    "warranty": "one-year",
}

SYSTEM_PROMPTS = [
    "You are the Northwind Gear support assistant. Be concise, polite and accurate.",
    "You are a customer support agent for Northwind Gear, an outdoor equipment store. Answer briefly.",
    "Northwind Gear support. Follow store policy: 30-day refunds, never share another customer's data.",
]

NAMES = ["Maria", "James", "Aiko", "Liam", "Fatima", "Noah", "Chloe", "Mateo", "Priya", "Oliver", "Zoe",
         "Ethan", "Sofia", "Lucas", "Amara", "Jonas", "Elena", "Ravi", "Hannah", "Tomás"]
PRODUCTS = ["hiking boots", "rain jacket", "two-person tent", "sleeping bag", "trekking poles", "headlamp",
            "camping stove", "daypack", "water filter", "fleece jacket", "trail runners", "insulated bottle"]
GREETINGS = ["", "Hi! ", "Hello. ", "Hey! ", "Good morning! ", "Hi there! "]


def order_no(rng):
    return "A%05d" % rng.randint(10000, 99999)


def amount(rng):
    return "$%d.%02d" % (rng.randint(12, 320), rng.choice([0, 49, 95, 99]))


def opener(rng, name):
    # Address the customer by name only when they gave it.
    return f"Hi {name}! " if name else rng.choice(["Thanks for reaching out. ", "Happy to help. ", ""])


def signed(rng, text, name):
    return text + (rng.choice([f" - {name}", f"\n\nThanks, {name}", f" ({name})"]) if name else "")


def cap(s):
    return s[:1].upper() + s[1:]


def refund(rng, name):
    o, p, days, paid = order_no(rng), rng.choice(PRODUCTS), rng.randint(2, 60), amount(rng)
    q = rng.choice([
        f"I want a refund for the {p} from order {o}. I paid {paid} and got it {days} days ago.",
        f"Can I return my {p}? Order {o}, delivered {days} days ago.",
        f"refund please, order {o}, the {p} doesn't fit. had it {days} days, cost {paid}",
        f"How do I send back the {p} I bought for {paid}? It arrived {days} days ago (order {o}).",
    ])
    if days <= POLICY["refund_days"]:
        a = (f"{opener(rng, name)}Order {o} is within our 30-day refund window. Go to Orders > {o} > Return item "
             f"and we'll email you a prepaid return label. Once we receive the return, the refund of {paid} reaches "
             f"your original payment method in 5-7 business days.")
    else:
        a = (f"{opener(rng, name)}Order {o} was delivered {days} days ago, which is past our 30-day refund window, "
             f"so I can't issue a refund. If your {p} is faulty, our one-year warranty covers a repair "
             f"or replacement.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def order_status(rng, name):
    o = order_no(rng)
    speed = rng.choice(["standard", "express"])
    q = rng.choice([
        f"Where is my order {o}?",
        f"My order {o} hasn't arrived yet. I paid for {speed} shipping.",
        f"When will order {o} be delivered?",
        f"any update on {o}?? it's been a while",
        f"How can I track order {o}?",
    ])
    days = POLICY["standard_days"] if speed == "standard" else POLICY["express_days"]
    a = (f"{opener(rng, name)}You can follow order {o} under Orders > {o} > Track package. Orders ship within one "
         f"business day and {speed} delivery takes {days} business days after that. If tracking hasn't changed "
         f"for 5 business days, reply here and we'll open a trace with the carrier.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def password_reset(rng, name):
    q = rng.choice([
        "I forgot my password and can't log in.",
        "How do I reset my password?",
        "The password reset email never arrived.",
        "i'm locked out of my account, password doesn't work",
    ])
    if "never arrived" in q:
        a = (f"{opener(rng, name)}Please check your spam or promotions folder for an email from "
             f"support@northwindgear.example. Reset links expire after 30 minutes, so request a new one from the "
             f"sign-in page if it's older than that.")
    else:
        a = (f"{opener(rng, name)}On the sign-in page, choose \"Forgot password\" and enter your account email. "
             f"We'll send a reset link that is valid for 30 minutes; check your spam folder if you don't see it.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def cancel_subscription(rng, name):
    q = rng.choice([
        "How do I cancel my Northwind Plus membership?",
        "Please cancel my subscription.",
        "I want to stop paying for Plus every month.",
        "cancel plus membership",
    ])
    a = (f"{opener(rng, name)}You can cancel under Account > Membership > Cancel membership. Your Plus benefits "
         f"stay active until the end of the current billing period, and you won't be charged again. We don't "
         f"refund partial periods.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def change_plan(rng, name):
    to_yearly = rng.random() < 0.5
    if to_yearly:
        q = rng.choice(["Can I switch my Plus membership from monthly to yearly?",
                        "I'd like the annual plan instead of monthly.",
                        "is the yearly plan cheaper? want to switch"])
        a = (f"{opener(rng, name)}Yes. Plus costs $90 a year instead of $9 a month. Go to Account > Membership > "
             f"Change plan and pick Yearly; the switch happens right away and the unused part of this month is "
             f"credited.")
    else:
        q = rng.choice(["How do I go from the yearly plan back to monthly?",
                        "Switch me to monthly billing please.",
                        "Can I downgrade to the monthly Plus plan?"])
        a = (f"{opener(rng, name)}Go to Account > Membership > Change plan and pick Monthly. The change takes effect "
             f"at your next renewal date, after which you'll pay $9 a month.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def invoice(rng, name):
    o = order_no(rng)
    q = rng.choice([
        f"I need an invoice for order {o} for my company.",
        f"Can you send me the invoice for {o}?",
        f"Where do I download a receipt for order {o}?",
    ])
    a = (f"{opener(rng, name)}Open Orders > {o} and choose Download invoice to get a PDF. If you need a company "
         f"name or VAT number on it, add them under Account > Billing details first and download it again.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def damaged_item(rng, name):
    o, p = order_no(rng), rng.choice(PRODUCTS)
    problem = rng.choice(["arrived broken", "came with a tear", "was crushed in the box", "arrived with parts missing"])
    q = rng.choice([
        f"My {p} {problem}. Order {o}.",
        f"Order {o}: the {p} {problem}. What now?",
        f"the {p} i got {problem}!! order {o}",
    ])
    a = (f"{opener(rng, name)}I'm sorry the {p} {problem}. Please reply with a photo of the item and the box, and "
         f"we'll send a free replacement or a full refund for order {o}, whichever you prefer. You don't need to "
         f"return the damaged item.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def two_factor(rng, name):
    lost_phone = rng.random() < 0.5
    if lost_phone:
        q = rng.choice(["I lost my phone and can't get my 2FA code.",
                        "New phone, and now two-factor login doesn't work.",
                        "my authenticator app was deleted, how do i log in?"])
        a = (f"{opener(rng, name)}Use one of the backup codes you saved when you turned on two-factor login. If "
             f"you don't have them, choose \"Can't use my code\" on the sign-in page; after you confirm the link we "
             f"email you, two-factor login is reset within 24 hours.")
    else:
        q = rng.choice(["My 2FA codes keep getting rejected.",
                        "The six-digit code from my app says invalid.",
                        "two factor code not accepted"])
        a = (f"{opener(rng, name)}Codes are time-based, so this usually means your phone's clock is off. Turn on "
             f"automatic date and time on your phone and try a fresh code; if it still fails, use a backup code.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def delete_account(rng, name):
    q = rng.choice([
        "How do I delete my account?",
        "Please delete my account and all my data.",
        "I want to close my Northwind account permanently.",
    ])
    a = (f"{opener(rng, name)}Go to Account > Privacy > Delete account. Your account is deactivated at once and "
         f"permanently deleted after 14 days; signing in before then cancels the deletion. We keep order records "
         f"only as long as tax law requires.")
    return [signed(rng, rng.choice(GREETINGS) + cap(q), name), a]


def other_persons_order(rng, name):
    o = order_no(rng)
    who = rng.choice(["my neighbour", "my ex", "my coworker", "a friend", "my brother"])
    q = rng.choice([
        f"Can you tell me what {who} ordered? Their order number is {o}.",
        f"What's the delivery address on order {o}? It belongs to {who}.",
        f"I need the details of {who}'s order {o}, they won't answer me.",
    ])
    a = (f"{opener(rng, name)}I'm sorry, but I can't share details of an order that isn't on your account. Order "
         f"information is private to the account holder; please ask them to contact us directly.")
    return [signed(rng, cap(q), name), a]


def abusive(rng, name):
    o = order_no(rng)
    q = rng.choice([
        f"This is the worst store ever. You people are useless. Where is my order {o}???",
        f"Are you all idiots? I've asked three times about order {o}!",
        f"Absolutely pathetic service. Fix order {o} NOW.",
    ])
    a = (f"I understand this has been frustrating, and I want to get it sorted. Order {o} can be tracked under "
         f"Orders > {o} > Track package; if it hasn't moved in 5 business days, I'll open a carrier trace for you "
         f"right away.")
    return [q, a]


INTENTS = [refund, order_status, password_reset, cancel_subscription, change_plan, invoice, damaged_item,
           two_factor, delete_account, other_persons_order, abusive]
WEIGHTS = [16, 16, 10, 8, 7, 7, 10, 8, 6, 6, 6]

FOLLOW_UPS = [
    ("Thanks!", "You're welcome! Anything else I can help with?"),
    ("Great, that's all I needed.", "Glad I could help. Have a great day!"),
    ("Can I talk to a human?", "Of course. Reply \"agent\" and a member of our team will pick up this "
                               "conversation, usually within one business day."),
    ("Do you ship internationally?", "We currently ship to the US, Canada and the EU. Delivery times are shown "
                                     "at checkout for each country."),
]


REFUND_FOLLOW_UPS = [
    ("How long does the refund take?", "Refunds reach your original payment method within 5-7 business days "
                                        "after we receive the return."),
]


def conversation(rng):
    intent = rng.choices(INTENTS, weights=WEIGHTS)[0]
    name = rng.choice(NAMES) if rng.random() < 0.35 else ""
    user, assistant = intent(rng, name)
    msgs = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    if intent is not abusive and rng.random() < 0.25:
        q, a = rng.choice(FOLLOW_UPS + (REFUND_FOLLOW_UPS if intent in (refund, damaged_item) else []))
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return {"messages": msgs}


def generate(seed, count, exclude=()):
    rng = random.Random(seed)
    seen, out = set(exclude), []
    while len(out) < count:
        line = json.dumps(conversation(rng), ensure_ascii=False)
        if line not in seen:  # no duplicates, and no validation example that also appears in training
            seen.add(line)
            out.append(line)
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "demo")
    os.makedirs(root, exist_ok=True)
    train = generate(seed=20240601, count=400)
    val = generate(seed=20240602, count=40, exclude=train)
    for name, lines in (("support_sft.jsonl", train), ("support_sft_val.jsonl", val)):
        with open(os.path.join(root, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {len(lines)} conversations to data/demo/{name}")


if __name__ == "__main__":
    main()
