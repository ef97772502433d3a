// tools/common/png_canvas.cpp: see png_canvas.h.
#include "tools/common/png_canvas.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>

#include "data/stb_include.h"
#include "kernels/common.h"
#include "tools/common/atomic_file.h"
#include "tools/common/font.h"

namespace fer::tools {

Rgb colors::palette(int i) {
  static constexpr Rgb kPalette[] = {kBlue, kOrange, kGreen, kVermillion, kPurple, kSky, kBlack, kYellow};
  constexpr int n = static_cast<int>(sizeof kPalette / sizeof kPalette[0]);
  return kPalette[((i % n) + n) % n];
}

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  FER_CHECK(width >= 1 && height >= 1 && width <= 16384 && height <= 16384,
            "Canvas: size must be 1..16384 per side, got " << width << "x" << height);
  rgb_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb Canvas::at(int x, int y) const {
  FER_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_,
            "Canvas::at: (" << x << ", " << y << ") is outside the " << width_ << "x" << height_ << " canvas");
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  return Rgb{rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void Canvas::pixel(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  rgb_[i] = c.r;
  rgb_[i + 1] = c.g;
  rgb_[i + 2] = c.b;
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width_), y1 = std::min(y + h, height_);  // exclusive
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) pixel(xx, yy, c);
}

void Canvas::rect(int x, int y, int w, int h, Rgb c, int thickness) {
  if (w <= 0 || h <= 0) return;
  const int t = std::clamp(thickness, 1, std::min(w, h));
  fill_rect(x, y, w, t, c);              // top
  fill_rect(x, y + h - t, w, t, c);      // bottom
  fill_rect(x, y, t, h, c);              // left
  fill_rect(x + w - t, y, t, h, c);      // right
}

void Canvas::line(int x0, int y0, int x1, int y1, Rgb c, int thickness) {
  const int t = std::max(thickness, 1);
  const int off = (t - 1) / 2;  // the t x t brush is centred on the line (left/up for even t)
  // Bresenham: integer steps along the longer axis, error term for the other.
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    if (t == 1) pixel(x0, y0, c);
    else fill_rect(x0 - off, y0 - off, t, t, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

int Canvas::text_width(const std::string& s, int scale) {
  int longest = 0, current = 0;
  for (char ch : s) {
    if (ch == '\n') { longest = std::max(longest, current); current = 0; }
    else ++current;
  }
  longest = std::max(longest, current);
  if (longest == 0) return 0;
  return (longest * font::kAdvance - (font::kAdvance - font::kGlyphWidth)) * std::max(scale, 1);
}

int Canvas::text_height(const std::string& s, int scale) {
  const int lines = 1 + static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  return ((lines - 1) * font::kLineHeight + font::kGlyphHeight) * std::max(scale, 1);
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  const int k = std::max(scale, 1);
  int cx = x, cy = y;
  for (char ch : s) {
    if (ch == '\n') { cx = x; cy += font::kLineHeight * k; continue; }
    for (int row = 0; row < font::kGlyphHeight; ++row)
      for (int col = 0; col < font::kGlyphWidth; ++col)
        if (font::glyph_pixel(ch, col, row)) fill_rect(cx + col * k, cy + row * k, k, k, c);
    cx += font::kAdvance * k;
  }
}

void Canvas::text_up(int x, int y, const std::string& s, Rgb c, int scale) {
  const int k = std::max(scale, 1);
  const int h = text_width(s, k);  // the run of characters goes up, from y + h - 1 to y
  // Rotating (col, row) of horizontal text by 90 degrees CCW: col -> up, row -> right.
  int line_x = x;
  int pos = 0;  // horizontal position of the character along its (now vertical) line
  for (char ch : s) {
    if (ch == '\n') { line_x += font::kLineHeight * k; pos = 0; continue; }
    for (int row = 0; row < font::kGlyphHeight; ++row)
      for (int col = 0; col < font::kGlyphWidth; ++col)
        if (font::glyph_pixel(ch, col, row))
          fill_rect(line_x + row * k, y + h - (pos + col + 1) * k, k, k, c);
    pos += font::kAdvance;
  }
}

void Canvas::draw(const Canvas& src, int x, int y) {
  for (int sy = 0; sy < src.height_; ++sy)
    for (int sx = 0; sx < src.width_; ++sx) pixel(x + sx, y + sy, src.at(sx, sy));
}

namespace {
void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}
}  // namespace

std::string Canvas::encode_png() const {
  std::string out;
  const int ok = stbi_write_png_to_func(append_to_string, &out, width_, height_, 3, rgb_.data(), width_ * 3);
  FER_CHECK(ok != 0 && !out.empty(), "Canvas::encode_png: stb_image_write failed for a " << width_ << "x" << height_
                                                                                         << " canvas");
  return out;
}

void Canvas::save_png(const std::string& path) const { write_file_atomic(path, encode_png()); }

}  // namespace fer::tools
