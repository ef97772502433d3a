// tools/common/png_canvas.h: an RGB raster to draw charts on, saved as PNG.
//
// Coordinates are pixels, (0,0) top-left, x to the right, y down. Everything drawn outside the
// canvas is clipped silently, so callers need not clamp. Text uses the built-in 5x7 font
// (tools/common/font.h) scaled by an integer factor; '\n' starts a new line. PNG encoding goes
// through stb_image_write (compiled once, in data/stb_impl.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fer::tools {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

namespace colors {
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kGrid{225, 225, 225};
inline constexpr Rgb kAxis{60, 60, 60};
// A colour-blind-friendly palette (Okabe-Ito) for series.
inline constexpr Rgb kBlue{0, 114, 178};
inline constexpr Rgb kOrange{230, 159, 0};
inline constexpr Rgb kGreen{0, 158, 115};
inline constexpr Rgb kVermillion{213, 94, 0};
inline constexpr Rgb kPurple{204, 121, 167};
inline constexpr Rgb kSky{86, 180, 233};
inline constexpr Rgb kYellow{240, 228, 66};
// The i-th palette colour (cycles): the 6 above, then black and yellow, 8 distinct colours (one per
// class of the largest class set, for one-vs-rest ROC charts).
Rgb palette(int i);
}  // namespace colors

class Canvas {
 public:
  // width, height >= 1; a fer::Error otherwise.
  Canvas(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  // The colour at (x, y); a fer::Error outside the canvas.
  Rgb at(int x, int y) const;
  // Row-major RGB bytes, 3 per pixel.
  const std::vector<uint8_t>& data() const { return rgb_; }

  void pixel(int x, int y, Rgb c);
  // A line from (x0,y0) to (x1,y1) inclusive; thickness t paints a t x t square at each point.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1);
  // Outline of the w x h rectangle whose top-left pixel is (x, y), `thickness` pixels inwards.
  void rect(int x, int y, int w, int h, Rgb c, int thickness = 1);
  void fill_rect(int x, int y, int w, int h, Rgb c);
  // Text whose top-left corner is (x, y); each font pixel becomes a scale x scale block.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  // Text rotated 90 degrees counter-clockwise (reads bottom to top, for y-axis labels). (x, y) is
  // the top-left of its bounding box, which is text_height() wide and text_width() tall.
  void text_up(int x, int y, const std::string& s, Rgb c, int scale = 1);
  // Size in pixels of the ink of `s` (longest line; no trailing spacing).
  static int text_width(const std::string& s, int scale = 1);
  static int text_height(const std::string& s, int scale = 1);
  // Copies `src` with its top-left at (x, y), clipped.
  void draw(const Canvas& src, int x, int y);

  // The canvas as PNG file bytes.
  std::string encode_png() const;
  // Writes the PNG atomically (temp file + rename); a fer::Error naming the path on failure.
  void save_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

}  // namespace fer::tools
