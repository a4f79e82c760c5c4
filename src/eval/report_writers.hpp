// The report's writers (private to src/eval/report_*.cpp): the Document as one self-contained HTML page
// and as Markdown, and summary.json from the loaded inputs. Nothing here decides what is said.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "eval/report_document.hpp"
#include "eval/report_readers.hpp"

namespace srl::eval::report {

// <!DOCTYPE html> ... </html>: inline CSS, the SVG figures inline, no scripts, every text escaped.
std::string render_html(const Document& d);
// The same blocks as Markdown; a figure becomes its caption and a pointer to index.html.
std::string render_markdown(const Document& d);
// summary.json, "format": "srl-report-summary-v1" (docs/report_format.md).
nlohmann::json summary_json(const Loaded& L);

}  // namespace srl::eval::report
