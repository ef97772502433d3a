// data/preview.cpp: the PNG grid of examples per class.
#include "data/preview.h"

#include <numeric>

#include "data/image_io.h"
#include "kernels/common.h"

namespace fer::data {

void write_class_grid_png(const Dataset& ds, const std::filesystem::path& path, int per_class, int zoom,
                          const std::vector<int64_t>* indices) {
  FER_CHECK(per_class > 0 && zoom > 0 && zoom <= 16,
            "write_class_grid_png: per_class must be > 0 and zoom 1..16, got " << per_class << ", " << zoom);
  const int k = ds.num_classes();
  FER_CHECK(k > 0, "write_class_grid_png: the dataset has no classes");
  // The examples: row c gets the first per_class images of class c.
  std::vector<std::vector<int64_t>> rows(k);
  const int64_t n = indices ? static_cast<int64_t>(indices->size()) : ds.size();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t i = indices ? (*indices)[t] : t;
    FER_CHECK(i >= 0 && i < ds.size(), "write_class_grid_png: index " << i << " is outside 0.." << ds.size() - 1);
    auto& row = rows[ds.labels[i]];
    if (static_cast<int>(row.size()) < per_class) row.push_back(i);
  }
  const int gap = 2 * zoom, cell = kImageSide * zoom;
  const int width = per_class * cell + (per_class + 1) * gap;
  const int height = k * cell + (k + 1) * gap;
  std::vector<uint8_t> canvas(static_cast<size_t>(width) * height, 128);
  for (int c = 0; c < k; ++c) {
    for (size_t e = 0; e < rows[c].size(); ++e) {
      const uint8_t* img = ds.image(rows[c][e]);
      const int x0 = gap + static_cast<int>(e) * (cell + gap), y0 = gap + c * (cell + gap);
      for (int y = 0; y < cell; ++y)
        for (int x = 0; x < cell; ++x)
          canvas[static_cast<size_t>(y0 + y) * width + x0 + x] = img[(y / zoom) * kImageSide + x / zoom];
    }
  }
  write_image(path, canvas.data(), width, height, 1);
}

}  // namespace fer::data
