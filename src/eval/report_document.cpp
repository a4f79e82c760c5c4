#include "eval/report_document.hpp"

#include <algorithm>

namespace srl::eval::report {

void Document::bullets(std::vector<std::string> items) {
  if (!items.empty()) blocks.push_back(Bullets{std::move(items)});
}

size_t Document::figures() const {
  return static_cast<size_t>(
      std::count_if(blocks.begin(), blocks.end(), [](const Block& b) { return std::holds_alternative<Figure>(b); }));
}

}  // namespace srl::eval::report
