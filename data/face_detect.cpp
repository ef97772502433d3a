// data/face_detect.cpp: see face_detect.h.
#include "data/face_detect.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/dataset.h"
#include "kernels/common.h"

namespace fer::data {

namespace {

int round_int(double v) { return static_cast<int>(std::lround(v)); }

// Union-find root with path halving.
size_t root(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

// Bilinear shrink with pixel centres aligned (x_src = (x + 0.5) W/w - 0.5, clamped), rounded to
// nearest: the pyramid levels OpenCV's detectMultiScale builds (cv::resize, INTER_LINEAR).
void shrink_bilinear(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh) {
  struct Tap {
    int i0, i1;
    float w1;
  };
  auto taps = [](int s, int d) {
    std::vector<Tap> t(static_cast<size_t>(d));
    const double scale = static_cast<double>(s) / d;
    for (int o = 0; o < d; ++o) {
      double x = (o + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      int i0 = static_cast<int>(std::floor(x));
      if (i0 > s - 1) i0 = s - 1;
      const int i1 = std::min(i0 + 1, s - 1);
      t[static_cast<size_t>(o)] = {i0, i1, static_cast<float>(x - i0)};
    }
    return t;
  };
  const std::vector<Tap> tx = taps(sw, dw), ty = taps(sh, dh);
  for (int y = 0; y < dh; ++y) {
    const Tap& a = ty[static_cast<size_t>(y)];
    const uint8_t* r0 = src + static_cast<size_t>(a.i0) * static_cast<size_t>(sw);
    const uint8_t* r1 = src + static_cast<size_t>(a.i1) * static_cast<size_t>(sw);
    for (int x = 0; x < dw; ++x) {
      const Tap& b = tx[static_cast<size_t>(x)];
      const float top = r0[b.i0] + b.w1 * (r0[b.i1] - r0[b.i0]);
      const float bottom = r1[b.i0] + b.w1 * (r1[b.i1] - r1[b.i0]);
      dst[static_cast<size_t>(y) * static_cast<size_t>(dw) + static_cast<size_t>(x)] =
          static_cast<uint8_t>(std::clamp(std::nearbyint(top + a.w1 * (bottom - top)), 0.0f, 255.0f));
    }
  }
}

}  // namespace

std::vector<FaceBox> detect_windows(const HaarCascade& c, const GrayImage& image, const FaceDetectOptions& o) {
  FER_CHECK(o.scale_factor > 1.0 && o.scale_factor <= 4.0,
            "face detection: scale factor " << o.scale_factor << " must be in (1, 4]");
  FER_CHECK(image.width > 0 && image.height > 0 &&
                image.pixels.size() == static_cast<size_t>(image.width) * static_cast<size_t>(image.height),
            "face detection: the image is empty or its pixels do not match " << image.width << "x" << image.height);
  std::vector<FaceBox> out;
  std::vector<uint8_t> scaled;
  for (double s = 1.0;; s *= o.scale_factor) {
    const int win_w = round_int(c.window_w * s), win_h = round_int(c.window_h * s);
    if (win_w > image.width || win_h > image.height) break;
    if (o.max_size > 0 && (win_w > o.max_size || win_h > o.max_size)) break;
    if (std::min(win_w, win_h) < o.min_size) continue;
    const int sw = round_int(image.width / s), sh = round_int(image.height / s);
    if (sw < c.window_w || sh < c.window_h) break;
    const uint8_t* pixels = image.pixels.data();
    if (sw != image.width || sh != image.height) {
      scaled.resize(static_cast<size_t>(sw) * static_cast<size_t>(sh));
      shrink_bilinear(image.pixels.data(), image.width, image.height, scaled.data(), sw, sh);
      pixels = scaled.data();
    }
    const IntegralImage ii = integral_image(pixels, sw, sh);
    const int step = s >= 2.0 ? 1 : 2;
    const int full = static_cast<int>(c.stages.size());
    for (int y = 0; y + c.window_h <= sh; y += step)
      for (int x = 0; x + c.window_w <= sw; x += step) {
        const int passed = haar_window_stages(c, ii, x, y);
        if (passed == full) out.push_back({round_int(x * s), round_int(y * s), win_w, win_h, 1});
        if (passed == 0) x += step;  // failed the first stage: OpenCV skips the next window too
      }
  }
  return out;
}

std::vector<FaceBox> group_boxes(const std::vector<FaceBox>& boxes, int min_neighbors, double eps) {
  if (min_neighbors <= 0) return boxes;  // OpenCV: no grouping at all
  const size_t n = boxes.size();
  auto similar = [eps](const FaceBox& a, const FaceBox& b) {
    const double delta = eps * (std::min(a.w, b.w) + std::min(a.h, b.h)) * 0.5;
    return std::abs(a.x - b.x) <= delta && std::abs(a.y - b.y) <= delta &&
           std::abs(a.x + a.w - b.x - b.w) <= delta && std::abs(a.y + a.h - b.y - b.h) <= delta;
  };
  std::vector<size_t> parent(n);
  std::iota(parent.begin(), parent.end(), size_t{0});
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j)
      if (similar(boxes[i], boxes[j])) parent[root(parent, i)] = root(parent, j);
  // cluster sums, in order of first appearance
  std::vector<double> sx, sy, sw, sh;
  std::vector<int> count;
  std::vector<size_t> index_of_root(n, n);
  for (size_t i = 0; i < n; ++i) {
    const size_t r = root(parent, i);
    if (index_of_root[r] == n) {
      index_of_root[r] = count.size();
      sx.push_back(0), sy.push_back(0), sw.push_back(0), sh.push_back(0), count.push_back(0);
    }
    const size_t k = index_of_root[r];
    sx[k] += boxes[i].x, sy[k] += boxes[i].y, sw[k] += boxes[i].w, sh[k] += boxes[i].h;
    ++count[k];
  }
  // the mean box, rounded as OpenCV does (float, half to even)
  std::vector<FaceBox> mean(count.size());
  auto avg = [](double sum, int n) { return static_cast<int>(std::nearbyint(static_cast<float>(sum) * (1.f / static_cast<float>(n)))); };
  for (size_t k = 0; k < count.size(); ++k)
    mean[k] = {avg(sx[k], count[k]), avg(sy[k], count[k]), avg(sw[k], count[k]), avg(sh[k], count[k]), count[k]};
  std::vector<FaceBox> out;
  for (size_t i = 0; i < mean.size(); ++i) {
    const FaceBox& a = mean[i];
    if (a.neighbors <= min_neighbors) continue;
    bool inside_stronger = false;
    for (size_t j = 0; j < mean.size() && !inside_stronger; ++j) {
      const FaceBox& b = mean[j];
      if (i == j || b.neighbors <= min_neighbors) continue;
      const int dx = round_int(b.w * eps), dy = round_int(b.h * eps);
      inside_stronger = a.x >= b.x - dx && a.y >= b.y - dy && a.x + a.w <= b.x + b.w + dx &&
                        a.y + a.h <= b.y + b.h + dy && (b.neighbors > std::max(3, a.neighbors) || a.neighbors < 3);
    }
    if (!inside_stronger) out.push_back(a);
  }
  std::stable_sort(out.begin(), out.end(), [](const FaceBox& a, const FaceBox& b) {
    if (a.neighbors != b.neighbors) return a.neighbors > b.neighbors;
    return a.x != b.x ? a.x < b.x : a.y < b.y;
  });
  return out;
}

std::vector<FaceBox> detect_faces(const HaarCascade& c, const GrayImage& image, const FaceDetectOptions& o) {
  FER_CHECK(o.min_neighbors >= 0, "face detection: min neighbors " << o.min_neighbors << " must be >= 0");
  std::vector<FaceBox> faces = group_boxes(detect_windows(c, image, o), o.min_neighbors);
  // a window of the shrunk image maps back up to s/2 pixels past the photo's edge: clip to it
  for (FaceBox& b : faces) {
    b.w = std::min(b.w, image.width - b.x);
    b.h = std::min(b.h, image.height - b.y);
  }
  return faces;
}

std::vector<uint8_t> crop_face48(const GrayImage& image, const FaceBox& b, double margin) {
  FER_CHECK(margin >= 0 && margin <= 1, "face crop: margin " << margin << " must be in [0, 1]");
  const int mx = round_int(b.w * margin), my = round_int(b.h * margin);
  const int x0 = std::max(0, b.x - mx), y0 = std::max(0, b.y - my);
  const int x1 = std::min(image.width, b.x + b.w + mx), y1 = std::min(image.height, b.y + b.h + my);
  FER_CHECK(x1 > x0 && y1 > y0, "face crop: box " << b.x << "," << b.y << " " << b.w << "x" << b.h
                                                  << " lies outside the " << image.width << "x" << image.height << " image");
  std::vector<uint8_t> region(static_cast<size_t>(x1 - x0) * static_cast<size_t>(y1 - y0));
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x)
      region[static_cast<size_t>(y - y0) * static_cast<size_t>(x1 - x0) + static_cast<size_t>(x - x0)] = image.at(x, y);
  std::vector<uint8_t> out(kImagePixels);
  resize_gray(region.data(), x1 - x0, y1 - y0, out.data(), kImageSide, kImageSide);
  return out;
}

double box_iou(const FaceBox& a, const FaceBox& b) {
  const int ix = std::max(0, std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x));
  const int iy = std::max(0, std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y));
  const double inter = static_cast<double>(ix) * iy;
  const double uni = static_cast<double>(a.w) * a.h + static_cast<double>(b.w) * b.h - inter;
  return uni > 0 ? inter / uni : 0.0;
}

}  // namespace fer::data
