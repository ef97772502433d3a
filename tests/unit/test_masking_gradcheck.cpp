// Masking block (kernels/masking.h): gradient checks of dx and dz in double for both mask kinds
// on odd NCHW shapes, and the forward against its definition (softmax over channels, x (1 + M)).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/masking.h"
#include "kernels/softmax.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

struct Shape {
  int64_t n, c, hw;
};
// odd sizes, one pixel (HW = 1), one channel (softmax mask == 1, dz == 0), > 64 pixels (tiles)
const Shape kShapes[] = {{2, 3, 5}, {1, 4, 1}, {3, 1, 7}, {1, 5, 9}, {2, 3, 67}};

std::string name(MaskKind kind, const Shape& s) {
  return std::string(mask_kind_name(kind)) + " N=" + std::to_string(s.n) + " C=" + std::to_string(s.c) +
         " HW=" + std::to_string(s.hw);
}

}  // namespace

TEST_CASE("masking backward (dx and dz) matches finite differences") {
  for (const MaskKind kind : {MaskKind::softmax, MaskKind::sigmoid}) {
    for (const Shape& s : kShapes) {
      const std::string what = name(kind, s);
      CAPTURE(what);
      const size_t count = static_cast<size_t>(s.n * s.c * s.hw);
      auto x = test::random_vector(count, 51, -2, 2);
      auto z = test::random_vector(count, 52, -3, 3);
      const auto w = test::random_vector(count, 53);  // the cotangent dy
      std::vector<double> dx(count), dz(count);
      cpu::masking_backward(kind, s.n, s.c, s.hw, x.data(), z.data(), w.data(), dx.data(), dz.data());
      auto loss = [&] {
        std::vector<double> y(count);
        cpu::masking_forward(kind, s.n, s.c, s.hw, x.data(), z.data(), y.data(), static_cast<double*>(nullptr));
        return test::dot(y, w);
      };
      test::check_gradient(what + " dx", x, loss, dx);
      test::check_gradient(what + " dz", z, loss, dz);
      // one of the two gradients alone gives the same numbers
      std::vector<double> dx_only(count, -5.0), dz_only(count, -5.0);
      cpu::masking_backward(kind, s.n, s.c, s.hw, x.data(), z.data(), w.data(), dx_only.data(),
                            static_cast<double*>(nullptr));
      cpu::masking_backward(kind, s.n, s.c, s.hw, x.data(), z.data(), w.data(), static_cast<double*>(nullptr),
                            dz_only.data());
      CHECK(dx_only == dx);
      CHECK(dz_only == dz);
    }
  }
}

TEST_CASE("masking forward equals x * (1 + mask) with the mask from its definition") {
  for (const MaskKind kind : {MaskKind::softmax, MaskKind::sigmoid}) {
    for (const Shape& s : kShapes) {
      CAPTURE(name(kind, s));
      const size_t count = static_cast<size_t>(s.n * s.c * s.hw);
      const auto x = test::random_vector(count, 61, -2, 2);
      const auto z = test::random_vector(count, 62, -3, 3);
      std::vector<double> y(count), m(count), mask(count);
      cpu::masking_forward(kind, s.n, s.c, s.hw, x.data(), z.data(), y.data(), m.data());
      if (kind == MaskKind::softmax) {
        cpu::softmax_forward<double>(s.n, s.c, s.hw, z.data(), mask.data());  // softmax over C per pixel
      } else {
        for (size_t e = 0; e < count; ++e) mask[e] = 1.0 / (1.0 + std::exp(-z[e]));
      }
      for (size_t e = 0; e < count; ++e) {
        CHECK(m[e] == doctest::Approx(mask[e]).epsilon(1e-14));
        CHECK(y[e] == doctest::Approx(x[e] * (1.0 + mask[e])).epsilon(1e-14));
      }
      // y may alias x
      auto inplace = x;
      cpu::masking_forward(kind, s.n, s.c, s.hw, inplace.data(), z.data(), inplace.data(),
                           static_cast<double*>(nullptr));
      CHECK(inplace == y);
    }
  }
}

TEST_CASE("channel-softmax mask sums to 1 over channels and is stable for huge logits") {
  const int64_t n = 2, c = 3, hw = 2;
  const float x[12] = {1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2};
  const float z[12] = {1e4f, 0, -1e4f, 0, 0, 5, 1, 1, 2, 2, 3, 3};
  float y[12], m[12];
  cpu::masking_forward<float>(MaskKind::softmax, n, c, hw, x, z, y, m);
  for (int e = 0; e < 12; ++e) CHECK(std::isfinite(y[e]));
  for (int64_t img = 0; img < n; ++img) {
    for (int64_t p = 0; p < hw; ++p) {
      float s = 0;
      for (int64_t ch = 0; ch < c; ++ch) s += m[(img * c + ch) * hw + p];
      CHECK(s == doctest::Approx(1.0).epsilon(1e-6));
    }
  }
  CHECK(m[0] == doctest::Approx(1.0));  // pixel 0 of image 0: channel 0 holds 1e4
  CHECK(y[0] == doctest::Approx(2.0));  // x (1 + 1)
  CHECK_THROWS_WITH_AS(cpu::masking_forward<float>(MaskKind::softmax, 2, -3, 2, x, z, y, m),
                       doctest::Contains("masking_forward: negative size"), fer::Error);
}
