// tools/common/font.h: a built-in 5x7 bitmap font for printable ASCII (' ' to '~').
//
// Each glyph is 7 rows of 5 pixels; bit 4 of a row is the leftmost column. Glyphs sit in a 6x8
// cell (one column and one row of spacing), so text needs no TrueType and no extra dependency.
// Characters outside ' '..'~' are drawn as '?'.
#pragma once

#include <array>
#include <cstdint>

namespace fer::tools::font {

inline constexpr int kGlyphWidth = 5;   // pixels drawn per row
inline constexpr int kGlyphHeight = 7;  // rows drawn
inline constexpr int kAdvance = 6;      // horizontal step from one character to the next
inline constexpr int kLineHeight = 8;   // vertical step from one line to the next

using Glyph = std::array<uint8_t, kGlyphHeight>;

// The rows of the glyph for `c`.
const Glyph& glyph(char c);
// Whether the glyph for `c` has its pixel (col, row) set; false outside the 5x7 box.
bool glyph_pixel(char c, int col, int row);

}  // namespace fer::tools::font
