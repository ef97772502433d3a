// data/haar_cascade.h: a trained Haar cascade (Viola-Jones) read from OpenCV's XML format, and its
// decision on one window. The cascades are data, not code: Debian's opencv-data ships them under
// /usr/share/opencv4/haarcascades/ (haarcascade_frontalface_default.xml: 24x24 window, 25 stages,
// 2,913 stumps, each on its own rectangle feature). face_detect.h slides the window over an image.
//
// Math, for a window at (x, y) of a gray image I (0..255), with the integral image
//   S(u, v) = sum_{u' < u, v' < v} I(u', v')   and   Q the same over I^2,
// every rectangle sum is four lookups: R(x, y, w, h) = S(x+w, y+h) - S(x, y+h) - S(x+w, y) + S(x, y).
//   normalisation: over the window shrunk by one pixel on each side (area A), s = R_S, q = R_Q,
//                  nf = sqrt(A q - s^2) = A sigma; a window with nf <= 10 A (sigma <= 10 grey
//                  levels, or flat) is rejected before any stage
//   feature j:     f_j = (sum_r weight_r R(x + rx_r, y + ry_r, w_r, h_r)) / nf   (2 or 3 rectangles)
//   weak classifier (a tree; a stump is one node): from node 0, go left when f_j < threshold, right
//                  otherwise, until the index is <= 0; the leaf -index gives the value
//   stage k:       passes when sum of its weak classifiers' values >= stage threshold - 1e-5
//   window:        a detection when it passes every stage (most windows fail stage 0 or 1)
// This is OpenCV's HaarEvaluator and predictOrdered (new XML format, upright features only), in
// double where OpenCV computes features and sums in float.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fer::data {

struct HaarRect {
  int x = 0, y = 0, w = 0, h = 0;  // in window coordinates
  float weight = 0;
};

struct HaarFeature {
  std::vector<HaarRect> rects;  // 2 or 3
};

struct HaarNode {
  int left = 0, right = 0;  // > 0: the next node's index; <= 0: -leaf index
  int feature = 0;
  float threshold = 0;
};

struct HaarWeak {
  std::vector<HaarNode> nodes;
  std::vector<float> leaves;
};

struct HaarStage {
  float threshold = 0;
  std::vector<HaarWeak> weak;
};

struct HaarCascade {
  int window_w = 0, window_h = 0;
  std::vector<HaarStage> stages;
  std::vector<HaarFeature> features;
  std::string source;  // the file it came from
};

// Reads an OpenCV cascade XML (<cascade> with <stageType>BOOST</stageType> and
// <featureType>HAAR</featureType>). Throws fer::Error naming the file and the element on anything
// else: another format, tilted features, a node naming a missing feature or leaf, rectangles
// outside the window.
HaarCascade load_haar_cascade(const std::string& path);
// The same from XML text (`what` names it in errors).
HaarCascade parse_haar_cascade(const std::string& xml, const std::string& what);

// Integral images of a gray image (w x h), (w+1) x (h+1) each, row-major: S and Q above.
struct IntegralImage {
  int w = 0, h = 0;
  std::vector<int64_t> sum, sqsum;
  int64_t rect(int x, int y, int rw, int rh) const { return box(sum, x, y, rw, rh); }
  int64_t rect_sq(int x, int y, int rw, int rh) const { return box(sqsum, x, y, rw, rh); }

 private:
  int64_t box(const std::vector<int64_t>& t, int x, int y, int rw, int rh) const {
    const size_t s = static_cast<size_t>(w) + 1;
    const size_t x0 = static_cast<size_t>(x), y0 = static_cast<size_t>(y), x1 = x0 + static_cast<size_t>(rw),
                 y1 = y0 + static_cast<size_t>(rh);
    return t[y1 * s + x1] - t[y0 * s + x1] - t[y1 * s + x0] + t[y0 * s + x0];
  }
};
IntegralImage integral_image(const uint8_t* pixels, int w, int h);

// The number of stages the window at (x, y) passes (== cascade.stages.size(): a detection), or -1
// for a window of too little contrast. The window must lie inside the image.
int haar_window_stages(const HaarCascade& cascade, const IntegralImage& ii, int x, int y);

}  // namespace fer::data
