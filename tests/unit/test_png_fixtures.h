// tests/unit/test_png_fixtures.h: decoding PNG bytes back (stb_image) for the chart and canvas tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/stb_include.h"
#include "tools/common/png_canvas.h"

namespace fer::test {

struct DecodedPng {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> rgb;  // 3 bytes per pixel
  bool ok() const { return width > 0 && height > 0; }
  tools::Rgb at(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
    return tools::Rgb{rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  int64_t count(tools::Rgb c) const {
    int64_t n = 0;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) n += at(x, y) == c;
    return n;
  }
};

inline DecodedPng decode_png(const std::string& bytes) {
  DecodedPng d;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()),
                                            static_cast<int>(bytes.size()), &d.width, &d.height, &d.channels, 3);
  if (px == nullptr) return DecodedPng{};
  d.rgb.assign(px, px + static_cast<size_t>(d.width) * static_cast<size_t>(d.height) * 3);
  stbi_image_free(px);
  return d;
}

}  // namespace fer::test
