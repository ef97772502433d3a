// tests/support/fer_data.h: where the shared FER2013 data lives ($FER_DATA), for `data` tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace fer::test {
inline std::filesystem::path fer_data_root() {
  const char* root = std::getenv("FER_DATA");
  return root ? std::filesystem::path(root) : std::filesystem::path();
}
}  // namespace fer::test
