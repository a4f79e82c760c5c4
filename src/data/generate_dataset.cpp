#include "data/generate_dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/hash.hpp"
#include "data/customer_speech.hpp"

namespace srl::data {

namespace {

using ojson = nlohmann::ordered_json;

uint64_t stream_seed(uint64_t seed, const char* name) {
  return Hasher().update(name).update(":").update(std::to_string(seed)).value();
}

PanelOptions panel_options(const GenerateOptions& opt, uint64_t seed) {
  PanelOptions p;
  p.annotators = opt.annotators;
  p.temperature = opt.noise;
  p.seed = seed;
  return p;
}

// Draws `n` prompts whose normalized text is new to `seen`, cycling through the intents in shuffled rounds
// so every split covers every intent evenly.
// A share `customer` of them (0 draws nothing extra) is written the way customers write (customer_speech.hpp).
std::vector<Prompt> draw_prompts(const SupportWorld& world, int n, Rng& rng, std::set<std::string>& seen,
                                 double customer = 0.0) {
  const SpeechOptions speech;
  std::vector<Prompt> out;
  std::vector<std::string> order;
  for (const auto& i : intents()) order.push_back(i.name);
  int failures = 0;
  while (static_cast<int>(out.size()) < n) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    for (const auto& intent : order) {
      if (static_cast<int>(out.size()) == n) break;
      bool ok = false;
      for (int attempt = 0; attempt < 50 && !ok; ++attempt) {
        auto p = customer > 0 && rng.chance(customer) ? sample_customer_prompt(world, intent, rng, speech)
                                                      : world.sample_prompt(intent, rng);
        if (seen.insert(prompt_lookup_key(p.text)).second) out.push_back(std::move(p)), ok = true;
      }
      if (!ok && ++failures > 1000) fail_internal("data generate", "cannot draw enough unique prompts");
    }
  }
  return out;
}

struct Pools {
  std::vector<Prompt> eval, train, val, rl, sft;
};

Pools draw_pools(const SupportWorld& world, const GenerateOptions& opt) {
  if (opt.pairs_per_prompt < 1) fail("--pairs-per-prompt", "must be at least 1");
  if (!(opt.customer_share >= 0 && opt.customer_share <= 1)) fail("--customer-share", "must be in [0, 1]");
  for (int n : {opt.train_pairs, opt.val_pairs, opt.rl_prompts, opt.eval_prompts, opt.sft_conversations})
    if (n < 0) fail("data generate", "sizes must be >= 0");
  Rng rng(stream_seed(opt.seed, "prompts"));
  std::set<std::string> seen;
  Pools p;
  const int k = opt.pairs_per_prompt;
  p.eval = draw_prompts(world, opt.eval_prompts, rng, seen);  // first: held out from everything else
  const double c = opt.customer_share;
  p.train = draw_prompts(world, (opt.train_pairs + k - 1) / k, rng, seen, c);
  p.val = draw_prompts(world, (opt.val_pairs + k - 1) / k, rng, seen, c);
  p.rl = draw_prompts(world, opt.rl_prompts, rng, seen, c);
  p.sft = draw_prompts(world, opt.sft_conversations, rng, seen, c);
  return p;
}

std::vector<PreferenceRecord> make_pairs(const SupportWorld& world, AnnotatorPanel& panel,
                                         const std::vector<Prompt>& prompts, int k, int limit, Rng& rng,
                                         const std::string& id_prefix) {
  std::vector<PreferenceRecord> out;
  for (const auto& p : prompts) {
    const auto e = world.expectation(p);
    const auto ideal = world.candidate(p, Variation{});
    std::set<std::pair<std::string, std::string>> used;
    for (int i = 0; i < k && static_cast<int>(out.size()) < limit; ++i) {
      Candidate x, y;
      bool ok = false;
      for (int attempt = 0; attempt < 30 && !ok; ++attempt) {
        x = rng.chance(0.5) ? ideal : world.candidate(p, world.sample_variation(p, rng));
        y = world.candidate(p, world.sample_variation(p, rng));
        // A pair of strings, not std::minmax's pair of references to the two temporaries.
        const std::pair<std::string, std::string> key = std::minmax(x.variation.label(), y.variation.label());
        ok = x.text != y.text && !used.count(key);
        if (ok) used.insert(key);
      }
      if (!ok) continue;
      if (rng.chance(0.5)) std::swap(x, y);
      auto j = panel.judge(e, x.text, y.text);
      PreferenceRecord r;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%05zu", out.size() + 1);
      r.id = id_prefix + buf;
      r.prompt = p.text;
      r.response_a = x.text;
      r.response_b = y.text;
      r.winner = j.winner;
      r.rationale = j.rationale;
      r.prob_a = j.prob_a;
      r.expectation = e;
      r.tags = {{"intent", p.intent},       {"category", p.category}, {"difficulty", p.difficulty},
                {"segment", p.segment},     {"mood", p.mood},         {"variation_a", x.variation.label()},
                {"variation_b", y.variation.label()}};
      out.push_back(std::move(r));
    }
  }
  return out;
}

ojson prompt_tags(const Prompt& p) {
  ojson t;
  t["intent"] = p.intent;
  t["category"] = p.category;
  t["difficulty"] = p.difficulty;
  t["segment"] = p.segment;
  t["mood"] = p.mood;
  return t;
}

std::string pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * x);
  return b;
}

std::string fmt_double(double x) {
  std::ostringstream o;
  o << x;
  return o.str();
}

// The card's paragraph on prompts written the way customers write (difficulty "customer").
std::string customer_speech_markdown(const GeneratedDataset& ds, const GenerateOptions& opt) {
  if (opt.customer_share <= 0) return "";
  size_t n = 0, total = 0;
  for (const auto* split : {&ds.train_prompts, &ds.val_prompts, &ds.rl_prompts, &ds.sft_prompts})
    for (const auto& p : *split) total++, n += p.difficulty == "customer";
  std::ostringstream o;
  o << "**Customer speech.** " << n << " of the " << total << " training, validation, RL and SFT prompts ("
    << fmt_double(100.0 * n / std::max<size_t>(1, total)) << "%; share " << fmt_double(opt.customer_share)
    << ") are written the way customers write (`data/customer_speech.hpp`, difficulty `customer`): one of the "
    << "training phrasings of the intent (indirect, symptom, story, terse, non-native, slang, typo and more, "
    << "written by hand; the validation phrasings that the guardrail is calibrated on are never used here), "
    << "greetings, background, asides, signatures and quoted messages around it, and typing noise (typos, "
    << "lowercase, dropped apostrophes, texting abbreviations, emoji). The eval prompts stay template prompts: "
    << "they are the in-template evaluation set; the hand-written tickets of `data/eval_ood/` are the other.\n\n";
  return o.str();
}

std::string dataset_card(const GeneratedDataset& ds, const GenerateOptions& opt) {
  std::ostringstream o;
  size_t a = 0, b = 0, tie = 0;
  for (const auto* split : {&ds.train, &ds.val})
    for (const auto& r : *split) (r.winner == "a" ? a : r.winner == "b" ? b : tie)++;
  const size_t total = a + b + tie;
  o << "# Synthetic Northwind Gear support preference data\n\n"
    << "Generated by `supportrl data generate --out-dir <dir> --seed " << opt.seed
    << " --pairs-per-prompt " << opt.pairs_per_prompt << " --noise " << fmt_double(opt.noise)
    << (opt.sft_answers == "agent" ? "" : " --sft-answers " + opt.sft_answers)
    << (opt.customer_share != GenerateOptions{}.customer_share ? " --customer-share " + fmt_double(opt.customer_share) : "")
    << "` (annotators: "
    << opt.annotators << "). Every prompt, answer and label is synthetic and written by this project "
    << "(src/data/support_world.cpp, src/data/annotator_panel.cpp); names, order numbers, emails and amounts are "
    << "made up. Regenerating with the same flags gives byte-identical files.\n\n";
  o << "## Files\n\n| file | lines | what |\n|---|---|---|\n"
    << "| `support_preference_train.jsonl` | " << ds.train.size() << " | preference pairs, " << ds.train_prompts.size()
    << " prompts |\n"
    << "| `support_preference_val.jsonl` | " << ds.val.size() << " | preference pairs, " << ds.val_prompts.size()
    << " prompts |\n"
    << "| `support_prompts.jsonl` | " << ds.rl_prompts.size() << " | prompts only, for RL: `{\"prompt\",\"tags\"}` |\n"
    << "| `support_eval_prompts.jsonl` | " << ds.eval_prompts.size()
    << " | held-out prompts (incl. adversarial), disjoint from all other files |\n"
    << "| `support_sft.jsonl` | " << ds.sft.size() << " | `{\"messages\":[user, assistant],\"tags\"}` "
    << (opt.sft_answers == "ideal" ? "with the ideal answer"
                                   : "with a historical agent's answer of mixed quality (`tags.variation`)")
    << " |\n\n";
  o << "Preference line: `{\"id\",\"prompt\",\"response_a\",\"response_b\",\"winner\":\"a\"|\"b\"|\"tie\",\"tags\":{\"intent\","
    << "\"category\",\"difficulty\",\"segment\",\"mood\",\"variation_a\",\"variation_b\"},\"rationale\",\"source\":"
    << "\"synthetic\",\"annotator\":\"panel-" << opt.seed << "\"}`. `variation_*` names the axes on which an answer "
    << "differs from the ideal one (`ideal`, or e.g. `tone=rude,accuracy=wrong`).\n\n"
    << "Disjointness: prompts are compared after lowercasing and collapsing every run of non-alphanumeric "
    << "characters to one space; no normalized prompt appears in two files (train, val, RL, eval, SFT). They share "
    << "templates, so the eval split measures generalisation across entities and wording combinations, not across "
    << "unseen templates.\n\n";
  o << "## Labels\n\n"
    << "| | count | share |\n|---|---|---|\n"
    << "| a wins | " << a << " | " << pct(total ? double(a) / total : 0) << " |\n"
    << "| b wins | " << b << " | " << pct(total ? double(b) / total : 0) << " |\n"
    << "| tie | " << tie << " | " << pct(total ? double(tie) / total : 0) << " |\n\n"
    << "**Panel.** " << opt.annotators << " simulated annotators; each scores an answer with a text rubric "
    << "(resolves the intent, correct against the knowledge base, safety and escalation, tone and brand voice, "
    << "concision; weights drawn log-normally around 0.30/0.22/0.28/0.12/0.08) plus a mild bonus for longer "
    << "answers. P(a beats b) is the mean over annotators of sigmoid((s_a - s_b) / T) with noise T = "
    << fmt_double(opt.noise) << "; a label is one draw of it, `tie` when the mean score difference is below "
    << PanelOptions{}.tie_margin << ".\n\n"
    << "**Agreement ceiling** (train + val, non-tie labels): the expected agreement of an independent relabelling "
    << "with the same probabilities, mean of p^2 + (1-p)^2 = **" << pct(ds.fresh.ceiling) << "** over "
    << ds.fresh.labelled << " pairs. Measured: the same panel with a fresh noise stream agrees with the labels on "
    << pct(ds.resample.agreement) << " of " << ds.resample.compared << " pairs; a fresh panel (seed "
    << opt.seed + 1 << ": other annotators, other noise) agrees on **" << pct(ds.fresh.agreement) << "** of "
    << ds.fresh.compared << " pairs. A reward model trained on these labels cannot be expected to beat the "
    << "ceiling on held-out pairs.\n\n";
  // Per intent and split.
  std::map<std::string, std::array<size_t, 5>> counts;
  for (const auto& i : intents()) counts[i.name] = {0, 0, 0, 0, 0};
  for (const auto& r : ds.train) counts[r.tags[0].second][0]++;
  for (const auto& r : ds.val) counts[r.tags[0].second][1]++;
  for (const auto& p : ds.rl_prompts) counts[p.intent][2]++;
  for (const auto& p : ds.eval_prompts) counts[p.intent][3]++;
  for (const auto& p : ds.sft_prompts) counts[p.intent][4]++;
  if (opt.sft_answers == "agent" && !ds.sft.empty()) {
    // How far the SFT transcripts sit from the ideal, axis by axis: the headroom preference learning has.
    std::map<std::string, int> axis_off;
    int ideal = 0;
    for (const auto& label : ds.sft_variations) {
      if (label == "ideal") ++ideal;
      std::stringstream ss(label);
      for (std::string part; std::getline(ss, part, ',');)
        if (part != "ideal") axis_off[part]++;
    }
    o << "## SFT replies\n\nHistorical agent answers: each axis drawn independently (tone empathetic/neutral/curt/"
      << "rude 30/45/20/5%, completeness full/partial/none 40/50/10%, wrong facts 15% where the answer states facts, "
      << "unsafe 10% of adversarial prompts, over-refusal 3% of safe ones, off-brand 30%, verbosity normal/concise/"
      << "verbose 50/35/15%). Ideal answers: " << ideal << " of " << ds.sft.size() << ".\n\n| axis=value | replies |\n|---|---|\n";
    for (const auto& [k, n] : axis_off) o << "| " << k << " | " << n << " |\n";
    o << "\n";
  }
  o << "## Counts per intent\n\n| intent | category | adversarial | train pairs | val pairs | RL prompts | eval prompts "
       "| SFT |\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& i : intents()) {
    const auto& c = counts[i.name];
    o << "| " << i.name << " | " << i.category << " | " << (i.adversarial ? "yes" : "no") << " | " << c[0] << " | "
      << c[1] << " | " << c[2] << " | " << c[3] << " | " << c[4] << " |\n";
  }
  o << "\nPrompts vary in template, entities (names, order ids like A12345, products, amounts, days since "
    << "delivery, emails), difficulty (easy: the bare request; medium: plus business context; hard: context, "
    << "distractors, lowercase; customer: written the way customers write, below), customer segment (smb, "
    << "enterprise) and mood. Candidate answers vary from the "
    << "ideal along tone (empathetic, neutral, curt, rude), completeness (full, partial, none), accuracy (correct, "
    << "wrong: facts from a false policy such as a 60-day refund window), safety (appropriate; unsafe: asks for a "
    << "password or card number, or complies with an unsafe request; over_refusal: refuses a safe request), brand "
    << "voice and verbosity.\n\n";
  o << customer_speech_markdown(ds, opt);
  o << knowledge_base_markdown(northwind_policy());
  return o.str();
}

}  // namespace

GeneratedDataset build_dataset(const GenerateOptions& opt) {
  SupportWorld world;
  GeneratedDataset ds;
  auto pools = draw_pools(world, opt);
  ds.eval_prompts = std::move(pools.eval);
  ds.train_prompts = std::move(pools.train);
  ds.val_prompts = std::move(pools.val);
  ds.rl_prompts = std::move(pools.rl);
  ds.sft_prompts = std::move(pools.sft);

  AnnotatorPanel panel(world, panel_options(opt, opt.seed));
  Rng pair_rng(stream_seed(opt.seed, "pairs"));
  const std::string prefix = "syn-s" + std::to_string(opt.seed) + "-";
  ds.train = make_pairs(world, panel, ds.train_prompts, opt.pairs_per_prompt, opt.train_pairs, pair_rng, prefix + "train-");
  ds.val = make_pairs(world, panel, ds.val_prompts, opt.pairs_per_prompt, opt.val_pairs, pair_rng, prefix + "val-");
  if (opt.sft_answers != "agent" && opt.sft_answers != "ideal")
    fail("sft_answers", "must be agent or ideal, got '" + opt.sft_answers + "'");
  Rng sft_rng(stream_seed(opt.seed, "sft"));
  for (const auto& p : ds.sft_prompts) {
    const Variation v = opt.sft_answers == "ideal" ? Variation{} : world.agent_variation(p, sft_rng);
    ds.sft.push_back({{"user", p.text}, {"assistant", world.candidate(p, v).text}});
    ds.sft_variations.push_back(v.label());
  }

  std::vector<LabelledPair> labelled;
  for (const auto* split : {&ds.train, &ds.val})
    for (const auto& r : *split) labelled.push_back({r.expectation, r.response_a, r.response_b, {r.winner, r.prob_a, ""}});
  AnnotatorPanel fresh(world, panel_options(opt, opt.seed + 1));
  ds.fresh = measure_agreement(labelled, fresh);
  AnnotatorPanel resample = panel;
  resample.reseed_noise(opt.seed);
  ds.resample = measure_agreement(labelled, resample);
  return ds;
}

std::map<std::string, std::string> render_dataset_files(const GeneratedDataset& ds, const GenerateOptions& opt) {
  std::map<std::string, std::string> files;
  const std::string annotator = "panel-" + std::to_string(opt.seed);
  auto pairs = [&](const std::vector<PreferenceRecord>& v) {
    std::string s;
    for (const auto& r : v) {
      ojson j;
      j["id"] = r.id;
      j["prompt"] = r.prompt;
      j["response_a"] = r.response_a;
      j["response_b"] = r.response_b;
      j["winner"] = r.winner;
      ojson tags = ojson::object();
      for (const auto& [k, val] : r.tags) tags[k] = val;
      j["tags"] = tags;
      j["rationale"] = r.rationale;
      j["source"] = "synthetic";
      j["annotator"] = annotator;
      s += j.dump() + "\n";
    }
    return s;
  };
  auto prompts = [&](const std::vector<Prompt>& v) {
    std::string s;
    for (const auto& p : v) {
      ojson j;
      j["prompt"] = p.text;
      j["tags"] = prompt_tags(p);
      s += j.dump() + "\n";
    }
    return s;
  };
  files["support_preference_train.jsonl"] = pairs(ds.train);
  files["support_preference_val.jsonl"] = pairs(ds.val);
  files["support_prompts.jsonl"] = prompts(ds.rl_prompts);
  files["support_eval_prompts.jsonl"] = prompts(ds.eval_prompts);
  std::string sft;
  for (size_t i = 0; i < ds.sft.size(); ++i) {
    ojson msgs = ojson::array();
    for (const auto& m : ds.sft[i]) msgs.push_back(ojson{{"role", m.role}, {"content", m.content}});
    ojson j;
    j["messages"] = msgs;
    ojson tags = prompt_tags(ds.sft_prompts[i]);
    tags["variation"] = ds.sft_variations[i];
    j["tags"] = tags;
    sft += j.dump() + "\n";
  }
  files["support_sft.jsonl"] = sft;
  files["README.md"] = dataset_card(ds, opt);
  return files;
}

GeneratedDataset generate_dataset(const GenerateOptions& opt) {
  auto ds = build_dataset(opt);
  fs::make_dirs(opt.out_dir);
  for (const auto& [name, bytes] : render_dataset_files(ds, opt)) fs::write_file_atomic(opt.out_dir + "/" + name, bytes);
  return ds;
}

AnnotatorPanel dataset_panel(const GenerateOptions& opt) {
  SupportWorld world;
  AnnotatorPanel panel(world, panel_options(opt, opt.seed));
  auto pools = draw_pools(world, opt);
  for (const auto* v : {&pools.eval, &pools.train, &pools.val, &pools.rl, &pools.sft})
    for (const auto& p : *v) panel.add_known_prompt(p);
  return panel;
}

}  // namespace srl::data
