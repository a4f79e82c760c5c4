// Inline-SVG charts (see svg.hpp). One fixed geometry: a 640x360 canvas, the plot on the left, the
// legend on the right. Coordinates are printed with one decimal, tick labels with as many decimals as
// the tick step needs.
#include "eval/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/error.hpp"
#include "core/markup.hpp"

namespace srl::eval::svg {
namespace {

constexpr double kWidth = 640, kHeight = 360;
constexpr double kLeft = 64, kRight = 460, kTop = 52, kBottom = 296;  // the plot area
constexpr double kLegendX = 474;

std::string px(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string fixed(double v, int decimals) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  std::string s = b;
  // "-0.00" reads as a bug; a value that rounds to zero is zero.
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

// Legend names longer than this are cut (at a UTF-8 character boundary) so the legend stays on the canvas.
std::string shorten(const std::string& s, size_t max_bytes = 24) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";  // U+2026 ellipsis
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// The smallest of 1, 2, 5 times a power of ten that is >= raw (> 0).
double nice_step(double raw) {
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10) * mag;
}

// Ticks at a "nice" step (1, 2 or 5 times a power of ten) covering [lo, hi].
struct Ticks {
  std::vector<double> values;
  double lo = 0, hi = 1;
  int decimals = 0;
};
Ticks nice_ticks(Range r, std::optional<double> want_lo, std::optional<double> want_hi) {
  if (want_lo) r.add(*want_lo);
  if (want_hi) r.add(*want_hi);
  if (r.empty()) r.lo = 0, r.hi = 1;
  if (r.hi - r.lo < 1e-12) {
    const double pad = std::abs(r.lo) > 1e-12 ? std::abs(r.lo) * 0.1 : 0.5;
    r.lo -= pad;
    r.hi += pad;
  }
  const double step = nice_step((r.hi - r.lo) / 5.0);
  Ticks t;
  t.lo = std::floor(r.lo / step + 1e-9) * step;
  t.hi = std::ceil(r.hi / step - 1e-9) * step;
  t.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  for (double v = t.lo; v <= t.hi + step * 1e-6; v += step) t.values.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

struct Frame {
  Ticks xt, yt;
  double X(double v) const { return kLeft + (v - xt.lo) / (xt.hi - xt.lo) * (kRight - kLeft); }
  double Y(double v) const { return kBottom - (v - yt.lo) / (yt.hi - yt.lo) * (kBottom - kTop); }
};

void open_svg(std::ostringstream& s, const Axes& a) {
  s << "<svg class=\"chart\" width=\"" << px(kWidth) << "\" height=\"" << px(kHeight) << "\" viewBox=\"0 0 "
    << px(kWidth) << " " << px(kHeight) << "\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s << "<title>" << xml_escape(a.title) << "</title>\n";
  s << "<rect width=\"" << px(kWidth) << "\" height=\"" << px(kHeight) << "\" fill=\"white\"/>\n";
  s << "<text x=\"" << px(kWidth / 2) << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" << xml_escape(a.title)
    << "</text>\n";
  if (!a.subtitle.empty())
    s << "<text x=\"" << px(kWidth / 2) << "\" y=\"37\" text-anchor=\"middle\" fill=\"#555555\">" << xml_escape(a.subtitle)
      << "</text>\n";
}

void draw_axes(std::ostringstream& s, const Frame& f, const Axes& a, bool x_ticks = true) {
  for (double v : f.yt.values) {
    s << "<line x1=\"" << px(kLeft) << "\" y1=\"" << px(f.Y(v)) << "\" x2=\"" << px(kRight) << "\" y2=\"" << px(f.Y(v))
      << "\" stroke=\"#eeeeee\"/>\n";
    s << "<text x=\"" << px(kLeft - 6) << "\" y=\"" << px(f.Y(v) + 4) << "\" text-anchor=\"end\">"
      << fixed(v, f.yt.decimals) << "</text>\n";
  }
  if (x_ticks)
    for (double v : f.xt.values) {
      s << "<line x1=\"" << px(f.X(v)) << "\" y1=\"" << px(kBottom) << "\" x2=\"" << px(f.X(v)) << "\" y2=\""
        << px(kBottom + 4) << "\" stroke=\"black\"/>\n";
      s << "<text x=\"" << px(f.X(v)) << "\" y=\"" << px(kBottom + 16) << "\" text-anchor=\"middle\">"
        << fixed(v, f.xt.decimals) << "</text>\n";
    }
  s << "<line x1=\"" << px(kLeft) << "\" y1=\"" << px(kBottom) << "\" x2=\"" << px(kRight) << "\" y2=\"" << px(kBottom)
    << "\" stroke=\"black\"/>\n";
  s << "<line x1=\"" << px(kLeft) << "\" y1=\"" << px(kTop) << "\" x2=\"" << px(kLeft) << "\" y2=\"" << px(kBottom)
    << "\" stroke=\"black\"/>\n";
  if (a.reference_y && *a.reference_y >= f.yt.lo && *a.reference_y <= f.yt.hi)
    s << "<line x1=\"" << px(kLeft) << "\" y1=\"" << px(f.Y(*a.reference_y)) << "\" x2=\"" << px(kRight) << "\" y2=\""
      << px(f.Y(*a.reference_y)) << "\" stroke=\"#888888\" stroke-dasharray=\"5,4\"/>\n";
  s << "<text x=\"" << px((kLeft + kRight) / 2) << "\" y=\"" << px(kBottom + 36) << "\" text-anchor=\"middle\">"
    << xml_escape(a.x_label) << "</text>\n";
  const double ym = (kTop + kBottom) / 2;
  s << "<text x=\"16\" y=\"" << px(ym) << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << px(ym) << ")\">"
    << xml_escape(a.y_label) << "</text>\n";
}

enum class Mark { Line, Box, Dot, Dashed };
void draw_legend(std::ostringstream& s, const std::vector<std::pair<std::string, std::string>>& entries, Mark mark) {
  double y = kTop + 6;
  for (const auto& [name, col] : entries) {
    switch (mark) {
      case Mark::Line:
      case Mark::Dashed:
        s << "<line x1=\"" << px(kLegendX) << "\" y1=\"" << px(y) << "\" x2=\"" << px(kLegendX + 18) << "\" y2=\""
          << px(y) << "\" stroke=\"" << col << "\" stroke-width=\"2\""
          << (mark == Mark::Dashed ? " stroke-dasharray=\"5,4\"" : "") << "/>\n";
        break;
      case Mark::Box:
        s << "<rect x=\"" << px(kLegendX + 3) << "\" y=\"" << px(y - 6) << "\" width=\"12\" height=\"12\" fill=\""
          << col << "\"/>\n";
        break;
      case Mark::Dot:
        s << "<circle cx=\"" << px(kLegendX + 9) << "\" cy=\"" << px(y) << "\" r=\"4\" fill=\"" << col << "\"/>\n";
        break;
    }
    s << "<text x=\"" << px(kLegendX + 24) << "\" y=\"" << px(y + 4) << "\">" << xml_escape(shorten(name)) << "</text>\n";
    y += 18;
  }
}

void no_data(std::ostringstream& s) {
  s << "<text x=\"" << px((kLeft + kRight) / 2) << "\" y=\"" << px((kTop + kBottom) / 2)
    << "\" text-anchor=\"middle\" fill=\"#888888\">no data</text>\n";
}

}  // namespace

const std::string& colour(size_t i) {
  static const std::vector<std::string> palette = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
                                                   "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#79706e"};
  return palette[i % palette.size()];
}

std::string line_chart(const Axes& a, const std::vector<Series>& series) {
  Range xr, yr;
  for (const auto& sr : series) {
    if (sr.x.size() != sr.y.size()) fail_internal("svg::line_chart", "series '" + sr.name + "': x and y sizes differ");
    for (size_t i = 0; i < sr.x.size(); ++i)
      if (std::isfinite(sr.x[i]) && std::isfinite(sr.y[i])) xr.add(sr.x[i]), yr.add(sr.y[i]);
  }
  Frame f{nice_ticks(xr, a.x_min, a.x_max), nice_ticks(yr, a.y_min, a.y_max)};
  std::ostringstream s;
  open_svg(s, a);
  draw_axes(s, f, a);
  if (xr.empty()) no_data(s);
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& sr = series[k];
    const std::string& col = colour(k);
    legend.emplace_back(sr.name, col);
    std::string pts;
    size_t n = 0;
    for (size_t i = 0; i < sr.x.size(); ++i) {
      if (!std::isfinite(sr.x[i]) || !std::isfinite(sr.y[i])) continue;
      pts += (n++ ? " " : "") + px(f.X(sr.x[i])) + "," + px(f.Y(sr.y[i]));
    }
    if (n > 1) s << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\"2\" points=\"" << pts << "\"/>\n";
    // Sparse series (evaluation rows) get markers, so a single point is still visible.
    if (n > 0 && n <= 40)
      for (size_t i = 0; i < sr.x.size(); ++i)
        if (std::isfinite(sr.x[i]) && std::isfinite(sr.y[i]))
          s << "<circle cx=\"" << px(f.X(sr.x[i])) << "\" cy=\"" << px(f.Y(sr.y[i])) << "\" r=\"3\" fill=\"" << col
            << "\"/>\n";
  }
  draw_legend(s, legend, Mark::Line);
  s << "</svg>\n";
  return s.str();
}

std::string scatter_chart(const Axes& a, const std::vector<Point>& points) {
  Range xr, yr;
  for (const auto& p : points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    xr.add(p.x);
    yr.add(p.y);
    if (p.y_lo) yr.add(*p.y_lo);
    if (p.y_hi) yr.add(*p.y_hi);
  }
  Frame f{nice_ticks(xr, a.x_min, a.x_max), nice_ticks(yr, a.y_min, a.y_max)};
  std::ostringstream s;
  open_svg(s, a);
  draw_axes(s, f, a);
  if (xr.empty()) no_data(s);
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t k = 0; k < points.size(); ++k) {
    const auto& p = points[k];
    const std::string& col = colour(k);
    legend.emplace_back(p.label, col);
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    const double cx = f.X(p.x), cy = f.Y(p.y);
    if (p.y_lo && p.y_hi && std::isfinite(*p.y_lo) && std::isfinite(*p.y_hi)) {
      const double y0 = f.Y(*p.y_lo), y1 = f.Y(*p.y_hi);
      s << "<line x1=\"" << px(cx) << "\" y1=\"" << px(y0) << "\" x2=\"" << px(cx) << "\" y2=\"" << px(y1)
        << "\" stroke=\"" << col << "\" stroke-width=\"1.5\"/>\n";
      for (double yy : {y0, y1})
        s << "<line x1=\"" << px(cx - 4) << "\" y1=\"" << px(yy) << "\" x2=\"" << px(cx + 4) << "\" y2=\"" << px(yy)
          << "\" stroke=\"" << col << "\" stroke-width=\"1.5\"/>\n";
    }
    s << "<circle cx=\"" << px(cx) << "\" cy=\"" << px(cy) << "\" r=\"5\" fill=\"" << col << "\"/>\n";
    s << "<text x=\"" << px(cx + 7) << "\" y=\"" << px(cy - 7) << "\" font-size=\"10\">" << xml_escape(shorten(p.label))
      << "</text>\n";
  }
  draw_legend(s, legend, Mark::Dot);
  s << "</svg>\n";
  return s.str();
}

std::string histogram(const Axes& a, const std::vector<Sample>& samples, int bins) {
  if (bins < 1) fail_internal("svg::histogram", "bins must be >= 1");
  Range xr;
  for (const auto& sm : samples)
    for (double v : sm.values) xr.add(v);
  double lo = xr.empty() ? 0 : xr.lo, hi = xr.empty() ? 1 : xr.hi;
  if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
  // About `bins` bins of a nice width, edges at its multiples (so they read off the axis).
  const double width = nice_step((hi - lo) / bins);
  lo = std::floor(lo / width + 1e-9) * width;
  bins = static_cast<int>(std::floor((hi - lo) / width + 1e-9)) + 1;
  hi = lo + bins * width;
  std::vector<std::vector<double>> frac(samples.size(), std::vector<double>(static_cast<size_t>(bins), 0.0));
  Range yr;
  yr.add(0);
  for (size_t k = 0; k < samples.size(); ++k) {
    size_t n = 0;
    for (double v : samples[k].values) n += std::isfinite(v);
    if (n == 0) continue;
    for (double v : samples[k].values) {
      if (!std::isfinite(v)) continue;
      const int b = std::clamp(static_cast<int>(std::floor((v - lo) / width + 1e-9)), 0, bins - 1);
      frac[k][static_cast<size_t>(b)] += 1.0 / static_cast<double>(n);
    }
    for (double p : frac[k]) yr.add(p);
  }
  Range xbox;
  xbox.add(lo);
  xbox.add(hi);
  Frame f{nice_ticks(xbox, a.x_min, a.x_max), nice_ticks(yr, a.y_min, a.y_max)};
  std::ostringstream s;
  open_svg(s, a);
  draw_axes(s, f, a);
  if (xr.empty()) no_data(s);
  std::vector<std::pair<std::string, std::string>> legend;
  const double group_px = (f.X(lo + width) - f.X(lo)) * 0.9;
  const double bar_px = samples.empty() ? 0 : group_px / static_cast<double>(samples.size());
  for (size_t k = 0; k < samples.size(); ++k) {
    const std::string& col = colour(k);
    legend.emplace_back(samples[k].name, col);
    for (int b = 0; b < bins; ++b) {
      const double p = frac[k][static_cast<size_t>(b)];
      if (p <= 0) continue;
      const double x = f.X(lo + b * width) + (f.X(lo + width) - f.X(lo)) * 0.05 + bar_px * static_cast<double>(k);
      s << "<rect x=\"" << px(x) << "\" y=\"" << px(f.Y(p)) << "\" width=\"" << px(bar_px) << "\" height=\""
        << px(f.Y(0) - f.Y(p)) << "\" fill=\"" << col << "\" fill-opacity=\"0.85\"/>\n";
    }
  }
  draw_legend(s, legend, Mark::Box);
  s << "</svg>\n";
  return s.str();
}

std::string reliability_diagram(const Axes& a, const std::vector<CalibrationBin>& bins) {
  Axes ax = a;
  ax.x_min = 0, ax.x_max = 1, ax.y_min = 0, ax.y_max = 1;
  ax.reference_y.reset();
  Frame f{nice_ticks(Range{0, 1}, 0.0, 1.0), nice_ticks(Range{0, 1}, 0.0, 1.0)};
  std::ostringstream s;
  open_svg(s, ax);
  draw_axes(s, f, ax);
  const std::string bar = colour(0), dot = colour(3);
  std::string pts;
  size_t n = 0;
  for (const auto& b : bins) {
    if (b.count == 0 || !b.observed || !b.mean_confidence) continue;
    s << "<rect x=\"" << px(f.X(b.lo)) << "\" y=\"" << px(f.Y(*b.observed)) << "\" width=\""
      << px(f.X(b.hi) - f.X(b.lo)) << "\" height=\"" << px(f.Y(0) - f.Y(*b.observed)) << "\" fill=\"" << bar
      << "\" fill-opacity=\"0.45\" stroke=\"" << bar << "\"/>\n";
    s << "<text x=\"" << px(f.X((b.lo + b.hi) / 2)) << "\" y=\"" << px(f.Y(*b.observed) - 4)
      << "\" text-anchor=\"middle\" font-size=\"9\">n=" << b.count << "</text>\n";
    pts += (n++ ? " " : "") + px(f.X(*b.mean_confidence)) + "," + px(f.Y(*b.observed));
  }
  if (n == 0) no_data(s);
  s << "<line x1=\"" << px(f.X(0)) << "\" y1=\"" << px(f.Y(0)) << "\" x2=\"" << px(f.X(1)) << "\" y2=\"" << px(f.Y(1))
    << "\" stroke=\"#555555\" stroke-dasharray=\"5,4\"/>\n";
  if (n > 1) s << "<polyline fill=\"none\" stroke=\"" << dot << "\" stroke-width=\"1.5\" points=\"" << pts << "\"/>\n";
  for (const auto& b : bins) {
    if (b.count == 0 || !b.observed || !b.mean_confidence) continue;
    s << "<circle cx=\"" << px(f.X(*b.mean_confidence)) << "\" cy=\"" << px(f.Y(*b.observed)) << "\" r=\"3.5\" fill=\""
      << dot << "\"/>\n";
  }
  draw_legend(s, {{"observed (bars)", bar}, {"bin mean prediction", dot}, {"perfect calibration", "#555555"}},
              Mark::Line);
  s << "</svg>\n";
  return s.str();
}

}  // namespace srl::eval::svg
