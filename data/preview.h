// data/preview.h: look at a dataset without any tool: a PNG grid of examples per class.
//
// Layout: one row per class in class order (row k = classes.names[k]; fer7: angry, disgust, fear,
// happy, sad, surprise, neutral), `per_class` examples per row, the first ones in the order of
// `indices` (all images when null). Each 48x48 image is magnified `zoom` times (nearest
// neighbour); images are separated by 2 * zoom pixels of mid-gray. A class with fewer examples
// leaves its remaining cells gray.
#pragma once

#include <filesystem>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

void write_class_grid_png(const Dataset& ds, const std::filesystem::path& path, int per_class = 10, int zoom = 2,
                          const std::vector<int64_t>* indices = nullptr);

}  // namespace fer::data
