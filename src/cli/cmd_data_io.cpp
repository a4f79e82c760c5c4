// `supportrl data validate | import | export`: check preference JSONL, bring public data sets into the
// schema (docs/data_format.md) and write TRL's format. Every bad input ends as one `FILE:LINE` line and
// exit code 2; outputs are written atomically.
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "data/anonymize.hpp"
#include "data/importers.hpp"
#include "data/preference.hpp"

namespace srl::cli {

namespace {

std::string join_counts(const std::map<std::string, int64_t>& counts) {
  std::ostringstream s;
  bool first = true;
  for (const auto& [k, v] : counts) {
    s << (first ? "" : ", ") << k << " " << v;
    first = false;
  }
  return s.str();
}

data::OnInvalid parse_on_invalid(const std::string& s) {
  return s == "skip" ? data::OnInvalid::Skip : data::OnInvalid::Error;
}

void register_validate(CLI::App& data) {
  struct Flags {
    std::vector<std::string> files;
    size_t max_text_bytes = data::ValidationLimits{}.max_text_bytes;
  };
  auto f = std::make_shared<Flags>();
  auto* c = data.add_subcommand("validate", "Check preference JSONL files against the schema (docs/data_format.md)");
  c->add_option("files", f->files, "JSONL files")->required();
  c->add_option("--max-text-bytes", f->max_text_bytes, "longest allowed text field, in bytes")->capture_default_str();
  c->callback([f] {
    data::ValidationLimits lim;
    lim.max_text_bytes = f->max_text_bytes;
    int64_t lines = 0, valid = 0, invalid = 0, unreadable = 0;
    std::map<std::string, int64_t> counts;
    std::vector<std::string> per_file;
    for (const auto& path : f->files) {
      data::ValidationReport r;
      try {
        r = data::validate_file(path, lim);
      } catch (const Error& e) {  // missing, a directory, unreadable
        std::cout << e.what() << "\n";
        per_file.push_back(path + ": unreadable");
        ++unreadable;
        continue;
      }
      for (const auto& p : r.problems) {
        if (p.line > 0) std::cout << path << ":" << p.line << ": " << p.reason << ": " << p.message << "\n";
        else std::cout << path << ": " << p.reason << ": " << p.message << "\n";
      }
      for (const auto& [k, v] : r.counts) counts[k] += v;
      lines += r.lines;
      valid += r.valid;
      invalid += r.invalid;
      per_file.push_back(path + ": " + std::to_string(r.lines) + " lines, " + std::to_string(r.valid) + " valid, " +
                         std::to_string(r.invalid) + " invalid" + (r.ok() ? "" : " (" + join_counts(r.counts) + ")"));
    }
    if (!counts.empty() || unreadable) std::cout << "\n";
    for (const auto& s : per_file) std::cout << s << "\n";
    if (!counts.empty()) {
      std::cout << "problems by reason:\n";
      for (const auto& [k, v] : counts) std::cout << "  " << k << ": " << v << "\n";
    }
    std::cout << "total: " << f->files.size() << " file(s), " << lines << " lines, " << valid << " valid, " << invalid
              << " invalid";
    if (unreadable) std::cout << ", " << unreadable << " unreadable";
    std::cout << "\n" << std::flush;
    const bool any_file_problem = counts.count(data::reason::kEmptyFile) > 0;
    if (invalid || unreadable || any_file_problem)
      fail("data validate", std::to_string(invalid) + " invalid line(s), " + std::to_string(unreadable) +
                                " unreadable file(s)" + (any_file_problem ? ", empty file(s)" : ""));
  });
}

void register_import(CLI::App& data) {
  struct Flags {
    std::string format, in, out, prompts_out, on_invalid = "error", source;
    std::string intent = "unknown", difficulty = "unknown", segment = "smb";
    int64_t seed = 0;
    bool no_anonymize = false;
    size_t max_text_bytes = data::ValidationLimits{}.max_text_bytes;
  };
  auto f = std::make_shared<Flags>();
  auto* c = data.add_subcommand("import", "Convert HH-RLHF, TRL preference JSONL or the Bitext CSV into project data");
  c->add_option("--format", f->format, "hh | trl | bitext")->required()->check(CLI::IsMember({"hh", "trl", "bitext"}));
  c->add_option("input", f->in, "input file")->required();
  c->add_option("--out", f->out, "output JSONL (pairs; SFT conversations for bitext)")->required();
  c->add_option("--prompts-out", f->prompts_out, "bitext only: also write {\"prompt\",\"tags\"} lines here");
  c->add_option("--seed", f->seed, "decides the chosen reply's position (a or b) per line")->capture_default_str();
  c->add_flag("--no-anonymize", f->no_anonymize, "keep text as is (default: replace personal data by placeholders)");
  c->add_option("--on-invalid", f->on_invalid, "error: stop at the first bad line; skip: report, count and go on")
      ->check(CLI::IsMember({"error", "skip"}))
      ->capture_default_str();
  c->add_option("--intent", f->intent, "tags.intent for pairs whose input has none")->capture_default_str();
  c->add_option("--difficulty", f->difficulty, "tags.difficulty for pairs whose input has none")->capture_default_str();
  c->add_option("--segment", f->segment, "tags.segment for pairs whose input has none")
      ->check(CLI::IsMember({"smb", "enterprise"}))
      ->capture_default_str();
  c->add_option("--source", f->source, "\"source\" of imported pairs (default: the format name)");
  c->add_option("--max-text-bytes", f->max_text_bytes, "longest allowed text field, in bytes")->capture_default_str();
  c->callback([f] {
    if (!f->prompts_out.empty() && f->format != "bitext") fail("--prompts-out", "only with --format bitext");
    data::ImportOptions opt;
    opt.seed = static_cast<uint64_t>(f->seed);
    opt.on_invalid = parse_on_invalid(f->on_invalid);
    opt.default_tags = {{"intent", f->intent}, {"difficulty", f->difficulty}, {"segment", f->segment}};
    opt.source = f->source;
    opt.limits.max_text_bytes = f->max_text_bytes;
    data::AnonymizeStats anon;
    if (!f->no_anonymize) opt.transform = [&anon](std::string_view s) { return data::anonymize(s, &anon); };

    data::ImportStats st;
    std::string what;
    if (f->format == "bitext") {
      auto ex = data::import_bitext(f->in, opt, &st);
      if (ex.empty()) fail(f->in, "no valid rows (" + std::to_string(st.skipped) + " skipped)");
      std::vector<nlohmann::json> rows, prompts;
      for (const auto& e : ex) {
        rows.push_back(e.to_json());
        if (!f->prompts_out.empty()) prompts.push_back(e.prompt_json());
      }
      data::write_jsonl(f->out, rows);
      if (!f->prompts_out.empty()) data::write_jsonl(f->prompts_out, prompts);
      what = std::to_string(ex.size()) + " conversations";
      std::cout << "imported " << what << " from " << f->in << " to " << f->out << "\n";
      if (!f->prompts_out.empty()) std::cout << "wrote " << prompts.size() << " prompts to " << f->prompts_out << "\n";
    } else {
      auto pairs = f->format == "hh" ? data::import_hh(f->in, opt, &st) : data::import_trl(f->in, opt, &st);
      if (pairs.empty()) fail(f->in, "no valid records (" + std::to_string(st.skipped) + " skipped)");
      data::write_pairs(f->out, pairs);
      std::cout << "imported " << pairs.size() << " pairs from " << f->in << " to " << f->out << " (chosen as a: "
                << st.chosen_a << ", as b: " << st.imported - st.chosen_a << ", seed " << f->seed << ")\n";
    }
    if (st.skipped)
      std::cerr << "skipped " << st.skipped << " of " << st.lines << " records (" << join_counts(st.skipped_by_reason)
                << "); each is listed above\n";
    if (f->no_anonymize) std::cout << "anonymization: off (--no-anonymize)\n";
    else if (anon.counts.empty()) std::cout << "anonymized: nothing found\n";
    else std::cout << "anonymized: " << join_counts(anon.counts) << "\n";
  });
}

void register_export(CLI::App& data) {
  struct Flags {
    std::string format, in, out, on_invalid = "error";
  };
  auto f = std::make_shared<Flags>();
  auto* c = data.add_subcommand("export", "Write preference pairs in another tool's format");
  c->add_option("--format", f->format, "trl: {\"prompt\",\"chosen\",\"rejected\"} per line")
      ->required()
      ->check(CLI::IsMember({"trl"}));
  c->add_option("input", f->in, "preference JSONL")->required();
  c->add_option("--out", f->out, "output JSONL")->required();
  c->add_option("--on-invalid", f->on_invalid, "error | skip")->check(CLI::IsMember({"error", "skip"}))->capture_default_str();
  c->callback([f] {
    data::LoadStats ls;
    auto pairs = data::load_pairs(f->in, parse_on_invalid(f->on_invalid), &ls);
    data::ExportStats es;
    auto rows = data::to_trl(pairs, &es);
    if (es.ties_skipped) std::cerr << "skipped " << es.ties_skipped << " tie(s): TRL pairs need a chosen and a rejected reply\n";
    if (ls.skipped)
      std::cerr << "skipped " << ls.skipped << " invalid line(s) (" << join_counts(ls.skipped_by_reason) << ")\n";
    if (rows.empty()) fail(f->in, "nothing to export (" + std::to_string(es.ties_skipped) + " ties, " +
                                      std::to_string(ls.skipped) + " invalid lines)");
    data::write_jsonl(f->out, rows);
    std::cout << "exported " << es.exported << " pairs to " << f->out << "\n";
  });
}

}  // namespace

void register_data_io(CLI::App& data) {
  register_validate(data);
  register_import(data);
  register_export(data);
}

}  // namespace srl::cli
