// A small inline-SVG chart writer for the comparison report: line charts, labelled scatter plots with
// error whiskers, grouped histograms and reliability diagrams. Each function returns one self-contained
// <svg> element (no scripts, no external references, no xmlns: it is meant to sit inside HTML) with
// axes, ticks, labels, a legend and a fixed palette. All text is XML-escaped; numbers are printed with
// fixed formats, so the same input gives the same bytes. Not a plotting library: four shapes, one size.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace srl::eval::svg {

// The palette (10 colours, Tableau-like); index i wraps around.
const std::string& colour(size_t i);

// Titles, axis labels and optional fixed ranges (the data still widens a range that is too small).
struct Axes {
  std::string title, subtitle, x_label, y_label;
  std::optional<double> x_min, x_max, y_min, y_max;
  std::optional<double> reference_y;  // a dashed horizontal line, e.g. 0.5 for win rates
};

// A named series of (x, y) points; non-finite points are skipped. x and y have equal lengths.
struct Series {
  std::string name;
  std::vector<double> x, y;
};
std::string line_chart(const Axes& a, const std::vector<Series>& series);

// A labelled point with an optional vertical whisker [y_lo, y_hi] (e.g. a 95% interval).
struct Point {
  std::string label;
  double x = 0, y = 0;
  std::optional<double> y_lo, y_hi;
};
std::string scatter_chart(const Axes& a, const std::vector<Point>& points);

// Several named samples binned on common bins of a nice width (1, 2 or 5 times a power of ten, about
// `bins` of them over the data's range); bars side by side per bin, height = the fraction of that sample
// in the bin (so samples of different sizes compare).
struct Sample {
  std::string name;
  std::vector<double> values;
};
std::string histogram(const Axes& a, const std::vector<Sample>& samples, int bins = 12);

// One bin of a reliability table; mean_confidence/observed absent for an empty bin.
struct CalibrationBin {
  double lo = 0, hi = 0;
  int64_t count = 0;
  std::optional<double> mean_confidence, observed;
};
// Predicted (x) against observed (y) on [0, 1]: a bar per non-empty bin, the bins' (mean confidence,
// observed) points joined by a line, counts, and the diagonal of perfect calibration.
std::string reliability_diagram(const Axes& a, const std::vector<CalibrationBin>& bins);

}  // namespace srl::eval::svg
