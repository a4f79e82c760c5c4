// Escaping text for XML and HTML (SVG charts, the HTML report): one definition for every writer.
#pragma once
#include <string>

namespace srl {

// Escapes & < > " ' so the text is safe in XML/HTML text and in quoted attribute values.
std::string xml_escape(const std::string& s);

}  // namespace srl
