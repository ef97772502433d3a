// count_correct (kernels/accuracy.h, ops::count_correct): the device-side training accuracy must
// count exactly the rows the host loop of the trainer counted before (std::max_element argmax).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tensor/ops.h"

using namespace fer;

namespace {
int64_t host_count(const std::vector<float>& z, const std::vector<int32_t>& labels, int64_t k) {
  int64_t c = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = z.data() + i * static_cast<size_t>(k);
    c += (std::max_element(row, row + k) - row) == labels[i];
  }
  return c;
}
}  // namespace

TEST_CASE("count_correct equals the host argmax count on random logits, ties, NaN and odd shapes") {
  std::mt19937 rng(7);
  for (int64_t n : {1, 2, 7, 64, 257}) {
    for (int64_t k : {1, 2, 7}) {
      std::vector<float> z(static_cast<size_t>(n * k));
      std::vector<int32_t> labels(static_cast<size_t>(n));
      std::uniform_int_distribution<int> level(-3, 3);  // few levels: many ties
      for (auto& v : z) v = static_cast<float>(level(rng));
      if (n * k > 5) z[5] = std::numeric_limits<float>::quiet_NaN();
      if (n * k > 0) z[0] = std::numeric_limits<float>::quiet_NaN();
      for (auto& l : labels) l = std::uniform_int_distribution<int>(0, static_cast<int>(k) - 1)(rng);
      const Tensor logits = Tensor::from_vector(z, {n, k});
      const Tensor lab = Tensor::from_vector(labels, {n});
      const Tensor c = ops::count_correct(logits, lab);
      CHECK(c.dtype() == DType::i64);
      CHECK(c.numel() == 1);
      CHECK(static_cast<int64_t>(c.item()) == host_count(z, labels, k));
      // f64 twin counts the same rows
      std::vector<double> zd(z.begin(), z.end());
      CHECK(ops::count_correct(Tensor::from_vector(zd, {n, k}), lab).item() == c.item());
    }
  }
}

TEST_CASE("count_correct: a known batch, and clear errors on bad shapes") {
  const Tensor logits = Tensor::from_vector(std::vector<float>{1, 5, 2, /**/ 9, 0, 9, /**/ 0, 0, 1}, {3, 3});
  CHECK(ops::count_correct(logits, Tensor::from_vector(std::vector<int32_t>{1, 0, 2}, {3})).item() == 3);
  CHECK(ops::count_correct(logits, Tensor::from_vector(std::vector<int32_t>{1, 2, 0}, {3})).item() == 1);
  CHECK_THROWS_WITH_AS(ops::count_correct(logits, Tensor::from_vector(std::vector<int32_t>{1, 2}, {2})),
                       doctest::Contains("expected i32 labels [3]"), Error);
  CHECK_THROWS_WITH_AS(ops::count_correct(Tensor::zeros({3}), Tensor::from_vector(std::vector<int32_t>{1}, {1})),
                       doctest::Contains("expected logits [N, K]"), Error);
}
