// Test runner for the `cuda` suites: without a usable device it prints a visible skip line and
// exits with 77, which ctest reports as "Skipped" (SKIP_RETURN_CODE).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "kernels/device.h"

int main(int argc, char** argv) {
  if (fer::cuda::device_count() == 0) {
    std::printf("skipped: no CUDA device (%s)\n", fer::cuda::no_device_reason().c_str());
    return 77;
  }
  std::printf("CUDA device: %s\n", fer::cuda::device_description().c_str());
  doctest::Context context(argc, argv);
  return context.run();
}
