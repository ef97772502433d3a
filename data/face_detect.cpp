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

}  // namespace

std::vector<FaceBox> detect_windows(const HaarCascade& c, const GrayImage& image, const FaceDetectOptions& o) {
  FER_CHECK(o.scale_factor > 1.0 && o.scale_factor <= 4.0,
            "face detection: scale factor " << o.scale_factor << " must be in (1, 4]");
  FER_CHECK(image.width > 0 && image.height > 0 &&
                image.pixels.size() == static_cast<size_t>(image.width) * static_cast<size_t>(image.height),
            "face detection: the image is empty or its pixels do not match " << image.width << "x" << image.height);
  const int max_side = o.max_size > 0 ? o.max_size : std::min(image.width, image.height);
  std::vector<FaceBox> out;
  std::vector<uint8_t> scaled;
  for (double s = 1.0;; s *= o.scale_factor) {
    const int win_w = round_int(c.window_w * s), win_h = round_int(c.window_h * s);
    if (win_w > image.width || win_h > image.height || std::max(win_w, win_h) > max_side) break;
    if (std::min(win_w, win_h) < o.min_size) continue;
    const int sw = round_int(image.width / s), sh = round_int(image.height / s);
    if (sw < c.window_w || sh < c.window_h) break;
    const uint8_t* pixels = image.pixels.data();
    if (sw != image.width || sh != image.height) {
      scaled.resize(static_cast<size_t>(sw) * static_cast<size_t>(sh));
      resize_gray(image.pixels.data(), image.width, image.height, scaled.data(), sw, sh);
      pixels = scaled.data();
    }
    const IntegralImage ii = integral_image(pixels, sw, sh);
    const int step = s >= 2.0 ? 1 : 2;
    const int full = static_cast<int>(c.stages.size());
    for (int y = 0; y + c.window_h <= sh; y += step)
      for (int x = 0; x + c.window_w <= sw; x += step)
        if (haar_window_stages(c, ii, x, y) == full)
          out.push_back({round_int(x * s), round_int(y * s), win_w, win_h, 1});
  }
  return out;
}

std::vector<FaceBox> group_boxes(const std::vector<FaceBox>& boxes, int min_neighbors, double eps) {
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
  std::vector<FaceBox> mean(count.size());
  for (size_t k = 0; k < count.size(); ++k) {
    const double inv = 1.0 / count[k];
    mean[k] = {round_int(sx[k] * inv), round_int(sy[k] * inv), round_int(sw[k] * inv), round_int(sh[k] * inv), count[k]};
  }
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
  return group_boxes(detect_windows(c, image, o), o.min_neighbors);
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
