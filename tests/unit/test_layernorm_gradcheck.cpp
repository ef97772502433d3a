// Layer normalisation (kernels/layernorm.h): values against a straightforward reference, argument
// errors, a large-mean float row, and gradient checks (double, central differences) of dx, dgamma,
// dbeta on odd shapes, with and without the affine parameters (D > 64 covers the CPU column blocks).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/layernorm.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

std::string describe(const LayerNormDims& d) {
  return std::to_string(d.rows) + "x" + std::to_string(d.dim);
}

LayerNormDims dims(int64_t rows, int64_t dim) {
  LayerNormDims d;
  d.rows = rows, d.dim = dim;
  return d;
}

std::vector<LayerNormDims> configs() {
  return {dims(7, 13), dims(1, 5), dims(4, 1), dims(3, 70), dims(6, 2)};
}

std::vector<double> reference(const LayerNormDims& d, const std::vector<double>& x, const double* gamma,
                              const double* beta, double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < d.rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < d.dim; ++j) mean += x[r * d.dim + j];
    mean /= double(d.dim);
    for (int64_t j = 0; j < d.dim; ++j) var += (x[r * d.dim + j] - mean) * (x[r * d.dim + j] - mean);
    var /= double(d.dim);
    for (int64_t j = 0; j < d.dim; ++j)
      y[r * d.dim + j] =
          (x[r * d.dim + j] - mean) / std::sqrt(var + eps) * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0);
  }
  return y;
}

}  // namespace

TEST_CASE("layernorm forward matches the textbook formula") {
  for (const LayerNormDims& d : configs()) {
    CAPTURE(describe(d));
    const auto x = test::random_vector(d.rows * d.dim, 1, -2, 3);
    const auto g = test::random_vector(d.dim, 2, 0.5, 1.5), b = test::random_vector(d.dim, 3);
    for (bool affine : {true, false}) {
      CAPTURE(affine);
      const auto ref = reference(d, x, affine ? g.data() : nullptr, affine ? b.data() : nullptr, 1e-5);
      std::vector<double> y(x.size(), std::nan("")), sm(d.rows, std::nan("")), si(d.rows, std::nan(""));
      cpu::layernorm_forward<double>(d, x.data(), affine ? g.data() : nullptr, affine ? b.data() : nullptr, 1e-5,
                                     y.data(), sm.data(), si.data());
      for (size_t k = 0; k < y.size(); ++k) REQUIRE(y[k] == doctest::Approx(ref[k]).epsilon(1e-12));
      double mean0 = 0;
      for (int64_t j = 0; j < d.dim; ++j) mean0 += x[j];
      CHECK(sm[0] == doctest::Approx(mean0 / double(d.dim)));
      CHECK(std::isfinite(si[d.rows - 1]));
    }
  }
  // dim 1: the variance is 0, so x_hat = 0 and y = beta.
  std::vector<double> x = {5, -3}, g = {2}, b = {0.25}, y(2), sm(2), si(2);
  cpu::layernorm_forward<double>(dims(2, 1), x.data(), g.data(), b.data(), 1e-5, y.data(), sm.data(), si.data());
  CHECK(y == std::vector<double>{0.25, 0.25});
  CHECK(si[0] == doctest::Approx(1 / std::sqrt(1e-5)));
  // hand-computed row {1, 2, 3, 6}: mean 3, biased var 3.5
  std::vector<double> h = {1, 2, 3, 6}, hy(4), hm(1), hs(1);
  cpu::layernorm_forward<double>(dims(1, 4), h.data(), nullptr, nullptr, 0.0, hy.data(), hm.data(), hs.data());
  CHECK(hm[0] == 3.0);
  CHECK(hs[0] == doctest::Approx(1 / std::sqrt(3.5)));
  CHECK(hy[3] == doctest::Approx(3 / std::sqrt(3.5)));
}

TEST_CASE("layernorm errors name the op and the shape") {
  std::vector<double> x(8), y(8), s(8);
  CHECK_THROWS_WITH_AS(
      cpu::layernorm_forward<double>(dims(2, 0), x.data(), nullptr, nullptr, 1e-5, y.data(), s.data(), s.data()),
      doctest::Contains("layernorm_forward: shape [rows, dim] = [2,0] must be positive"), Error);
  CHECK_THROWS_WITH_AS(
      cpu::layernorm_forward<double>(dims(2, 4), x.data(), nullptr, nullptr, 1e-5, y.data(), nullptr, s.data()),
      doctest::Contains("save_mean and save_invstd are required"), Error);
  CHECK_THROWS_WITH_AS(
      cpu::layernorm_forward<double>(dims(2, 4), x.data(), nullptr, nullptr, -1.0, y.data(), s.data(), s.data()),
      doctest::Contains("eps must be finite and >= 0"), Error);
}

TEST_CASE("layernorm is stable for a large mean (float)") {
  const LayerNormDims d = dims(5, 301);
  const auto xd = test::random_vector(d.rows * d.dim, 4, 9999, 10001);
  std::vector<float> x(xd.begin(), xd.end()), y(x.size()), sm(d.rows), si(d.rows);
  cpu::layernorm_forward<float>(d, x.data(), nullptr, nullptr, 1e-5, y.data(), sm.data(), si.data());
  const auto ref = reference(d, std::vector<double>(x.begin(), x.end()), nullptr, nullptr, 1e-5);
  for (size_t k = 0; k < y.size(); ++k) REQUIRE(y[k] == doctest::Approx(ref[k]).epsilon(1e-3));
}

TEST_CASE("layernorm backward matches finite differences (x, gamma, beta)") {
  for (const LayerNormDims& d : configs()) {
    for (bool affine : {true, false}) {
      CAPTURE(describe(d));
      CAPTURE(affine);
      const int64_t n = d.rows * d.dim;
      auto x = test::random_vector(n, 11, -2, 2);
      auto gamma = test::random_vector(d.dim, 12, 0.5, 1.5), beta = test::random_vector(d.dim, 13);
      const auto w = test::random_vector(n, 14);
      const double eps = 1e-5;
      auto forward = [&](std::vector<double>& y, std::vector<double>& sm, std::vector<double>& si) {
        cpu::layernorm_forward<double>(d, x.data(), affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr,
                                       eps, y.data(), sm.data(), si.data());
      };
      auto loss = [&] {
        std::vector<double> y(n), sm(d.rows), si(d.rows);
        forward(y, sm, si);
        return test::dot(y, w);
      };
      std::vector<double> y(n), sm(d.rows), si(d.rows);
      forward(y, sm, si);
      std::vector<double> dx(n, std::nan("")), dg(d.dim, std::nan("")), db(d.dim, std::nan(""));
      cpu::layernorm_backward<double>(d, x.data(), w.data(), affine ? gamma.data() : nullptr, sm.data(), si.data(),
                                      dx.data(), dg.data(), db.data());
      if (d.dim == 1) {  // y does not depend on x at all
        for (double v : dx) CHECK(v == 0.0);
      } else {
        test::check_gradient("layernorm dx " + describe(d), x, loss, dx);
      }
      if (affine) {
        test::check_gradient("layernorm dgamma " + describe(d), gamma, loss, dg);
        test::check_gradient("layernorm dbeta " + describe(d), beta, loss, db);
      }
      // Optional outputs give the same numbers.
      std::vector<double> dx2(n, std::nan("")), db2(d.dim, std::nan(""));
      cpu::layernorm_backward<double>(d, x.data(), w.data(), affine ? gamma.data() : nullptr, sm.data(), si.data(),
                                      dx2.data(), nullptr, nullptr);
      cpu::layernorm_backward<double>(d, x.data(), w.data(), affine ? gamma.data() : nullptr, sm.data(), si.data(),
                                      nullptr, nullptr, db2.data());
      CHECK(dx2 == dx);
      CHECK(db2 == db);
    }
  }
}
