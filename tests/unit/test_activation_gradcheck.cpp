// Gradient checks (double, central differences) for the pointwise activations.
#include <doctest/doctest.h>

#include "kernels/activation.h"
#include "tests/support/gradcheck.h"

using namespace fer;

TEST_CASE("activation backward matches finite differences") {
  for (Activation a : {Activation::relu, Activation::sigmoid, Activation::silu, Activation::gelu}) {
    CAPTURE(activation_name(a));
    const size_t n = 37;
    auto x = test::random_vector(n, 1, -3, 3);
    if (a == Activation::relu) {  // keep away from the kink at 0, where the derivative is undefined
      for (auto& v : x)
        if (std::fabs(v) < 1e-3) v = 0.5;
    }
    const auto w = test::random_vector(n, 2);
    std::vector<double> y(n), dx(n);
    cpu::activation_forward(a, n, x.data(), y.data());
    cpu::activation_backward(a, n, x.data(), y.data(), w.data(), dx.data());
    auto loss = [&] {
      std::vector<double> out(n);
      cpu::activation_forward(a, n, x.data(), out.data());
      return test::dot(out, w);
    };
    test::check_gradient(std::string(activation_name(a)) + " dx", x, loss, dx);
  }
}

TEST_CASE("activation forward values") {
  const double x[4] = {-2.0, -0.5, 0.0, 1.5};
  double y[4];
  cpu::activation_forward(Activation::relu, 4, x, y);
  CHECK(y[0] == 0.0);
  CHECK(y[3] == 1.5);
  cpu::activation_forward(Activation::sigmoid, 4, x, y);
  CHECK(y[2] == doctest::Approx(0.5));
  cpu::activation_forward(Activation::gelu, 4, x, y);
  CHECK(y[3] == doctest::Approx(1.5 * 0.5 * (1 + std::erf(1.5 / std::sqrt(2.0)))));
  cpu::activation_forward(Activation::silu, 4, x, y);
  CHECK(y[1] == doctest::Approx(-0.5 / (1 + std::exp(0.5))));
}
