// tools/common/charts.h: line charts and confusion-matrix heatmaps drawn on a Canvas.
//
// Charts are plain pictures for people (training curves, confusion matrices in run folders and
// HTML reports); they use the built-in bitmap font and no plotting library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/common/png_canvas.h"

namespace fer::tools {

struct Series {
  std::string label;        // legend text ("" = not in the legend)
  std::vector<double> x, y;  // same length; a NaN or infinite y (or x) leaves a gap in the line
  Rgb color = colors::kBlue;
};

// A line chart with a title, axes with "nice" tick values (1, 2, 5 x 10^k steps), grid lines, axis
// labels and a legend placed in the emptiest corner. Points with no finite neighbour are drawn as
// dots so they stay visible. w >= 200, h >= 150; x.size() != y.size() is a fer::Error.
Canvas line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, int w = 800, int h = 500);

// A heatmap of counts[true][predicted]: rows are the true classes, columns the predicted ones,
// each cell shows its value (the row fraction when normalize_rows, else the count) and is shaded by
// it (by fraction of the row, or by count / largest count). class_names may be empty ("0", "1", ...)
// else must have one name per row. counts must be square, non-empty, without negative entries.
Canvas confusion_matrix_chart(const std::vector<std::vector<int64_t>>& counts,
                              const std::vector<std::string>& class_names, bool normalize_rows,
                              const std::string& title);

// Tick values covering [lo, hi] with a 1/2/5 x 10^k step and about `target` ticks: the first tick
// is <= lo and the last >= hi. lo == hi is widened around the value. Non-finite input is an error.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// A tick value printed with just enough decimals for `step` ("0.25", "10", "1e-05").
std::string format_tick(double value, double step);

}  // namespace fer::tools
