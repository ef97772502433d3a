// Batch normalisation (kernels/batchnorm.h): values against a straightforward reference, running
// statistics against hand-computed numbers (unbiased variance), the M == 1 training error, argument
// errors, numerical stability with a large mean, and gradient checks (double, central differences)
// of every backward in training and eval mode, with and without the affine parameters.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

std::string describe(const BatchNormDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

BatchNormDims dims(int64_t n, int64_t c, int64_t h, int64_t w) {
  BatchNormDims d;
  d.n = n, d.c = c, d.h = h, d.w = w;
  return d;
}

// The shapes every test runs: odd NCHW, [N,C] (H = W = 1), one channel, a 1x1 plane with N = 2.
std::vector<BatchNormDims> configs() {
  return {dims(3, 5, 7, 2), dims(6, 4, 1, 1), dims(2, 1, 3, 3), dims(2, 3, 1, 1), dims(1, 2, 3, 5)};
}

// Element (n, c, i) of an NCHW buffer.
size_t at(const BatchNormDims& d, int64_t n, int64_t c, int64_t i) {
  return size_t((n * d.c + c) * d.hw() + i);
}

// Reference training forward: gather the channel's values, textbook mean and biased variance.
std::vector<double> reference_train(const BatchNormDims& d, const std::vector<double>& x, const double* gamma,
                                    const double* beta, double eps, std::vector<double>* mean_out,
                                    std::vector<double>* var_out) {
  std::vector<double> y(x.size());
  for (int64_t c = 0; c < d.c; ++c) {
    std::vector<double> v;
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t i = 0; i < d.hw(); ++i) v.push_back(x[at(d, n, c, i)]);
    double mean = 0;
    for (double a : v) mean += a;
    mean /= double(v.size());
    double var = 0;
    for (double a : v) var += (a - mean) * (a - mean);
    var /= double(v.size());
    if (mean_out) mean_out->push_back(mean);
    if (var_out) var_out->push_back(var);
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t i = 0; i < d.hw(); ++i) {
        const size_t k = at(d, n, c, i);
        y[k] = (x[k] - mean) / std::sqrt(var + eps) * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
      }
  }
  return y;
}

}  // namespace

TEST_CASE("batchnorm training forward matches the textbook formula") {
  for (const BatchNormDims& d : configs()) {
    CAPTURE(describe(d));
    const auto x = test::random_vector(d.size(), 1, -2, 3);
    const auto gamma = test::random_vector(d.c, 2, 0.5, 1.5), beta = test::random_vector(d.c, 3);
    for (bool affine : {true, false}) {
      CAPTURE(affine);
      const double* g = affine ? gamma.data() : nullptr;
      const double* b = affine ? beta.data() : nullptr;
      std::vector<double> ref_mean, ref_var;
      const auto ref = reference_train(d, x, g, b, 1e-5, &ref_mean, &ref_var);
      std::vector<double> y(d.size(), std::nan("")), sm(d.c, std::nan("")), si(d.c, std::nan(""));
      cpu::batchnorm2d_forward_train<double>(d, x.data(), g, b, 1e-5, 0.1, nullptr, nullptr, y.data(), sm.data(),
                                             si.data());
      for (size_t k = 0; k < y.size(); ++k) REQUIRE(y[k] == doctest::Approx(ref[k]).epsilon(1e-12));
      for (int64_t c = 0; c < d.c; ++c) {
        CHECK(sm[c] == doctest::Approx(ref_mean[c]).epsilon(1e-12));
        CHECK(si[c] == doctest::Approx(1 / std::sqrt(ref_var[c] + 1e-5)).epsilon(1e-12));
      }
      // Without gamma/beta every channel of y has mean 0 and (biased) variance var/(var+eps).
      if (!affine) {
        for (int64_t c = 0; c < d.c; ++c) {
          double m = 0, q = 0;
          for (int64_t n = 0; n < d.n; ++n)
            for (int64_t i = 0; i < d.hw(); ++i) m += y[at(d, n, c, i)];
          m /= double(d.m());
          for (int64_t n = 0; n < d.n; ++n)
            for (int64_t i = 0; i < d.hw(); ++i) q += (y[at(d, n, c, i)] - m) * (y[at(d, n, c, i)] - m);
          CHECK(std::fabs(m) < 1e-12);
          CHECK(q / double(d.m()) == doctest::Approx(ref_var[c] / (ref_var[c] + 1e-5)).epsilon(1e-10));
        }
      }
    }
  }
}

TEST_CASE("batchnorm running statistics use the unbiased variance (hand-computed)") {
  // x [N=2, C=2, H=1, W=2]:  channel 0 = {1, 2 | 3, 6},  channel 1 = {10, 10 | 10, 14}
  //   channel 0: mean 3, squared deviations 4+1+0+9 = 14, biased var 14/4 = 3.5, unbiased 14/3
  //   channel 1: mean 11, squared deviations 1+1+1+9 = 12, biased var 3, unbiased 4
  const BatchNormDims d = dims(2, 2, 1, 2);
  const std::vector<double> x = {1, 2, 10, 10, 3, 6, 10, 14};
  std::vector<double> rm = {0, 0.5}, rv = {1, 2};
  std::vector<double> y(8), sm(2), si(2);
  cpu::batchnorm2d_forward_train<double>(d, x.data(), nullptr, nullptr, 1e-5, 0.1, rm.data(), rv.data(), y.data(),
                                         sm.data(), si.data());
  CHECK(sm[0] == doctest::Approx(3.0));
  CHECK(sm[1] == doctest::Approx(11.0));
  CHECK(si[0] == doctest::Approx(1 / std::sqrt(3.5 + 1e-5)));  // normalisation uses the BIASED variance
  CHECK(si[1] == doctest::Approx(1 / std::sqrt(3.0 + 1e-5)));
  CHECK(rm[0] == doctest::Approx(0.9 * 0 + 0.1 * 3));         // 0.3
  CHECK(rm[1] == doctest::Approx(0.9 * 0.5 + 0.1 * 11));      // 1.55
  CHECK(rv[0] == doctest::Approx(0.9 * 1 + 0.1 * 14.0 / 3));  // 1.3666...
  CHECK(rv[1] == doctest::Approx(0.9 * 2 + 0.1 * 4));         // 2.2
  CHECK(y[1] == doctest::Approx((2 - 3) / std::sqrt(3.5 + 1e-5)));
  // A second step moves the running stats again from their new values; momentum 1 replaces them.
  cpu::batchnorm2d_forward_train<double>(d, x.data(), nullptr, nullptr, 1e-5, 1.0, rm.data(), rv.data(), y.data(),
                                         sm.data(), si.data());
  CHECK(rm[0] == doctest::Approx(3.0));
  CHECK(rv[0] == doctest::Approx(14.0 / 3));
  CHECK(rv[1] == doctest::Approx(4.0));
  // float instantiation: same numbers
  std::vector<float> xf(x.begin(), x.end()), rmf = {0, 0.5f}, rvf = {1, 2}, yf(8), smf(2), sif(2);
  cpu::batchnorm2d_forward_train<float>(d, xf.data(), nullptr, nullptr, 1e-5, 0.1, rmf.data(), rvf.data(), yf.data(),
                                        smf.data(), sif.data());
  CHECK(rvf[0] == doctest::Approx(0.9 + 0.1 * 14.0 / 3).epsilon(1e-6));
  CHECK(rmf[1] == doctest::Approx(1.55).epsilon(1e-6));
}

TEST_CASE("batchnorm eval forward uses the running statistics") {
  const BatchNormDims d = dims(3, 5, 7, 2);
  const auto x = test::random_vector(d.size(), 4);
  const auto rm = test::random_vector(d.c, 5), rv = test::random_vector(d.c, 6, 0.2, 2.0);
  const auto g = test::random_vector(d.c, 7), b = test::random_vector(d.c, 8);
  std::vector<double> y(d.size(), std::nan(""));
  cpu::batchnorm2d_forward_eval<double>(d, x.data(), g.data(), b.data(), rm.data(), rv.data(), 1e-3, y.data());
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c)
      for (int64_t i = 0; i < d.hw(); ++i) {
        const size_t k = at(d, n, c, i);
        REQUIRE(y[k] == doctest::Approx((x[k] - rm[c]) / std::sqrt(rv[c] + 1e-3) * g[c] + b[c]).epsilon(1e-12));
      }
  // A single value per channel is fine in eval mode (no statistics are estimated).
  const BatchNormDims one = dims(1, 2, 1, 1);
  std::vector<double> x1 = {4, 5}, y1(2);
  cpu::batchnorm2d_forward_eval<double>(one, x1.data(), nullptr, nullptr, rm.data(), rv.data(), 1e-3, y1.data());
  CHECK(y1[1] == doctest::Approx((5 - rm[1]) / std::sqrt(rv[1] + 1e-3)));
}

TEST_CASE("batchnorm errors: one value per channel in training, missing buffers, bad shapes") {
  std::vector<double> x(8, 1.0), y(8), s1(8), s2(8), rm(8, 0.0), rv(8, 1.0);
  // M = N*H*W == 1: PyTorch's "Expected more than 1 value per channel when training"
  CHECK_THROWS_WITH_AS(cpu::batchnorm2d_forward_train<double>(dims(1, 3, 1, 1), x.data(), nullptr, nullptr, 1e-5, 0.1,
                                                              rm.data(), rv.data(), y.data(), s1.data(), s2.data()),
                       doctest::Contains("expected more than 1 value per channel when training"), Error);
  CHECK_THROWS_WITH_AS(cpu::batchnorm2d_backward_train<double>(dims(1, 3, 1, 1), x.data(), x.data(), nullptr, s1.data(),
                                                               s2.data(), y.data(), nullptr, nullptr),
                       doctest::Contains("more than 1 value per channel"), Error);
  CHECK(rm[0] == 0.0);  // nothing was touched
  CHECK_THROWS_WITH_AS(cpu::batchnorm2d_forward_train<double>(dims(2, 2, 1, 1), x.data(), nullptr, nullptr, 1e-5, 0.1,
                                                              rm.data(), nullptr, y.data(), s1.data(), s2.data()),
                       doctest::Contains("both running_mean and running_var, or neither"), Error);
  CHECK_THROWS_WITH_AS(cpu::batchnorm2d_forward_train<double>(dims(2, 2, 1, 1), x.data(), nullptr, nullptr, 1e-5, 0.1,
                                                              nullptr, nullptr, y.data(), nullptr, s2.data()),
                       doctest::Contains("save_mean and save_invstd are required"), Error);
  CHECK_THROWS_WITH_AS(cpu::batchnorm2d_forward_eval<double>(dims(2, 2, 1, 1), x.data(), nullptr, nullptr, nullptr,
                                                             nullptr, 1e-5, y.data()),
                       doctest::Contains("eval mode needs running_mean and running_var"), Error);
  CHECK_THROWS_WITH_AS(cpu::batchnorm2d_forward_eval<double>(dims(2, 0, 1, 1), x.data(), nullptr, nullptr, rm.data(),
                                                             rv.data(), 1e-5, y.data()),
                       doctest::Contains("batchnorm2d_forward_eval: input shape [N,C,H,W] = [2,0,1,1]"), Error);
  for (double eps : {-1e-5, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(eps);
    CHECK_THROWS_WITH_AS(cpu::batchnorm2d_forward_train<double>(dims(2, 2, 1, 1), x.data(), nullptr, nullptr, eps, 0.1,
                                                                rm.data(), rv.data(), y.data(), s1.data(), s2.data()),
                         doctest::Contains("eps must be finite and >= 0"), Error);
  }
}

TEST_CASE("batchnorm statistics are stable for a large mean (float)") {
  // Values 1000 + u(-1, 1): E[x^2] - E[x]^2 in float would lose all digits of the variance (~1/3).
  const BatchNormDims d = dims(4, 3, 9, 9);
  const auto xd = test::random_vector(d.size(), 9, 999, 1001);
  std::vector<float> x(xd.begin(), xd.end()), y(d.size()), sm(d.c), si(d.c), rm(d.c, 0.f), rv(d.c, 1.f);
  cpu::batchnorm2d_forward_train<float>(d, x.data(), nullptr, nullptr, 1e-5, 0.1, rm.data(), rv.data(), y.data(),
                                        sm.data(), si.data());
  std::vector<double> xr(x.begin(), x.end()), ref_mean, ref_var;  // the reference sees the same float inputs
  const auto ref = reference_train(d, xr, nullptr, nullptr, 1e-5, &ref_mean, &ref_var);
  for (int64_t c = 0; c < d.c; ++c) {
    CHECK(si[c] == doctest::Approx(1 / std::sqrt(ref_var[c] + 1e-5)).epsilon(1e-5));
    CHECK(rv[c] == doctest::Approx(0.9 + 0.1 * ref_var[c] * d.m() / (d.m() - 1)).epsilon(1e-5));
  }
  for (size_t k = 0; k < y.size(); ++k) REQUIRE(y[k] == doctest::Approx(ref[k]).epsilon(1e-4));
}

TEST_CASE("batchnorm training backward matches finite differences (x, gamma, beta)") {
  for (const BatchNormDims& d : configs()) {
    for (bool affine : {true, false}) {
      CAPTURE(describe(d));
      CAPTURE(affine);
      auto x = test::random_vector(d.size(), 11, -2, 2);
      auto gamma = test::random_vector(d.c, 12, 0.5, 1.5), beta = test::random_vector(d.c, 13);
      const auto w = test::random_vector(d.size(), 14);  // the cotangent dy
      const double eps = 1e-5;
      auto loss = [&] {
        std::vector<double> y(d.size()), sm(d.c), si(d.c);
        cpu::batchnorm2d_forward_train<double>(d, x.data(), affine ? gamma.data() : nullptr,
                                               affine ? beta.data() : nullptr, eps, 0.1, nullptr, nullptr, y.data(),
                                               sm.data(), si.data());
        return test::dot(y, w);
      };
      std::vector<double> y(d.size()), sm(d.c), si(d.c);
      cpu::batchnorm2d_forward_train<double>(d, x.data(), affine ? gamma.data() : nullptr,
                                             affine ? beta.data() : nullptr, eps, 0.1, nullptr, nullptr, y.data(),
                                             sm.data(), si.data());
      std::vector<double> dx(d.size(), std::nan("")), dg(d.c, std::nan("")), db(d.c, std::nan(""));
      cpu::batchnorm2d_backward_train<double>(d, x.data(), w.data(), affine ? gamma.data() : nullptr, sm.data(),
                                              si.data(), dx.data(), dg.data(), db.data());
      test::check_gradient("batchnorm train dx " + describe(d), x, loss, dx);
      if (affine) {
        test::check_gradient("batchnorm train dgamma " + describe(d), gamma, loss, dg);
        test::check_gradient("batchnorm train dbeta " + describe(d), beta, loss, db);
      }
      // The sum of dx over a channel is 0 (shifting a channel does not change its normalised output).
      for (int64_t c = 0; c < d.c; ++c) {
        double s = 0;
        for (int64_t n = 0; n < d.n; ++n)
          for (int64_t i = 0; i < d.hw(); ++i) s += dx[at(d, n, c, i)];
        CHECK(std::fabs(s) < 1e-10);
      }
      // Optional outputs: dx alone, or dgamma/dbeta alone, give the same numbers.
      std::vector<double> dx2(d.size(), std::nan("")), dg2(d.c, std::nan(""));
      cpu::batchnorm2d_backward_train<double>(d, x.data(), w.data(), affine ? gamma.data() : nullptr, sm.data(),
                                              si.data(), dx2.data(), nullptr, nullptr);
      cpu::batchnorm2d_backward_train<double>(d, x.data(), w.data(), affine ? gamma.data() : nullptr, sm.data(),
                                              si.data(), nullptr, dg2.data(), nullptr);
      CHECK(dx2 == dx);
      CHECK(dg2 == dg);
    }
  }
}

TEST_CASE("batchnorm eval backward matches finite differences (x, gamma, beta)") {
  for (const BatchNormDims& d : configs()) {
    for (bool affine : {true, false}) {
      CAPTURE(describe(d));
      CAPTURE(affine);
      auto x = test::random_vector(d.size(), 21, -2, 2);
      auto gamma = test::random_vector(d.c, 22, 0.5, 1.5), beta = test::random_vector(d.c, 23);
      const auto rm = test::random_vector(d.c, 24), rv = test::random_vector(d.c, 25, 0.3, 2.0);
      const auto w = test::random_vector(d.size(), 26);
      const double eps = 1e-3;
      const double* g = affine ? gamma.data() : nullptr;
      auto loss = [&] {
        std::vector<double> y(d.size());
        cpu::batchnorm2d_forward_eval<double>(d, x.data(), affine ? gamma.data() : nullptr,
                                              affine ? beta.data() : nullptr, rm.data(), rv.data(), eps, y.data());
        return test::dot(y, w);
      };
      std::vector<double> dx(d.size(), std::nan("")), dg(d.c, std::nan("")), db(d.c, std::nan(""));
      cpu::batchnorm2d_backward_eval<double>(d, x.data(), w.data(), g, rm.data(), rv.data(), eps, dx.data(), dg.data(),
                                             db.data());
      test::check_gradient("batchnorm eval dx " + describe(d), x, loss, dx);
      if (affine) {
        test::check_gradient("batchnorm eval dgamma " + describe(d), gamma, loss, dg);
        test::check_gradient("batchnorm eval dbeta " + describe(d), beta, loss, db);
      }
    }
  }
}
