// Batch and layer normalisation (kernels/batchnorm.h, layernorm.h via tensor/ops_norm.cpp):
// finite-difference gradient checks in double for training and eval mode, values against a direct
// evaluation of the formulas, PyTorch's running-statistics update (unbiased variance), the M == 1
// error, and the BatchNorm2d module's train/eval behaviour.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "nn/layers.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

using namespace fer;

namespace {
Tensor rand64(const Shape& shape, uint32_t seed, bool grad = true, double lo = -1, double hi = 1) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(gen);
  Tensor t = Tensor::from_vector(v, shape);
  if (grad) t.requires_grad_();
  return t;
}
void require_pass(const std::vector<GradcheckResult>& r, size_t inputs) {
  INFO(format_gradcheck(r));
  REQUIRE(r.size() == inputs);
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}
}  // namespace

TEST_CASE("batch_norm training: values and running statistics follow the formulas") {
  const Tensor x = rand64({3, 2, 2, 2}, 1, false);
  const Tensor g = Tensor::from_vector(std::vector<double>{1.5, -0.5}, {2});
  const Tensor b = Tensor::from_vector(std::vector<double>{0.25, 1.0}, {2});
  Tensor rm = Tensor::from_vector(std::vector<double>{0.1, -0.2}, {2});
  Tensor rv = Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2});
  const Tensor y = ops::batch_norm(x, g, b, rm, rv, true, 0.1, 1e-5);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  const auto rmv = rm.to_vector<double>(), rvv = rv.to_vector<double>();
  const double rm0[2] = {0.1, -0.2}, rv0[2] = {1.0, 2.0}, gv[2] = {1.5, -0.5}, bv[2] = {0.25, 1.0};
  for (int c = 0; c < 2; ++c) {
    std::vector<double> vals;
    for (int n = 0; n < 3; ++n)
      for (int i = 0; i < 4; ++i) vals.push_back(xv[static_cast<size_t>((n * 2 + c) * 4 + i)]);
    double mean = 0, var = 0;
    for (double v : vals) mean += v / 12.0;
    for (double v : vals) var += (v - mean) * (v - mean) / 12.0;
    for (int n = 0; n < 3; ++n)
      for (int i = 0; i < 4; ++i) {
        const size_t k = static_cast<size_t>((n * 2 + c) * 4 + i);
        CHECK(yv[k] == doctest::Approx((xv[k] - mean) / std::sqrt(var + 1e-5) * gv[c] + bv[c]).epsilon(1e-12));
      }
    CHECK(rmv[static_cast<size_t>(c)] == doctest::Approx(0.9 * rm0[c] + 0.1 * mean).epsilon(1e-12));
    CHECK(rvv[static_cast<size_t>(c)] == doctest::Approx(0.9 * rv0[c] + 0.1 * var * 12.0 / 11.0).epsilon(1e-12));
  }
}

TEST_CASE("batch_norm: gradients of x, gamma, beta in training and eval mode (4-D and 2-D)") {
  for (bool training : {true, false}) {
    for (const Shape& shape : {Shape{3, 5, 7, 2}, Shape{4, 3}}) {
      CAPTURE(training);
      const int64_t c = shape[1];
      const Tensor x = rand64(shape, 2);
      const Tensor g = rand64({c}, 3, true, 0.5, 1.5), b = rand64({c}, 4);
      const Tensor rm = rand64({c}, 5, false), rv = rand64({c}, 6, false, 0.5, 2.0);
      require_pass(gradcheck(
                       [&](const std::vector<Tensor>& in) {
                         // fresh copies: the training forward updates running stats in place
                         return ops::batch_norm(in[0], in[1], in[2], rm.clone(), rv.clone(), training, 0.1, 1e-5);
                       },
                       {x, g, b}),
                   3);
    }
  }
  // affine = false (no gamma/beta)
  const Tensor x = rand64({2, 3, 3, 3}, 7);
  require_pass(gradcheck([&](const std::vector<Tensor>& in) {
                 return ops::batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
               },
                         {x}),
               1);
}

TEST_CASE("batch_norm: one value per channel in training is an error; eval needs running stats") {
  const Tensor x = rand64({1, 3, 1, 1}, 8, false);
  CHECK_THROWS_WITH_AS(ops::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5),
                       doctest::Contains("more than 1 value per channel"), fer::Error);
  CHECK_THROWS_AS(ops::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, 1e-5), fer::Error);
  const Tensor bad_gamma = rand64({4}, 9, false);
  CHECK_THROWS_WITH_AS(ops::batch_norm(rand64({2, 3, 2, 2}, 10, false), bad_gamma, Tensor(), Tensor(), Tensor(), true,
                                       0.1, 1e-5),
                       doctest::Contains("weight (gamma) must be [3]"), fer::Error);
}

TEST_CASE("BatchNorm2d module: training updates the statistics and counter, eval uses them") {
  nn::BatchNorm2d bn(2);
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 10, 20, 30, 40}, {2, 2, 1, 2});
  bn.train(true);
  (void)bn(x);
  CHECK(bn.num_batches_tracked.item() == 1);
  const auto rm = bn.running_mean.to_vector<float>();
  // channel 0: values 1, 2, 10, 20 -> mean 8.25; running = 0.9 * 0 + 0.1 * 8.25
  CHECK(rm[0] == doctest::Approx(0.825));
  bn.eval();
  const Tensor y = bn(x);
  (void)y;
  CHECK(bn.num_batches_tracked.item() == 1);
  CHECK(bn.running_mean.to_vector<float>()[0] == doctest::Approx(0.825));
}

TEST_CASE("layer_norm: values and gradients over the last dimension") {
  const Tensor x = rand64({3, 2, 5}, 11);
  const Tensor g = rand64({5}, 12, true, 0.5, 1.5), b = rand64({5}, 13);
  const Tensor y = ops::layer_norm(x, g, b, 1e-5);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>(), gv = g.to_vector<double>(),
             bv = b.to_vector<double>();
  for (int r = 0; r < 6; ++r) {
    double mean = 0, var = 0;
    for (int j = 0; j < 5; ++j) mean += xv[static_cast<size_t>(r * 5 + j)] / 5;
    for (int j = 0; j < 5; ++j) var += std::pow(xv[static_cast<size_t>(r * 5 + j)] - mean, 2) / 5;
    for (int j = 0; j < 5; ++j) {
      const size_t k = static_cast<size_t>(r * 5 + j);
      CHECK(yv[k] == doctest::Approx((xv[k] - mean) / std::sqrt(var + 1e-5) * gv[static_cast<size_t>(j)] +
                                     bv[static_cast<size_t>(j)])
                         .epsilon(1e-12));
    }
  }
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], in[1], in[2], 1e-5); },
                         {x, g, b}),
               3);
}
