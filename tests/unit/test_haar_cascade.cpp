// data/haar_cascade.h and data/face_detect.h without a trained cascade: integral-image sums against
// direct sums, a hand-written one-stump cascade decided by hand (including the variance
// normalisation, so contrast does not change a decision), the reader's errors, OpenCV's grouping
// rule on hand-placed boxes, and the face crop.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "data/face_detect.h"
#include "data/haar_cascade.h"
#include "kernels/common.h"

using namespace fer::data;

namespace {

// A 6x6 cascade, one stage of one stump on "right half minus left half" of rows 1-4.
std::string tiny_cascade(const std::string& feature_type = "HAAR", const std::string& extra_feature = "",
                         const std::string& nodes = "0 -1 0 0.1") {
  return R"(<?xml version="1.0"?>
<!-- a comment -->
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>)" + feature_type + R"(</featureType>
  <height>6</height>
  <width>6</width>
  <stageNum>1</stageNum>
  <stages>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.5</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>
            )" + nodes + R"(</internalNodes>
          <leafValues>
            -1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_>
      <rects>
        <_>
          1 1 2 4 -1.</_>
        <_>
          3 1 2 4 1.</_></rects>)" + extra_feature + R"(</_></features></cascade>
</opencv_storage>
)";
}

std::string error_of(const std::string& xml) {
  try {
    parse_haar_cascade(xml, "test.xml");
  } catch (const fer::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("integral image: every rectangle sum and square sum equals the direct sum") {
  const int w = 13, h = 7;
  std::vector<uint8_t> px(w * h);
  std::mt19937 rng(5);
  for (auto& p : px) p = static_cast<uint8_t>(rng() % 256);
  const IntegralImage ii = integral_image(px.data(), w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int rh = 1; y + rh <= h; ++rh)
        for (int rw = 1; x + rw <= w; ++rw) {
          int64_t s = 0, q = 0;
          for (int v = y; v < y + rh; ++v)
            for (int u = x; u < x + rw; ++u) {
              s += px[v * w + u];
              q += px[v * w + u] * px[v * w + u];
            }
          REQUIRE(ii.rect(x, y, rw, rh) == s);
          REQUIRE(ii.rect_sq(x, y, rw, rh) == q);
        }
}

TEST_CASE("haar cascade: a hand-written stump decides by the normalised feature, whatever the contrast above 10") {
  const HaarCascade c = parse_haar_cascade(tiny_cascade(), "tiny.xml");
  REQUIRE(c.window_w == 6);
  REQUIRE(c.stages.size() == 1);
  REQUIRE(c.features.size() == 1);
  // an 8x6 image; the window at x = 0 or 2: right half brighter (passes) or darker (fails)
  auto image = [](int lo, int hi, bool right_bright) {
    std::vector<uint8_t> px(8 * 6);
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 8; ++x) px[y * 8 + x] = static_cast<uint8_t>((x >= 3) == right_bright ? hi : lo);
    return px;
  };
  for (const auto& [lo, hi] : std::vector<std::pair<int, int>>{{100, 122}, {0, 255}, {50, 200}}) {
    CAPTURE(lo);
    const auto bright = image(lo, hi, true), dark = image(lo, hi, false);
    const IntegralImage a = integral_image(bright.data(), 8, 6), b = integral_image(dark.data(), 8, 6);
    // window at x = 0: columns 1-2 (lo) vs 3-4 (hi). f = (8 hi - 8 lo) / nf with nf over the inner
    // 4x4 (columns 1-4: half lo, half hi): nf = sqrt(16 q - s^2) = 8 (hi - lo), so f = 1 > 0.1: right leaf
    CHECK(haar_window_stages(c, a, 0, 0) == 1);
    CHECK(haar_window_stages(c, b, 0, 0) == 0);  // f = -1 < 0.1: left leaf -1 < 0.5
  }
  // too little contrast (sigma <= 10 grey levels: nf <= 10 A) or none: rejected before any stage
  for (const auto& [lo, hi] : std::vector<std::pair<int, int>>{{100, 120}, {90, 90}}) {
    CAPTURE(lo);
    CAPTURE(hi);
    const auto px = image(lo, hi, true);
    CHECK(haar_window_stages(c, integral_image(px.data(), 8, 6), 0, 0) == -1);
  }
}

TEST_CASE("haar cascade: the reader names what is wrong") {
  CHECK(error_of(tiny_cascade("LBP")).find("featureType LBP, expected HAAR") != std::string::npos);
  CHECK(error_of(tiny_cascade("HAAR", "<tilted>1</tilted>")).find("feature 0 is tilted") != std::string::npos);
  CHECK(error_of(tiny_cascade("HAAR", "", "0 -1 3 0.1")).find("a node names feature 3 of 1") != std::string::npos);
  CHECK(error_of(tiny_cascade("HAAR", "", "0 -5 0 0.1")).find("points to leaf 5 of 2") != std::string::npos);
  CHECK(error_of(tiny_cascade("HAAR", "", "0 -1 0 abc")).find("'abc' is not a number") != std::string::npos);
  // numbers beyond int, or not whole, never reach a cast
  CHECK(error_of(tiny_cascade("HAAR", "", "0 -2147483648 0 0.1")).find("points to leaf 2.14748e+09 of 2") != std::string::npos);
  CHECK(error_of(tiny_cascade("HAAR", "", "0 -1 0.5 0.1")).find("feature 0.5 must be a whole number") != std::string::npos);
  CHECK(error_of(tiny_cascade("HAAR", "", "0 -0.5 0 0.1")).find("points to leaf") != std::string::npos);
  std::string huge = tiny_cascade();
  huge.replace(huge.find("3 1 2 4 1."), 10, "1 1 2147483647 4 1.");
  CHECK(error_of(huge).find("is not inside the 6x6 window") != std::string::npos);
  std::string width = tiny_cascade();
  width.replace(width.find("<width>6</width>"), 16, "<width>1e10</width>");
  CHECK(error_of(width).find("width 1e+10 must be a whole number in [3, 256]") != std::string::npos);
  const std::string unclosed = error_of("<opencv_storage>\n<cascade>\n<stages>");
  CHECK(unclosed.find("test.xml:3:") != std::string::npos);
  CHECK(unclosed.find("is not closed") != std::string::npos);
  CHECK(error_of("<opencv_storage><other/></opencv_storage>").find("no <cascade> element") != std::string::npos);
  std::string outside = tiny_cascade();
  outside.replace(outside.find("3 1 2 4 1."), 10, "5 1 2 4 1.");
  CHECK(error_of(outside).find("is not inside the 6x6 window") != std::string::npos);
}

TEST_CASE("group_boxes: OpenCV's clusters, means and the box inside a stronger one") {
  std::vector<FaceBox> boxes;
  for (int i = 0; i < 5; ++i) boxes.push_back({100 + i, 50 - i, 40 + i, 40 + i, 1});  // one face
  for (int i = 0; i < 4; ++i) boxes.push_back({300, 300, 24, 24, 1});                // 4 identical
  boxes.push_back({10, 10, 30, 30, 1});                                               // alone
  for (int i = 0; i < 4; ++i) boxes.push_back({108, 58, 20, 20, 1});                  // inside the face
  const std::vector<FaceBox> g = group_boxes(boxes, 3);
  REQUIRE(g.size() == 2);
  CHECK(g[0].x == 102);  // mean of 100..104
  CHECK(g[0].y == 48);
  CHECK(g[0].w == 42);
  CHECK(g[0].neighbors == 5);
  CHECK(g[1].x == 300);
  CHECK(g[1].neighbors == 4);
  // min_neighbors 1: the same two (the lone box has one window, the small cluster lies inside the
  // face's); 0 does not group at all (OpenCV)
  CHECK(group_boxes(boxes, 1).size() == 2);
  CHECK(group_boxes(boxes, 0).size() == boxes.size());
}

TEST_CASE("crop_face48: the box (with margin, clamped to the image) resized to 48x48") {
  GrayImage img;
  img.width = 100;
  img.height = 80;
  img.pixels.resize(100 * 80);
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 100; ++x) img.pixels[y * 100 + x] = static_cast<uint8_t>(x < 50 ? 20 : 220);
  // a 48x48 box at (26, 10): copied exactly, the edge at column 24 of the crop
  const std::vector<uint8_t> exact = crop_face48(img, {26, 10, 48, 48, 1}, 0.0);
  CHECK(exact[0] == 20);
  CHECK(exact[23] == 20);
  CHECK(exact[24] == 220);
  // margin 0.5 would reach x = 2..98 and y = -14..82: clamped to the image, then resized
  const std::vector<uint8_t> wide = crop_face48(img, {26, 10, 48, 48, 1}, 0.5);
  CHECK(wide.size() == 48 * 48);
  CHECK(wide[0] == 20);
  CHECK(wide[47] == 220);
  CHECK_THROWS_WITH_AS(crop_face48(img, {200, 10, 10, 10, 1}, 0.0), doctest::Contains("lies outside"), fer::Error);
  CHECK(box_iou({0, 0, 10, 10, 0}, {5, 0, 10, 10, 0}) == doctest::Approx(50.0 / 150.0));
  CHECK(box_iou({0, 0, 10, 10, 0}, {20, 0, 10, 10, 0}) == 0.0);
}

TEST_CASE("detect_faces: every box lies inside the image (windows of a shrunk image map back past its edge)") {
  // a cascade every window with contrast passes (stage threshold below both leaves)
  std::string always = tiny_cascade();
  always.replace(always.find("<stageThreshold>0.5"), 19, "<stageThreshold>-5.0");
  const HaarCascade c = parse_haar_cascade(always, "always.xml");
  GrayImage img;
  img.width = 25;
  img.height = 19;
  img.pixels.resize(25 * 19);
  for (int y = 0; y < 19; ++y)
    for (int x = 0; x < 25; ++x) img.pixels[y * 25 + x] = static_cast<uint8_t>((x + y) % 2 ? 255 : 0);
  FaceDetectOptions o;
  o.scale_factor = 1.7;
  o.min_neighbors = 0;
  const std::vector<FaceBox> raw = detect_windows(c, img, o);
  bool past_edge = false;
  for (const FaceBox& b : raw) past_edge = past_edge || b.x + b.w > img.width || b.y + b.h > img.height;
  CHECK(past_edge);  // what the clipping is for
  const std::vector<FaceBox> boxes = detect_faces(c, img, o);
  REQUIRE(boxes.size() == raw.size());
  for (const FaceBox& b : boxes) {
    CHECK(b.x >= 0);
    CHECK(b.y >= 0);
    CHECK(b.w >= 1);
    CHECK(b.x + b.w <= img.width);
    CHECK(b.y + b.h <= img.height);
  }
}
