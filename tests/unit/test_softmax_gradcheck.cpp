// Softmax / log_softmax (kernels/softmax.h): gradient checks in double along every axis layout,
// and value tests (normalization, log consistency, stability for huge inputs, errors).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/softmax.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

struct Layout {
  int64_t outer, dim, inner;
  const char* what;
};

// inner == 1 (rows), inner > 1 (channel axis of NCHW), odd sizes, a tile-crossing inner (> 64)
// and the degenerate dim == 1.
const Layout kLayouts[] = {
    {5, 7, 1, "rows [5,7]"},           {1, 13, 1, "one row of 13"},    {3, 5, 7, "NCHW N=3 C=5 HW=7"},
    {2, 3, 67, "NCHW N=2 C=3 HW=67"}, {2, 1, 3, "dim 1"},             {1, 4, 9, "NCHW N=1 C=4 HW=9"},
};

std::string name(const Layout& l, bool log) {
  return std::string(log ? "log_softmax " : "softmax ") + l.what;
}

// y = f(x) for the chosen variant.
void forward(bool log, const Layout& l, const double* x, double* y) {
  if (log) cpu::log_softmax_forward(l.outer, l.dim, l.inner, x, y);
  else cpu::softmax_forward(l.outer, l.dim, l.inner, x, y);
}

// Naive reference: softmax over k at fixed (o, i), straight from the definition.
double naive(bool log, const Layout& l, const std::vector<double>& x, int64_t o, int64_t k, int64_t i) {
  auto at = [&](int64_t kk) { return x[(o * l.dim + kk) * l.inner + i]; };
  double s = 0;
  for (int64_t kk = 0; kk < l.dim; ++kk) s += std::exp(at(kk));
  return log ? at(k) - std::log(s) : std::exp(at(k)) / s;
}

}  // namespace

TEST_CASE("softmax and log_softmax backward match finite differences on every layout") {
  for (const bool log : {false, true}) {
    for (const Layout& l : kLayouts) {
      CAPTURE(name(l, log));
      const size_t count = static_cast<size_t>(l.outer * l.dim * l.inner);
      auto x = test::random_vector(count, 11, -3, 3);
      const auto w = test::random_vector(count, 12);  // the cotangent dy
      std::vector<double> y(count), dx(count);
      forward(log, l, x.data(), y.data());
      if (log) cpu::log_softmax_backward(l.outer, l.dim, l.inner, y.data(), w.data(), dx.data());
      else cpu::softmax_backward(l.outer, l.dim, l.inner, y.data(), w.data(), dx.data());
      auto loss = [&] {
        std::vector<double> out(count);
        forward(log, l, x.data(), out.data());
        return test::dot(out, w);
      };
      test::check_gradient(name(l, log) + " dx", x, loss, dx);
    }
  }
}

TEST_CASE("softmax forward equals the definition along the chosen axis") {
  for (const bool log : {false, true}) {
    for (const Layout& l : kLayouts) {
      CAPTURE(name(l, log));
      const size_t count = static_cast<size_t>(l.outer * l.dim * l.inner);
      const auto x = test::random_vector(count, 21, -4, 4);
      std::vector<double> y(count);
      forward(log, l, x.data(), y.data());
      double worst = 0;
      for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t k = 0; k < l.dim; ++k)
          for (int64_t i = 0; i < l.inner; ++i)
            worst = std::max(worst, std::fabs(y[(o * l.dim + k) * l.inner + i] - naive(log, l, x, o, k, i)));
      CHECK(worst < 1e-13);
    }
  }
}

TEST_CASE("softmax sums to 1 per (o, i) and log_softmax is its log") {
  const Layout l{3, 6, 5, "NCHW N=3 C=6 HW=5"};
  const size_t count = 90;
  const auto x = test::random_vector(count, 31, -5, 5);
  std::vector<double> p(count), lp(count);
  cpu::softmax_forward(l.outer, l.dim, l.inner, x.data(), p.data());
  cpu::log_softmax_forward(l.outer, l.dim, l.inner, x.data(), lp.data());
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t i = 0; i < l.inner; ++i) {
      double s = 0;
      for (int64_t k = 0; k < l.dim; ++k) s += p[(o * l.dim + k) * l.inner + i];
      CHECK(s == doctest::Approx(1.0).epsilon(1e-14));
    }
  }
  for (size_t e = 0; e < count; ++e) CHECK(lp[e] == doctest::Approx(std::log(p[e])).epsilon(1e-12));
}

TEST_CASE("softmax is stable for huge inputs (float)") {
  // exp(1e4) overflows float and double; the max-subtracted form never evaluates it.
  const float x[6] = {1e4f, 0.f, -1e4f, 1e4f, 1e4f, 9999.f};
  float p[6], lp[6];
  cpu::softmax_forward<float>(2, 3, 1, x, p);
  cpu::log_softmax_forward<float>(2, 3, 1, x, lp);
  for (int e = 0; e < 6; ++e) {
    CHECK(std::isfinite(p[e]));
    CHECK(std::isfinite(lp[e]));
  }
  CHECK(p[0] == doctest::Approx(1.0));
  CHECK(p[1] == 0.f);
  CHECK(lp[0] == doctest::Approx(0.0));
  CHECK(lp[1] == doctest::Approx(-1e4));
  // row 2: two equal maxima and one 1 below: p = e / (2e + 1) for the maxima
  const double big = std::exp(1.0) / (2 * std::exp(1.0) + 1);
  CHECK(p[3] == doctest::Approx(big).epsilon(1e-6));
  CHECK(lp[5] == doctest::Approx(std::log(1.0 / (2 * std::exp(1.0) + 1))).epsilon(1e-5));
}

TEST_CASE("softmax is invariant to a per-row shift and works in place") {
  const Layout l{2, 5, 3, "NCHW"};
  const size_t count = 30;
  auto x = test::random_vector(count, 41, -2, 2);
  std::vector<double> y(count), y_shift(count);
  cpu::softmax_forward(l.outer, l.dim, l.inner, x.data(), y.data());
  auto shifted = x;
  for (auto& v : shifted) v += 100.0;
  cpu::softmax_forward(l.outer, l.dim, l.inner, shifted.data(), y_shift.data());
  for (size_t e = 0; e < count; ++e) CHECK(y_shift[e] == doctest::Approx(y[e]).epsilon(1e-12));
  // in place: y == x
  cpu::softmax_forward(l.outer, l.dim, l.inner, x.data(), x.data());
  for (size_t e = 0; e < count; ++e) CHECK(x[e] == y[e]);
}

TEST_CASE("softmax argument errors name the op and the sizes") {
  double v[1] = {0};
  CHECK_THROWS_WITH_AS(cpu::softmax_forward<double>(-1, 3, 1, v, v), doctest::Contains("softmax_forward: negative size"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(cpu::log_softmax_backward<double>(2, 0, 3, v, v, v),
                       doctest::Contains("log_softmax_backward: softmax over an empty axis"), fer::Error);
  CHECK_NOTHROW(cpu::softmax_forward<double>(0, 0, 5, v, v));  // nothing to do is fine
}
