// CUDA vs CPU parity for count_correct (kernels/accuracy.h): integer counts, identical, on shapes
// around the 256-thread block (one row per thread, several rows per thread).
#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vector>

#include "tensor/ops.h"

using namespace fer;

TEST_CASE("count_correct cuda == cpu on odd shapes, ties and NaN") {
  std::mt19937 rng(11);
  for (int64_t n : {1, 3, 255, 256, 257, 1000, 4099}) {
    for (int64_t k : {1, 7, 10}) {
      std::vector<float> z(static_cast<size_t>(n * k));
      std::vector<int32_t> labels(static_cast<size_t>(n));
      std::uniform_int_distribution<int> level(-2, 2);
      for (auto& v : z) v = static_cast<float>(level(rng));
      z[static_cast<size_t>((n * k) / 2)] = std::numeric_limits<float>::quiet_NaN();
      for (auto& l : labels) l = std::uniform_int_distribution<int>(0, static_cast<int>(k) - 1)(rng);
      const Tensor logits = Tensor::from_vector(z, {n, k});
      const Tensor lab = Tensor::from_vector(labels, {n});
      const double cpu = ops::count_correct(logits, lab).item();
      const double gpu = ops::count_correct(logits.to(Device::cuda), lab.to(Device::cuda)).item();
      CHECK_MESSAGE(gpu == cpu, "n=" << n << " k=" << k);
    }
  }
}
