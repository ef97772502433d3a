// The tiny training run of tests/unit/test_tiny_training.cpp on CUDA: its loss falls 10x too and
// tracks the CPU losses (same init, same batch; float summation orders differ, so the curves agree
// to a tolerance that grows with the steps: 2% relative here).
#include <doctest/doctest.h>

#include <cmath>

#include "tests/unit/tiny_model.h"

using namespace fer;

TEST_CASE("tiny model trains on CUDA and tracks the CPU losses") {
  const std::vector<double> cpu = test::train_tiny_model(Device::cpu, 50);
  const std::vector<double> gpu = test::train_tiny_model(Device::cuda, 50);
  CHECK(gpu.back() < gpu.front() / 10.0);
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(gpu[i] - cpu[i]) <= 1e-4 + 0.02 * std::abs(cpu[i]));
  }
}
