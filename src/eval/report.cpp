// The comparison report (see report.hpp): load every input into plain structs (report_readers), build
// one Document from them (report_sections, report_charts, report_analysis), render it as HTML and
// Markdown and the summary from the same structs (report_writers).
#include "eval/report.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "eval/report_readers.hpp"
#include "eval/report_sections.hpp"
#include "eval/report_writers.hpp"

namespace srl::eval {

nlohmann::json build_summary(const ReportInput& in) { return report::summary_json(report::load(in)); }

void write_report(const ReportInput& in) {
  if (in.out_dir.empty()) fail("report", "no output directory given");
  const report::Loaded L = report::load(in);
  const report::Document doc = report::build_document(L);
  const std::string html = report::render_html(doc), md = report::render_markdown(doc);
  const nlohmann::json s = report::summary_json(L);
  fs::make_dirs(in.out_dir);
  fs::write_file_atomic(report::join_path(in.out_dir, "index.html"), html);
  fs::write_file_atomic(report::join_path(in.out_dir, "report.md"), md);
  fs::write_file_atomic(report::join_path(in.out_dir, "summary.json"), s.dump(2) + "\n");
  spdlog::info("report: wrote {}/index.html ({} charts), report.md, summary.json", in.out_dir, doc.figures());
}

}  // namespace srl::eval
