// Tensor-level batch norm and layer norm through autograd (ops::batch_norm, ops::layer_norm), and
// the nn::BatchNorm2d / nn::LayerNorm modules in training and eval mode.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {
Tensor rand64(const Shape& s, uint64_t seed, double lo = -1, double hi = 1, bool grad = true) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, lo, hi, g);
  if (grad) t.requires_grad_();
  return t;
}
void require_pass(const std::vector<GradcheckResult>& r) {
  INFO(format_gradcheck(r));
  REQUIRE(!r.empty());
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}
}  // namespace

TEST_CASE("batch_norm op: gradients in training and eval mode, NCHW and [N, C]") {
  for (const Shape& shape : {Shape{3, 5, 7, 2}, Shape{6, 4}}) {
    CAPTURE(shape_str(shape));
    const int64_t c = shape[1];
    const Tensor x = rand64(shape, 1, -2, 2);
    const Tensor gamma = rand64({c}, 2, 0.5, 1.5), beta = rand64({c}, 3);
    const Tensor rm = rand64({c}, 4, -1, 1, false), rv = rand64({c}, 5, 0.5, 2, false);
    // training, batch statistics (running stats would only be side effects: left out here)
    require_pass(gradcheck(
        [&](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
        },
        {x, gamma, beta}));
    // training without the affine parameters
    require_pass(gradcheck(
        [&](const std::vector<Tensor>& in) {
          return ops::batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
        },
        {x}));
    // eval: running statistics are constants
    require_pass(gradcheck(
        [&](const std::vector<Tensor>& in) { return ops::batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-3); },
        {x, gamma, beta}));
  }
}

TEST_CASE("batch_norm op: running statistics update in place, eval reads them") {
  // x [2, 2, 1, 2]: channel 0 = {1, 2, 3, 6} (mean 3, biased var 3.5, unbiased 14/3),
  //                 channel 1 = {10, 10, 10, 14} (mean 11, biased var 3, unbiased 4)
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 10, 10, 3, 6, 10, 14}, {2, 2, 1, 2});
  Tensor rm = Tensor::from_vector(std::vector<double>{0, 0.5}, {2});
  Tensor rv = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  const Tensor y = ops::batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  const auto m = rm.to_vector<double>(), v = rv.to_vector<double>();
  CHECK(m[0] == doctest::Approx(0.3));
  CHECK(m[1] == doctest::Approx(1.55));
  CHECK(v[0] == doctest::Approx(0.9 + 0.1 * 14.0 / 3));
  CHECK(v[1] == doctest::Approx(1.8 + 0.4));
  CHECK(y.to_vector<double>()[5] == doctest::Approx((6 - 3) / std::sqrt(3.5 + 1e-5)));
  // eval: y = (x - running_mean) / sqrt(running_var + eps), and the buffers stay as they are
  const Tensor ye = ops::batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-5);
  CHECK(ye.to_vector<double>()[5] == doctest::Approx((6 - 0.3) / std::sqrt(v[0] + 1e-5)));
  CHECK(rm.to_vector<double>() == m);
  CHECK(rv.to_vector<double>() == v);
  // eval without tracked statistics falls back to the batch statistics (track_running_stats=False)
  const Tensor yb = ops::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, 1e-5);
  CHECK(yb.to_vector<double>() == y.to_vector<double>());
}

TEST_CASE("batch_norm op: the eval backward keeps the statistics of its forward") {
  const Tensor x = rand64({4, 3, 2, 2}, 7);
  Tensor rm = Tensor::zeros({3}, DType::f64), rv = Tensor::full({3}, 4.0, DType::f64);
  const Tensor y = ops::batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, 0.0);
  // a training step moves the buffers before the eval graph is back-propagated
  ops::batch_norm(x.detach(), Tensor(), Tensor(), rm, rv, true, 0.5, 1e-5);
  CHECK(rv.to_vector<double>()[0] != 4.0);
  y.backward(Tensor::ones(y.shape(), DType::f64));
  for (double g : x.grad().to_vector<double>()) CHECK(g == doctest::Approx(0.5));  // 1/sqrt(4)
}

TEST_CASE("batch_norm op: argument errors") {
  const Tensor x1 = Tensor::ones({1, 3}, DType::f64);
  Tensor rm = Tensor::zeros({3}, DType::f64), rv = Tensor::ones({3}, DType::f64);
  CHECK_THROWS_WITH_AS(ops::batch_norm(x1, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5),
                       doctest::Contains("expected more than 1 value per channel when training"), Error);
  CHECK(ops::batch_norm(x1, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-5).shape() == Shape{1, 3});  // eval is fine
  CHECK_THROWS_WITH_AS(
      ops::batch_norm(Tensor::ones({2, 3, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5),
      doctest::Contains("expected x [N, C, H, W] or [N, C]"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}, DType::f64), Tensor::ones({4}, DType::f64), Tensor(),
                                       Tensor(), Tensor(), true, 0.1, 1e-5),
                       doctest::Contains("gamma must be [3]"), Error);
  CHECK_THROWS_WITH_AS(
      ops::batch_norm(Tensor::ones({2, 3}, DType::f64), Tensor(), Tensor(), rm, Tensor(), true, 0.1, 1e-5),
      doctest::Contains("both running_mean and running_var"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}), Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5),
                       doctest::Contains("running_mean dtype"), Error);
}

TEST_CASE("layer_norm op: values and gradients over the last dimension") {
  const Tensor x = rand64({2, 3, 5}, 11, -2, 2);
  const Tensor gamma = rand64({5}, 12, 0.5, 1.5), beta = rand64({5}, 13);
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], in[1], in[2], 1e-5); },
                         {x, gamma, beta}));
  require_pass(
      gradcheck([&](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], Tensor(), Tensor(), 1e-5); }, {x}));
  // each row of the output has mean beta-weighted... without affine: mean 0, biased variance ~1
  const auto y = ops::layer_norm(x.detach(), Tensor(), Tensor(), 0.0).to_vector<double>();
  for (int r = 0; r < 6; ++r) {
    double m = 0, q = 0;
    for (int j = 0; j < 5; ++j) m += y[r * 5 + j];
    for (int j = 0; j < 5; ++j) q += y[r * 5 + j] * y[r * 5 + j];
    CHECK(std::fabs(m) < 1e-12);
    CHECK(q / 5 == doctest::Approx(1.0));
  }
  CHECK_THROWS_WITH_AS(ops::layer_norm(x, Tensor::ones({4}, DType::f64), Tensor(), 1e-5),
                       doctest::Contains("layer_norm: gamma must be [5]"), Error);
}

// The modules (nn/layers.cpp).
#include "nn/layers.h"

TEST_CASE("BatchNorm2d module: training updates running stats and the batch counter, eval uses them") {
  nn::BatchNorm2d bn(3, 1e-5, 0.1);
  Generator g(21);
  Tensor x = Tensor::empty({4, 3, 5, 5});
  uniform_(x, 1, 3, g);
  CHECK(bn.num_batches_tracked.item() == 0);
  bn.train();
  Tensor y = bn(x);
  CHECK(bn.num_batches_tracked.item() == 1);
  // expected buffers from the per-channel statistics of x (M = 100)
  const auto xv = x.to_vector<float>();
  for (int64_t c = 0; c < 3; ++c) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 25; ++i) s += xv[(n * 3 + c) * 25 + i];
    const double mean = s / 100;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 25; ++i) q += (xv[(n * 3 + c) * 25 + i] - mean) * (xv[(n * 3 + c) * 25 + i] - mean);
    CHECK(bn.running_mean.to_vector<float>()[c] == doctest::Approx(0.1 * mean).epsilon(1e-5));
    CHECK(bn.running_var.to_vector<float>()[c] == doctest::Approx(0.9 + 0.1 * q / 99).epsilon(1e-5));
  }
  // the gradient reaches weight and bias
  ops::sum(y).backward();
  REQUIRE(bn.weight.grad().defined());
  CHECK(bn.bias.grad().to_vector<float>()[1] == doctest::Approx(100.0));
  bn(x);
  CHECK(bn.num_batches_tracked.item() == 2);

  bn.eval();
  const auto rm = bn.running_mean.to_vector<float>(), rv = bn.running_var.to_vector<float>();
  const auto ye = bn(x).to_vector<float>();
  CHECK(bn.num_batches_tracked.item() == 2);  // eval does not count
  CHECK(bn.running_mean.to_vector<float>() == rm);
  CHECK(ye[30] == doctest::Approx((xv[30] - rm[1]) / std::sqrt(rv[1] + 1e-5)).epsilon(1e-5));  // element (0,1,0,5)

  // one value per channel: an error in training (and not counted), fine in eval
  const Tensor x1 = Tensor::ones({1, 3, 1, 1});
  CHECK(bn(x1).shape() == Shape{1, 3, 1, 1});
  bn.train();
  CHECK_THROWS_WITH_AS(bn(x1), doctest::Contains("more than 1 value per channel"), Error);
  CHECK(bn.num_batches_tracked.item() == 2);
}

TEST_CASE("LayerNorm module normalises the last dimension with its weight and bias") {
  nn::LayerNorm ln(5);
  ln.weight.fill_(2.0);
  ln.bias.fill_(0.5);
  Generator g(22);
  Tensor x = Tensor::empty({3, 5});
  uniform_(x, -1, 1, g);
  const auto y = ln(x).to_vector<float>();
  const auto ref = ops::layer_norm(x, Tensor(), Tensor(), 1e-5).to_vector<float>();
  for (size_t k = 0; k < y.size(); ++k) CHECK(y[k] == doctest::Approx(2 * ref[k] + 0.5).epsilon(1e-6));
}
