// Test runner for the `data` suites: they need $FER_DATA (the folder holding fer2013/ and
// fer2013-sample.csv); without it they print a visible skip line and exit 77 (ctest "Skipped").
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

int main(int argc, char** argv) {
  const char* root = std::getenv("FER_DATA");
  if (root == nullptr || !std::filesystem::is_directory(std::filesystem::path(root) / "fer2013")) {
    std::printf("skipped: FER_DATA is not set or has no fer2013/ folder (FER_DATA=%s)\n", root ? root : "");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
