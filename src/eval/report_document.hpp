// The report as a document (private to src/eval/report_*.cpp): headings, paragraphs, bullets, quotes,
// preformatted text, tables and figures, all plain text. The sections build one Document; the writers
// (report_writers.hpp) render it as HTML and as Markdown, so the two never disagree.
#pragma once
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace srl::eval::report {

struct Heading {
  int level = 2;   // 1: the title; 2: a numbered section; 3: a subsection
  std::string id;  // HTML anchor (level 2), a fixed ASCII word: not escaped
  std::string text;
};
struct Paragraph {
  std::string text;
  std::string cls;  // HTML class: "na" (not run / not available), "note" (small print), "" (body text)
};
struct Bullets {
  std::vector<std::string> items;
};
struct Quote {  // a prompt, shown as a block quote
  std::string text;
};
struct Preformatted {
  std::string text;
};
struct Table {
  std::string cls;  // HTML class ("results", "transcripts"; "" none)
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
};
struct Figure {  // the SVG goes into the HTML only; Markdown gets the caption
  std::string svg;
  std::string caption;
};
struct Nav {  // HTML only: links to the level-2 headings
  std::vector<std::pair<std::string, std::string>> links;  // (anchor id, text)
};
using Block = std::variant<Heading, Paragraph, Bullets, Quote, Preformatted, Table, Figure, Nav>;

class Document {
 public:
  std::string title;  // the HTML <title>
  std::vector<Block> blocks;

  void h1(const std::string& text) { blocks.push_back(Heading{1, "", text}); }
  void h2(const std::string& id, const std::string& text) { blocks.push_back(Heading{2, id, text}); }
  void h3(const std::string& text) { blocks.push_back(Heading{3, "", text}); }
  void p(const std::string& text, const std::string& cls = "") { blocks.push_back(Paragraph{text, cls}); }
  // "<what>: not run." — an optional input that was not given.
  void not_run(const std::string& what) { p(what + ": not run.", "na"); }
  // "<what>: not available." — an input that was given but lacks what the report reads.
  void not_available(const std::string& what) { p(what + ": not available.", "na"); }
  void bullets(std::vector<std::string> items);  // nothing for no items
  void quote(const std::string& text) { blocks.push_back(Quote{text}); }
  void pre(const std::string& text) { blocks.push_back(Preformatted{text}); }
  void table(Table t) { blocks.push_back(std::move(t)); }
  void figure(const std::string& svg, const std::string& caption) { blocks.push_back(Figure{svg, caption}); }
  void nav(std::vector<std::pair<std::string, std::string>> links) { blocks.push_back(Nav{std::move(links)}); }

  size_t figures() const;
};

}  // namespace srl::eval::report
