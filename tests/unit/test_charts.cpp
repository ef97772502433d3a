// tests/unit/test_charts.cpp: line charts and confusion-matrix heatmaps (tools/common/charts.h)
// give decodable PNGs of the requested size with the data drawn; NaN gaps break lines; nice ticks.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "kernels/common.h"
#include "tests/unit/test_png_fixtures.h"
#include "tools/common/charts.h"

using fer::test::decode_png;
using fer::tools::Canvas;
using fer::tools::Rgb;
using fer::tools::Series;
namespace colors = fer::tools::colors;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Runs of consecutive pixels of colour c on row y.
int runs_on_row(const fer::test::DecodedPng& d, int y, Rgb c) {
  int runs = 0;
  bool in = false;
  for (int x = 0; x < d.width; ++x) {
    const bool hit = d.at(x, y) == c;
    runs += hit && !in;
    in = hit;
  }
  return runs;
}

// The row with the most pixels of colour c.
int busiest_row(const fer::test::DecodedPng& d, Rgb c) {
  int best = -1, best_n = 0;
  for (int y = 0; y < d.height; ++y) {
    int n = 0;
    for (int x = 0; x < d.width; ++x) n += d.at(x, y) == c;
    if (n > best_n) { best_n = n; best = y; }
  }
  return best;
}
}  // namespace

TEST_CASE("charts: nice_ticks uses 1/2/5 steps and covers the range") {
  auto t = fer::tools::nice_ticks(0, 1, 6);
  REQUIRE(t.size() == 6);
  CHECK(t.front() == doctest::Approx(0));
  CHECK(t[1] == doctest::Approx(0.2));
  CHECK(t.back() == doctest::Approx(1));

  t = fer::tools::nice_ticks(1, 30, 6);
  CHECK(t.front() <= 1);
  CHECK(t.back() >= 30);
  CHECK(t[1] - t[0] == doctest::Approx(5));

  t = fer::tools::nice_ticks(0.613, 1.947, 6);
  const double step = t[1] - t[0];
  const double mant = step / std::pow(10.0, std::floor(std::log10(step)));
  CHECK((mant == doctest::Approx(1) || mant == doctest::Approx(2) || mant == doctest::Approx(5)));
  CHECK(t.front() <= 0.613);
  CHECK(t.back() >= 1.947);

  t = fer::tools::nice_ticks(3, 3);  // one value: widened
  CHECK(t.front() < 3);
  CHECK(t.back() > 3);
  CHECK_THROWS_AS(fer::tools::nice_ticks(0, kNaN), fer::Error);

  CHECK(fer::tools::format_tick(0.2, 0.2) == "0.2");
  CHECK(fer::tools::format_tick(10, 5) == "10");
  CHECK(fer::tools::format_tick(0.25, 0.05) == "0.25");
  CHECK(fer::tools::format_tick(0, 0.1) == "0.0");
  CHECK(fer::tools::format_tick(2.5, 2.5) == "2.5");
}

TEST_CASE("charts: line_chart draws the series on a PNG of the requested size") {
  Series train{"train loss", {}, {}, colors::kBlue}, val{"val loss", {}, {}, colors::kOrange};
  for (int e = 1; e <= 20; ++e) {
    train.x.push_back(e);
    train.y.push_back(2.0 / e);
    val.x.push_back(e);
    val.y.push_back(e == 7 ? kNaN : 2.2 / e + 0.1);
  }
  const Canvas c = fer::tools::line_chart("Loss", "epoch", "loss", {train, val}, 640, 400);
  const auto d = decode_png(c.encode_png());
  REQUIRE(d.ok());
  CHECK(d.width == 640);
  CHECK(d.height == 400);
  CHECK(d.count(colors::kWhite) < 640 * 400);
  CHECK(d.count(colors::kBlue) > 200);    // the curve, not just the legend swatch
  CHECK(d.count(colors::kOrange) > 200);
  CHECK(d.count(colors::kBlack) > 50);    // title and labels
  CHECK(d.count(colors::kGrid) > 100);    // grid lines

  CHECK_THROWS_AS(fer::tools::line_chart("t", "x", "y", {Series{"bad", {1, 2}, {1}, colors::kBlue}}), fer::Error);
  CHECK_THROWS_AS(fer::tools::line_chart("t", "x", "y", {}, 100, 100), fer::Error);
}

TEST_CASE("charts: NaN leaves a gap in the line, isolated points stay visible") {
  // A flat line (no legend label, so the series colour appears only on the curve).
  Series full{"", {}, {}, colors::kGreen}, gappy{"", {}, {}, colors::kGreen};
  for (int e = 1; e <= 10; ++e) {
    full.x.push_back(e);
    full.y.push_back(0.5);
    gappy.x.push_back(e);
    gappy.y.push_back(e == 5 || e == 6 ? kNaN : 0.5);
  }
  const auto a = decode_png(fer::tools::line_chart("", "", "", {full}, 400, 300).encode_png());
  const auto b = decode_png(fer::tools::line_chart("", "", "", {gappy}, 400, 300).encode_png());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const int ya = busiest_row(a, colors::kGreen), yb = busiest_row(b, colors::kGreen);
  REQUIRE(ya >= 0);
  REQUIRE(yb >= 0);
  CHECK(runs_on_row(a, ya, colors::kGreen) == 1);
  CHECK(runs_on_row(b, yb, colors::kGreen) == 2);

  // One finite point between NaNs is drawn as a dot.
  Series lone{"", {1, 2, 3}, {kNaN, 1.0, kNaN}, colors::kVermillion};
  const auto l = decode_png(fer::tools::line_chart("t", "x", "y", {lone}, 300, 200).encode_png());
  CHECK(l.count(colors::kVermillion) >= 9);

  // No finite data at all still gives empty axes.
  Series none{"none", {1, 2}, {kNaN, kNaN}, colors::kPurple};
  const auto n = decode_png(fer::tools::line_chart("empty", "x", "y", {none}, 300, 200).encode_png());
  REQUIRE(n.ok());
  CHECK(n.count(colors::kWhite) < 300 * 200);
}

TEST_CASE("charts: confusion matrix with 7 classes") {
  const std::vector<std::string> names = {"Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"};
  std::vector<std::vector<int64_t>> counts(7, std::vector<int64_t>(7, 0));
  for (int r = 0; r < 7; ++r)
    for (int k = 0; k < 7; ++k) counts[r][k] = r == k ? 50 + 10 * r : (r + k) % 3;
  counts[3] = {0, 0, 0, 120, 0, 0, 0};  // a perfect row: full shade (the darkest colour)
  const Rgb darkest{8, 48, 107};
  for (bool normalize : {true, false}) {
    CAPTURE(normalize);
    const Canvas c = fer::tools::confusion_matrix_chart(counts, names, normalize, "Confusion matrix");
    const auto d = decode_png(c.encode_png());
    REQUIRE(d.ok());
    CHECK(d.width == c.width());
    CHECK(d.height == c.height());
    CHECK(d.width > 7 * 40);
    CHECK(d.height > 7 * 40);
    CHECK(d.count(colors::kWhite) < d.width * d.height / 2 + d.width * d.height / 4);
    CHECK(d.count(darkest) > 1000);       // the full cell, minus its text
    CHECK(d.count(colors::kBlack) > 200);  // names, title and numbers
  }
  // Unnamed classes, empty rows.
  const auto u = decode_png(fer::tools::confusion_matrix_chart({{0, 0}, {3, 4}}, {}, true, "").encode_png());
  CHECK(u.ok());

  CHECK_THROWS_AS(fer::tools::confusion_matrix_chart({}, {}, true, "t"), fer::Error);
  CHECK_THROWS_AS(fer::tools::confusion_matrix_chart({{1, 2}, {3}}, {}, true, "t"), fer::Error);
  CHECK_THROWS_AS(fer::tools::confusion_matrix_chart({{1, -2}, {3, 4}}, {}, true, "t"), fer::Error);
  CHECK_THROWS_AS(fer::tools::confusion_matrix_chart({{1, 2}, {3, 4}}, {"a"}, true, "t"), fer::Error);
}
