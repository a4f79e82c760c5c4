// The report's sections (private to src/eval/report_*.cpp): each appends its headings, prose, tables
// and figures to the Document from the loaded inputs. Section order and numbering: build_document.
#pragma once
#include <string>
#include <vector>

#include "eval/report_document.hpp"
#include "eval/report_readers.hpp"

namespace srl::eval::report {

// The whole report: title, introduction, navigation and sections 1-6 (docs/report_format.md).
Document build_document(const Loaded& L);

// Section 1's subsections beyond the templates and on the guardrail (report_beyond.cpp).
void beyond_templates_section(Document& d, const Loaded& L);
// 2. Charts (report_charts.cpp).
void charts_section(Document& d, const Loaded& L);
// 3. Comparative analysis (report_analysis.cpp).
void analysis_section(Document& d, const Loaded& L);
// Section 5's refusal-behaviour bullets, one per compared run (report_analysis.cpp).
std::vector<std::string> refusal_behaviour(const Loaded& L);

}  // namespace srl::eval::report
