// tools/common/charts.cpp: see charts.h.
#include "tools/common/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "kernels/common.h"
#include "tools/common/font.h"

namespace fer::tools {
namespace {

// A "nice" step near x: 1, 2 or 5 times a power of ten (Heckbert's nice numbers, rounded).
double nice_number(double x) {
  const double exponent = std::floor(std::log10(x));
  const double fraction = x / std::pow(10.0, exponent);
  const double nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return nice * std::pow(10.0, exponent);
}

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto ch = [t](uint8_t u, uint8_t v) { return static_cast<uint8_t>(std::lround(u + (v - u) * t)); };
  return Rgb{ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b)};
}

bool finite_point(const Series& s, size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); }

// Pixel mapping of one axis: value v in [lo, hi] onto [p0, p1] (p1 may be < p0 for y).
struct Axis {
  double lo, hi;
  int p0, p1;
  int map(double v) const { return static_cast<int>(std::lround(p0 + (v - lo) / (hi - lo) * (p1 - p0))); }
};

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  FER_CHECK(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: range must be finite, got [" << lo << ", " << hi << "]");
  FER_CHECK(target >= 2, "nice_ticks: target must be >= 2, got " << target);
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {  // one value: widen around it
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_number((hi - lo) / (target - 1));
  const double first = std::floor(lo / step + 1e-9) * step;
  const double last = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  const int n = static_cast<int>(std::lround((last - first) / step));
  for (int i = 0; i <= n; ++i) {
    double t = first + i * step;
    if (std::abs(t) < step * 1e-9) t = 0;  // no "-0" or 1e-17 ticks
    ticks.push_back(t);
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  char buf[64];
  const double a = std::abs(step);
  if (a == 0 || !std::isfinite(a) || a < 1e-4 || std::abs(value) >= 1e7) {
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
  }
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(a) + 1e-9)));
  // A 2.5 x 10^k step (never produced by nice_ticks, but allowed) needs one more decimal.
  if (std::abs(a * std::pow(10.0, decimals) - std::round(a * std::pow(10.0, decimals))) > 1e-6) ++decimals;
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s == "-0" || s.rfind("-0.", 0) == 0) {  // "-0.00" -> "0.00"
    if (s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  }
  return s;
}

Canvas line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, int w, int h) {
  FER_CHECK(w >= 200 && h >= 150, "line_chart: size must be at least 200x150, got " << w << "x" << h);
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const Series& s : series) {
    FER_CHECK(s.x.size() == s.y.size(), "line_chart: series '" << s.label << "' has " << s.x.size() << " x values but "
                                                               << s.y.size() << " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s, i)) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  }
  if (!std::isfinite(xmin)) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }  // no data: empty axes
  const std::vector<double> xt = nice_ticks(xmin, xmax, std::max(2, std::min(11, w / 80)));
  const std::vector<double> yt = nice_ticks(ymin, ymax, std::max(2, std::min(11, h / 60)));
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;

  // Layout: title on top, y label and tick labels on the left, x tick labels and label below.
  int ytick_w = 0;
  for (double v : yt) ytick_w = std::max(ytick_w, Canvas::text_width(format_tick(v, ystep)));
  const int top = title.empty() ? 14 : 40;
  const int left = 10 + (y_label.empty() ? 0 : font::kLineHeight + 8) + ytick_w + 8;
  const int bottom = 12 + font::kLineHeight + (x_label.empty() ? 0 : font::kLineHeight + 10) + 6;
  const int right = 20;
  const Axis ax{xt.front(), xt.back(), left, w - right - 1};
  const Axis ay{yt.front(), yt.back(), h - bottom - 1, top};

  Canvas c(w, h, colors::kWhite);
  if (!title.empty()) c.text((w - Canvas::text_width(title, 2)) / 2, 12, title, colors::kBlack, 2);

  // Grid and ticks.
  for (double v : xt) {
    const int px = ax.map(v);
    c.line(px, ay.p1, px, ay.p0, colors::kGrid);
    c.line(px, ay.p0, px, ay.p0 + 4, colors::kAxis);
    const std::string s = format_tick(v, xstep);
    c.text(px - Canvas::text_width(s) / 2, ay.p0 + 8, s, colors::kAxis);
  }
  for (double v : yt) {
    const int py = ay.map(v);
    c.line(ax.p0, py, ax.p1, py, colors::kGrid);
    c.line(ax.p0 - 4, py, ax.p0, py, colors::kAxis);
    const std::string s = format_tick(v, ystep);
    c.text(ax.p0 - 7 - Canvas::text_width(s), py - font::kGlyphHeight / 2, s, colors::kAxis);
  }
  c.rect(ax.p0, ay.p1, ax.p1 - ax.p0 + 1, ay.p0 - ay.p1 + 1, colors::kAxis);
  if (!x_label.empty())
    c.text((ax.p0 + ax.p1 - Canvas::text_width(x_label)) / 2, h - 6 - font::kGlyphHeight, x_label, colors::kBlack);
  if (!y_label.empty())
    c.text_up(10, (ay.p0 + ay.p1 - Canvas::text_width(y_label)) / 2, y_label, colors::kBlack);

  // Lines, broken at non-finite points; isolated points as dots.
  std::vector<std::pair<int, int>> drawn;  // pixel positions of data points, for legend placement
  for (const Series& s : series) {
    const size_t n = s.x.size();
    for (size_t i = 0; i < n; ++i) {
      if (!finite_point(s, i)) continue;
      const int px = ax.map(s.x[i]), py = ay.map(s.y[i]);
      drawn.emplace_back(px, py);
      const bool next = i + 1 < n && finite_point(s, i + 1);
      const bool prev = i > 0 && finite_point(s, i - 1);
      if (next) {
        const int qx = ax.map(s.x[i + 1]), qy = ay.map(s.y[i + 1]);
        c.line(px, py, qx, qy, s.color, 2);
        for (int k = 1; k < 8; ++k) drawn.emplace_back(px + (qx - px) * k / 8, py + (qy - py) * k / 8);
      }
      if (!next && !prev) c.fill_rect(px - 2, py - 2, 5, 5, s.color);
    }
  }

  // Legend in the plot corner covering the fewest drawn points.
  std::vector<const Series*> entries;
  for (const Series& s : series)
    if (!s.label.empty()) entries.push_back(&s);
  if (!entries.empty()) {
    int label_w = 0;
    for (const Series* s : entries) label_w = std::max(label_w, Canvas::text_width(s->label));
    const int row_h = 14, lw = 8 + 18 + 6 + label_w + 8, lh = 6 + row_h * static_cast<int>(entries.size()) + 2;
    const int inset = 8;
    const std::pair<int, int> corners[] = {{ax.p1 - inset - lw, ay.p1 + inset},   // top-right
                                           {ax.p0 + inset, ay.p1 + inset},        // top-left
                                           {ax.p1 - inset - lw, ay.p0 - inset - lh},  // bottom-right
                                           {ax.p0 + inset, ay.p0 - inset - lh}};  // bottom-left
    int best = 0;
    size_t best_hits = std::numeric_limits<size_t>::max();
    for (int k = 0; k < 4; ++k) {
      const auto [lx, ly] = corners[k];
      const size_t hits = static_cast<size_t>(std::count_if(drawn.begin(), drawn.end(), [&](const auto& p) {
        return p.first >= lx && p.first < lx + lw && p.second >= ly && p.second < ly + lh;
      }));
      if (hits < best_hits) { best_hits = hits; best = k; }
    }
    const auto [lx, ly] = corners[best];
    c.fill_rect(lx, ly, lw, lh, colors::kWhite);
    c.rect(lx, ly, lw, lh, Rgb{170, 170, 170});
    for (size_t i = 0; i < entries.size(); ++i) {
      const int ry = ly + 6 + static_cast<int>(i) * row_h;
      c.line(lx + 8, ry + 3, lx + 8 + 18, ry + 3, entries[i]->color, 3);
      c.text(lx + 8 + 18 + 6, ry, entries[i]->label, colors::kBlack);
    }
  }
  return c;
}

Canvas confusion_matrix_chart(const std::vector<std::vector<int64_t>>& counts,
                              const std::vector<std::string>& class_names, bool normalize_rows,
                              const std::string& title) {
  const int n = static_cast<int>(counts.size());
  FER_CHECK(n >= 1, "confusion_matrix_chart: counts is empty; hint: pass a K x K matrix");
  FER_CHECK(class_names.empty() || static_cast<int>(class_names.size()) == n,
            "confusion_matrix_chart: " << class_names.size() << " class names for a " << n << "x" << n << " matrix");
  int64_t max_count = 0;
  std::vector<int64_t> row_total(static_cast<size_t>(n), 0);
  for (int r = 0; r < n; ++r) {
    FER_CHECK(static_cast<int>(counts[r].size()) == n,
              "confusion_matrix_chart: row " << r << " has " << counts[r].size() << " entries, expected " << n);
    for (int64_t v : counts[r]) {
      FER_CHECK(v >= 0, "confusion_matrix_chart: negative count " << v << " in row " << r);
      max_count = std::max(max_count, v);
      row_total[r] += v;
    }
  }
  std::vector<std::string> names = class_names;
  if (names.empty())
    for (int i = 0; i < n; ++i) names.push_back(std::to_string(i));

  // Layout.
  const int cell = n <= 10 ? 64 : std::max(28, 640 / n);
  int name_w = 0;
  for (const std::string& s : names) name_w = std::max(name_w, Canvas::text_width(s));
  const bool vertical_cols = name_w > cell - 6;
  const std::string row_axis = "True", col_axis = "Predicted";
  const int title_h = title.empty() ? 12 : 40;
  const int left = 12 + font::kGlyphHeight + 10 + name_w + 8;
  const int grid = cell * n;
  const int col_names_h = 8 + (vertical_cols ? name_w : font::kGlyphHeight) + 10;
  const int bar_w = 16, bar_gap = 20;
  std::string max_label = normalize_rows ? "1.0" : std::to_string(max_count);
  const int right = bar_gap + bar_w + 6 + std::max(Canvas::text_width(max_label), Canvas::text_width("0")) + 12;
  int w = left + grid + right;
  w = std::max(w, Canvas::text_width(title, 2) + 24);
  const int h = title_h + grid + col_names_h + font::kGlyphHeight + 12;
  Canvas c(w, h, colors::kWhite);
  const int gx = left, gy = title_h;
  if (!title.empty()) c.text((w - Canvas::text_width(title, 2)) / 2, 12, title, colors::kBlack, 2);

  const Rgb lo{247, 251, 255}, hi{8, 48, 107};  // white -> dark blue ("Blues")
  const bool show_count_line = normalize_rows && cell >= 40;
  for (int r = 0; r < n; ++r) {
    for (int k = 0; k < n; ++k) {
      const int64_t v = counts[r][k];
      double shade;
      std::string line1, line2;
      if (normalize_rows) {
        shade = row_total[r] > 0 ? static_cast<double>(v) / static_cast<double>(row_total[r]) : 0.0;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", shade);
        line1 = row_total[r] > 0 ? buf : "-";
        if (show_count_line) {
          std::ostringstream os;
          os << '(' << v << ')';
          line2 = os.str();
        }
      } else {
        shade = max_count > 0 ? static_cast<double>(v) / static_cast<double>(max_count) : 0.0;
        line1 = std::to_string(v);
      }
      const int x = gx + k * cell, y = gy + r * cell;
      c.fill_rect(x, y, cell, cell, mix(lo, hi, shade));
      const Rgb ink = shade > 0.5 ? colors::kWhite : colors::kBlack;
      const int th = line2.empty() ? font::kGlyphHeight : font::kLineHeight + 2 + font::kGlyphHeight;
      int ty = y + (cell - th) / 2;
      c.text(x + (cell - Canvas::text_width(line1)) / 2, ty, line1, ink);
      if (!line2.empty()) {
        ty += font::kLineHeight + 2;
        c.text(x + (cell - Canvas::text_width(line2)) / 2, ty, line2, ink);
      }
    }
  }
  // Cell borders and the diagonal outlined.
  for (int i = 0; i <= n; ++i) {
    c.line(gx + i * cell, gy, gx + i * cell, gy + grid, Rgb{200, 200, 200});
    c.line(gx, gy + i * cell, gx + grid, gy + i * cell, Rgb{200, 200, 200});
  }
  c.rect(gx, gy, grid + 1, grid + 1, colors::kAxis);

  // Row names (true classes) right-aligned on the left, column names (predicted) below.
  for (int r = 0; r < n; ++r)
    c.text(gx - 8 - Canvas::text_width(names[r]), gy + r * cell + (cell - font::kGlyphHeight) / 2, names[r],
           colors::kBlack);
  for (int k = 0; k < n; ++k) {
    const int cx = gx + k * cell + cell / 2;
    if (vertical_cols) c.text_up(cx - font::kGlyphHeight / 2, gy + grid + 8, names[k], colors::kBlack);
    else c.text(cx - Canvas::text_width(names[k]) / 2, gy + grid + 8, names[k], colors::kBlack);
  }
  c.text(gx + (grid - Canvas::text_width(col_axis)) / 2, gy + grid + col_names_h, col_axis, colors::kAxis);
  c.text_up(12, gy + (grid - Canvas::text_width(row_axis)) / 2, row_axis, colors::kAxis);

  // Colour bar: 1 (or the largest count) at the top, 0 at the bottom.
  const int bx = gx + grid + bar_gap;
  for (int y = 0; y < grid; ++y) c.line(bx, gy + y, bx + bar_w - 1, gy + y, mix(lo, hi, 1.0 - double(y) / (grid - 1)));
  c.rect(bx, gy, bar_w, grid, colors::kAxis);
  c.text(bx + bar_w + 6, gy, max_label, colors::kAxis);
  c.text(bx + bar_w + 6, gy + grid - font::kGlyphHeight, "0", colors::kAxis);
  return c;
}

}  // namespace fer::tools
