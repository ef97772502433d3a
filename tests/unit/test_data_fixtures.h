// tests/unit/test_data_fixtures.h: small generated fixtures for the data/ unit tests (temp dirs,
// CSV rows, image files). Nothing here reads the shared FER2013 data.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"

namespace fer::test {

// A fresh temporary folder, removed (with its contents) when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("fer_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

// A deterministic 48x48 test pattern: pixel p of pattern `id` = (p * 7 + id * 31) % 256.
inline std::vector<uint8_t> pattern(int id) {
  std::vector<uint8_t> img(data::kImagePixels);
  for (int p = 0; p < data::kImagePixels; ++p) img[p] = static_cast<uint8_t>((p * 7 + id * 31) % 256);
  return img;
}

// "v0 v1 ... v2303" for a pixel vector (any length, so malformed counts can be built too).
inline std::string pixel_text(const std::vector<uint8_t>& img) {
  std::string s;
  for (size_t p = 0; p < img.size(); ++p) {
    if (p) s.push_back(' ');
    s += std::to_string(img[p]);
  }
  return s;
}

// One well-formed CSV row "label,pixels,usage" (no line end).
inline std::string csv_row(int label, int pattern_id, const std::string& usage) {
  return std::to_string(label) + "," + pixel_text(pattern(pattern_id)) + "," + usage;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Writes a 48x48 gray image (any format by extension) in a folder created on demand.
inline void write_gray48(const std::filesystem::path& path, const std::vector<uint8_t>& img) {
  std::filesystem::create_directories(path.parent_path());
  data::write_image(path, img.data(), data::kImageSide, data::kImageSide, 1);
}

}  // namespace fer::test
