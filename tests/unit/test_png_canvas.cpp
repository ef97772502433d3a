// tests/unit/test_png_canvas.cpp: the PNG canvas (tools/common/png_canvas.h) and the bitmap font:
// drawn pixels survive PNG encoding and decoding (stb_image) exactly, lines/rects/text land where
// they should, drawing outside is clipped, save_png writes atomically.
#include <doctest/doctest.h>

#include <filesystem>

#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"
#include "tests/unit/test_png_fixtures.h"
#include "tools/common/atomic_file.h"
#include "tools/common/font.h"
#include "tools/common/png_canvas.h"

using fer::test::decode_png;
using fer::tools::Canvas;
using fer::tools::Rgb;
namespace font = fer::tools::font;

namespace {
constexpr Rgb kBg{10, 20, 30}, kRed{250, 0, 0}, kGreen{0, 200, 0}, kInk{1, 2, 3};
}

TEST_CASE("png canvas: encode/decode keeps size and background") {
  Canvas c(40, 30, kBg);
  const auto d = decode_png(c.encode_png());
  REQUIRE(d.ok());
  CHECK(d.width == 40);
  CHECK(d.height == 30);
  CHECK(d.channels == 3);
  CHECK(d.count(kBg) == 40 * 30);
  CHECK_THROWS_AS(Canvas(0, 5, kBg), fer::Error);
  CHECK_THROWS_AS(c.at(40, 0), fer::Error);
}

TEST_CASE("png canvas: fill_rect, rect and lines land on the expected pixels") {
  Canvas c(40, 30, kBg);
  c.fill_rect(5, 5, 10, 4, kRed);             // x 5..14, y 5..8
  c.line(0, 20, 39, 20, kGreen);              // horizontal, thickness 1
  c.line(20, 0, 29, 9, kInk);                 // diagonal
  c.rect(30, 22, 8, 6, kRed);                 // outline x 30..37, y 22..27
  c.line(0, 25, 10, 25, kInk, 3);             // thick: rows 24..26
  const auto d = decode_png(c.encode_png());
  REQUIRE(d.ok());
  for (int y = 5; y <= 8; ++y)
    for (int x = 5; x <= 14; ++x) CHECK(d.at(x, y) == kRed);
  CHECK(d.at(4, 5) == kBg);
  CHECK(d.at(15, 5) == kBg);
  CHECK(d.at(5, 9) == kBg);
  for (int x = 0; x < 40; ++x) {
    CHECK(d.at(x, 20) == kGreen);
    CHECK(d.at(x, 19) != kGreen);
    CHECK(d.at(x, 21) != kGreen);
  }
  for (int k = 0; k < 10; ++k) CHECK(d.at(20 + k, k) == kInk);
  CHECK(d.at(21, 0) == kBg);
  // Outline: edges set, inside untouched.
  CHECK(d.at(30, 22) == kRed);
  CHECK(d.at(37, 27) == kRed);
  CHECK(d.at(33, 22) == kRed);
  CHECK(d.at(30, 25) == kRed);
  CHECK(d.at(37, 25) == kRed);
  CHECK(d.at(33, 24) == kBg);
  CHECK(d.at(36, 26) == kBg);
  // Thick line covers one row above and below.
  for (int x = 1; x <= 9; ++x) {
    CHECK(d.at(x, 24) == kInk);
    CHECK(d.at(x, 25) == kInk);
    CHECK(d.at(x, 26) == kInk);
    CHECK(d.at(x, 23) == kBg);
    CHECK(d.at(x, 27) == kBg);
  }
}

TEST_CASE("png canvas: drawing outside the canvas is clipped") {
  Canvas c(10, 10, kBg);
  c.pixel(-1, 3, kRed);
  c.pixel(10, 3, kRed);
  c.line(-20, -5, 30, 25, kRed, 3);
  c.fill_rect(-5, -5, 7, 7, kGreen);  // only x,y in 0..1 inside
  c.text(8, 8, "WWW", kInk, 3);
  CHECK(c.at(0, 0) == kGreen);
  CHECK(c.at(1, 1) == kGreen);
  CHECK(c.at(2, 0) == kBg);
  CHECK(decode_png(c.encode_png()).ok());
}

TEST_CASE("png canvas: text draws the font's glyphs, scaled and rotated") {
  CHECK(Canvas::text_width("") == 0);
  CHECK(Canvas::text_width("A") == 5);
  CHECK(Canvas::text_width("AB") == 11);
  CHECK(Canvas::text_width("AB", 2) == 22);
  CHECK(Canvas::text_width("ABC\nA") == 17);
  CHECK(Canvas::text_height("A") == 7);
  CHECK(Canvas::text_height("A\nB", 2) == 30);

  // The glyph table: 'A' has its top bar in the middle three columns, 'L' its bottom row full.
  CHECK(font::glyph('A')[0] == 0x0E);
  CHECK(font::glyph_pixel('L', 0, 0));
  CHECK_FALSE(font::glyph_pixel('L', 4, 0));
  for (int col = 0; col < 5; ++col) CHECK(font::glyph_pixel('L', col, 6));
  CHECK(font::glyph('\x01') == font::glyph('?'));  // unprintable -> '?'
  CHECK_FALSE(font::glyph_pixel('A', 5, 0));        // outside the 5x7 box

  Canvas c(60, 40, kBg);
  c.text(2, 3, "AL", kInk, 1);
  c.text(20, 3, "g", kRed, 2);
  c.text_up(40, 2, "L", kGreen, 1);
  const auto d = decode_png(c.encode_png());
  REQUIRE(d.ok());
  int ink = 0;
  for (int row = 0; row < 7; ++row)
    for (int col = 0; col < 5; ++col) {
      CHECK(d.at(2 + col, 3 + row) == (font::glyph_pixel('A', col, row) ? kInk : kBg));
      CHECK(d.at(8 + col, 3 + row) == (font::glyph_pixel('L', col, row) ? kInk : kBg));
      ink += font::glyph_pixel('A', col, row);
      // scale 2: each font pixel is a 2x2 block
      const Rgb want = font::glyph_pixel('g', col, row) ? kRed : kBg;
      CHECK(d.at(20 + 2 * col, 3 + 2 * row) == want);
      CHECK(d.at(21 + 2 * col, 4 + 2 * row) == want);
      // rotated 90 degrees CCW: (col, row) -> (x + row, y + 4 - col)
      CHECK(d.at(40 + row, 2 + 4 - col) == (font::glyph_pixel('L', col, row) ? kGreen : kBg));
    }
  CHECK(ink > 10);
  CHECK(d.at(7, 3) == kBg);  // the spacing column between the glyphs
  CHECK(d.count(kInk) == ink + 11);  // 'L' has 11 pixels; nothing else drawn in kInk
}

TEST_CASE("png canvas: draw copies another canvas") {
  Canvas small(3, 2, kRed);
  Canvas big(10, 10, kBg);
  big.draw(small, 8, 9);  // partly outside
  CHECK(big.at(8, 9) == kRed);
  CHECK(big.at(9, 9) == kRed);
  CHECK(big.at(7, 9) == kBg);
  CHECK(big.at(8, 8) == kBg);
}

TEST_CASE("png canvas: save_png writes the file atomically") {
  fer::test::TempDir dir;
  Canvas c(16, 8, kBg);
  c.fill_rect(0, 0, 4, 4, kRed);
  const std::string path = (dir / "chart.png").string();
  c.save_png(path);
  c.fill_rect(0, 0, 4, 4, kGreen);
  c.save_png(path);  // overwrite
  const auto d = decode_png(fer::tools::read_file_bytes(path));
  REQUIRE(d.ok());
  CHECK(d.width == 16);
  CHECK(d.at(1, 1) == kGreen);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 1);  // no temp file left behind
  CHECK_THROWS_AS(c.save_png((dir / "no/such/folder/x.png").string()), fer::Error);
}

TEST_CASE("png canvas: the palette has 8 distinct colours, then cycles") {
  namespace colors = fer::tools::colors;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < i; ++j) CHECK_MESSAGE(!(colors::palette(i) == colors::palette(j)), i << " vs " << j);
  CHECK(colors::palette(8) == colors::palette(0));
  CHECK(colors::palette(-1) == colors::palette(7));
}
