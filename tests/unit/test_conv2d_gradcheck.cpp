// Convolution (kernels/conv2d.h): output sizes, argument errors, the im2col fast path against the
// textbook loop nests on odd shapes (stride 2, padding, groups, 1x1, depthwise, non-square, several
// batch chunks), gradient checks (double, central differences) of every backward of the fast path,
// and the transposed convolution against an independent scatter loop plus its gradient checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/support/gradcheck.h"

using namespace fer;
using fer::test::check_gradient;
using fer::test::dot;
using fer::test::random_vector;

namespace {

std::string describe(const Conv2dDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c_in) + "x" + std::to_string(d.h_in) + "x" +
         std::to_string(d.w_in) + " -> " + std::to_string(d.c_out) + " k" + std::to_string(d.kernel_h) + "x" +
         std::to_string(d.kernel_w) + " s" + std::to_string(d.stride_h) + "x" + std::to_string(d.stride_w) + " p" +
         std::to_string(d.pad_h) + "x" + std::to_string(d.pad_w) + " g" + std::to_string(d.groups);
}
std::string describe(const ConvTranspose2dDims& d) {
  return "transposed " + describe(d.as_conv());
}

Conv2dDims asymmetric(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out) {
  Conv2dDims d = conv2d_dims(n, c_in, h, w, c_out, 3, 1, 1);
  d.kernel_w = 2, d.stride_w = 2, d.pad_w = 0;  // 3x2 kernel, stride 1x2, pad 1x0
  return d;
}

// Shapes the fast path must match the oracle on (small enough for finite differences too).
std::vector<Conv2dDims> small_configs() {
  std::vector<Conv2dDims> v = {
      conv2d_dims(2, 3, 7, 9, 4, 3, 1, 1),     // k3 s1 p1, odd sizes
      conv2d_dims(2, 3, 8, 7, 5, 3, 2, 1),     // k3 s2 p1
      conv2d_dims(3, 4, 9, 9, 6, 3, 2, 0, 2),  // groups 2, stride 2, no padding
      conv2d_dims(2, 5, 6, 7, 3, 1),           // pointwise 1x1 (no im2col)
      conv2d_dims(2, 4, 7, 6, 6, 1, 2),        // 1x1 stride 2 (ResNet down-sample)
      conv2d_dims(2, 4, 6, 5, 4, 3, 1, 1, 4),  // depthwise (groups = C)
      conv2d_dims(1, 2, 5, 5, 3, 5, 1, 3),     // padding larger than kernel/2: border outputs see only padding
      conv2d_dims(2, 1, 9, 8, 3, 4, 3, 2),     // even kernel, stride 3
      asymmetric(2, 3, 7, 10, 4),              // non-square kernel / stride / padding
      conv2d_dims(1, 2, 11, 10, 3, 7, 2, 3),   // k7 s2 p3: the ResNet stem
      conv2d_dims(2, 3, 12, 9, 4, 4, 4),       // k4 s4 p0: the ViT patch layer (9 = 2 windows + 1 unused column)
  };
  return v;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <typename T>
void expect_near(const std::string& what, const std::vector<T>& got, const std::vector<T>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i])) / (1.0 + std::fabs(double(want[i])));
    if (!(err <= worst)) worst = err, at = i;  // NaN counts as worst
  }
  CHECK_MESSAGE(worst <= tol, what << ": element " << at << " got " << got[at] << " want " << want[at]
                                   << " (scaled error " << worst << ", tolerance " << tol << ")");
}

// Fast path == reference for forward (with and without bias), backward input, backward weight/bias.
// tol_w covers dw/db, sums over N*Ho*Wo terms: in float the reference's sequential sum of ~1e4 terms
// of size ~1 rounds at ~1e-3 of a result that may be small after cancellation.
template <typename T>
void compare_with_reference(const Conv2dDims& d, double tol, double tol_w = -1) {
  if (tol_w < 0) tol_w = tol;
  INFO(describe(d));
  const auto x = cast<T>(random_vector(d.x_size(), 1));
  const auto w = cast<T>(random_vector(d.w_size(), 2));
  const auto b = cast<T>(random_vector(d.c_out, 3));
  const auto dy = cast<T>(random_vector(d.y_size(), 4));
  const T nan = std::nan("");
  std::vector<T> y(d.y_size(), nan), y_ref(d.y_size(), T(-5));
  cpu::conv2d_forward<T>(d, x.data(), w.data(), b.data(), y.data());
  cpu::conv2d_forward_reference<T>(d, x.data(), w.data(), b.data(), y_ref.data());
  expect_near("forward", y, y_ref, tol);
  std::fill(y.begin(), y.end(), nan);
  cpu::conv2d_forward<T>(d, x.data(), w.data(), nullptr, y.data());
  cpu::conv2d_forward_reference<T>(d, x.data(), w.data(), nullptr, y_ref.data());
  expect_near("forward, no bias", y, y_ref, tol);

  std::vector<T> dx(d.x_size(), nan), dx_ref(d.x_size(), T(-5));
  cpu::conv2d_backward_input<T>(d, dy.data(), w.data(), dx.data());
  cpu::conv2d_backward_input_reference<T>(d, dy.data(), w.data(), dx_ref.data());
  expect_near("backward input", dx, dx_ref, tol);

  std::vector<T> dw(d.w_size(), nan), dw_ref(d.w_size(), T(-5)), db(d.c_out, nan), db_ref(d.c_out, T(-5));
  cpu::conv2d_backward_weight<T>(d, x.data(), dy.data(), dw.data(), db.data());
  cpu::conv2d_backward_weight_reference<T>(d, x.data(), dy.data(), dw_ref.data(), db_ref.data());
  expect_near("backward weight", dw, dw_ref, tol_w);
  expect_near("backward bias", db, db_ref, tol_w);
  // Either gradient alone: the other pointer is null and nothing else changes.
  std::vector<T> dw2(d.w_size(), nan), db2(d.c_out, nan);
  cpu::conv2d_backward_weight<T>(d, x.data(), dy.data(), dw2.data(), nullptr);
  cpu::conv2d_backward_weight<T>(d, x.data(), dy.data(), nullptr, db2.data());
  CHECK(dw2 == dw);
  CHECK(db2 == db);
}

// PyTorch's ConvTranspose2d written directly as a scatter (independent of the conv kernels):
// y[n, g*Og+o, i*s-p+kp, j*s-p+kq] += x[n, c, i, j] * w[c, o, kp, kq] for c in group g.
std::vector<double> conv_transpose_scatter(const ConvTranspose2dDims& d, const std::vector<double>& x,
                                           const std::vector<double>& w, const double* bias) {
  const int64_t Ho = d.h_out(), Wo = d.w_out(), Cg = d.c_in / d.groups, Og = d.c_out / d.groups;
  std::vector<double> y(d.y_size(), 0.0);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c_in; ++c) {
      const int64_t g = c / Cg;
      for (int64_t i = 0; i < d.h_in; ++i)
        for (int64_t j = 0; j < d.w_in; ++j)
          for (int64_t o = 0; o < Og; ++o)
            for (int64_t kp = 0; kp < d.kernel_h; ++kp)
              for (int64_t kq = 0; kq < d.kernel_w; ++kq) {
                const int64_t h = i * d.stride_h - d.pad_h + kp, v = j * d.stride_w - d.pad_w + kq;
                if (h < 0 || h >= Ho || v < 0 || v >= Wo) continue;
                y[((n * d.c_out + g * Og + o) * Ho + h) * Wo + v] +=
                    x[((n * d.c_in + c) * d.h_in + i) * d.w_in + j] *
                    w[((c * Og + o) * d.kernel_h + kp) * d.kernel_w + kq];
              }
    }
  if (bias)
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t o = 0; o < d.c_out; ++o)
        for (int64_t k = 0; k < Ho * Wo; ++k) y[(n * d.c_out + o) * Ho * Wo + k] += bias[o];
  return y;
}

std::vector<ConvTranspose2dDims> transposed_configs() {
  std::vector<ConvTranspose2dDims> v = {
      conv_transpose2d_dims(2, 3, 4, 5, 4, 2, 2),        // k2 s2 (U-Net / autoencoder up-sampling)
      conv_transpose2d_dims(2, 4, 5, 3, 3, 3, 2, 1),     // k3 s2 p1: odd output 9x5
      conv_transpose2d_dims(1, 4, 3, 4, 6, 3, 1, 1, 2),  // groups 2, stride 1
      conv_transpose2d_dims(2, 3, 4, 4, 2, 1, 1),        // 1x1
      conv_transpose2d_dims(1, 2, 3, 3, 2, 4, 3, 1),     // k4 s3 p1
  };
  ConvTranspose2dDims a = conv_transpose2d_dims(2, 2, 4, 3, 3, 3, 2, 1);
  a.kernel_w = 2, a.stride_w = 1, a.pad_w = 0;  // non-square
  v.push_back(a);
  return v;
}

}  // namespace

TEST_CASE("conv2d output size: (H + 2p - k) / s + 1; transposed: (H - 1) s - 2p + k") {
  CHECK(conv2d_dims(1, 1, 48, 48, 1, 3).h_out() == 46);  // CNN6: k3 p0
  CHECK(conv2d_dims(1, 1, 48, 48, 1, 3, 1, 1).h_out() == 48);
  CHECK(conv2d_dims(1, 1, 7, 7, 1, 3, 2, 1).h_out() == 4);
  CHECK(conv2d_dims(1, 1, 8, 8, 1, 3, 2, 1).h_out() == 4);
  CHECK(conv2d_dims(1, 1, 224, 224, 1, 7, 2, 3).h_out() == 112);  // ResNet stem
  CHECK(conv2d_dims(1, 1, 7, 7, 1, 1, 2).h_out() == 4);
  CHECK(asymmetric(1, 1, 7, 10, 1).w_out() == 5);
  CHECK(conv_transpose2d_dims(1, 1, 6, 6, 1, 2, 2).h_out() == 12);
  CHECK(conv_transpose2d_dims(1, 1, 5, 5, 1, 3, 2, 1).h_out() == 9);
  // The transposed op maps back to the input size of the convolution it transposes.
  for (const auto& t : transposed_configs()) {
    const Conv2dDims c = t.as_conv();
    CHECK(c.h_out() == t.h_in);
    CHECK(c.w_out() == t.w_in);
    CHECK(c.c_out == t.c_in);
  }
  CHECK(conv2d_dims(2, 3, 7, 9, 4, 3, 1, 1).macs() == 2 * 4 * 7 * 9 * 3 * 9);
  CHECK(conv2d_dims(2, 4, 7, 9, 6, 3, 1, 1, 2).macs() == 2 * 6 * 7 * 9 * 2 * 9);
}

TEST_CASE("conv2d argument errors name the op and the problem") {
  std::vector<float> buf(4096);
  float* p = buf.data();
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward<float>(conv2d_dims(1, 3, 8, 8, 4, 3, 1, 1, 2), p, p, nullptr, p),
                       doctest::Contains("conv2d_forward: groups = 2 must divide both Cin = 3 and Cout = 4"), Error);
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward<float>(conv2d_dims(1, 1, 2, 2, 1, 3), p, p, nullptr, p),
                       doctest::Contains("kernel 3x3 is larger than the padded input 2x2"), Error);
  CHECK_THROWS_WITH_AS(cpu::conv2d_backward_input<float>(conv2d_dims(1, 1, 8, 8, 1, 3, 0), p, p, p),
                       doctest::Contains("conv2d_backward_input: kernel 3x3 and stride 0x0 must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(cpu::conv2d_backward_weight<float>(conv2d_dims(1, 1, 8, 8, 1, 3, 1, -1), p, p, p, p),
                       doctest::Contains("padding -1x-1 must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward_reference<float>(conv2d_dims(0, 1, 8, 8, 1, 3), p, p, nullptr, p),
                       doctest::Contains("must be positive"), Error);
  CHECK_THROWS_WITH_AS(
      cpu::conv_transpose2d_forward<float>(conv_transpose2d_dims(1, 1, 1, 1, 1, 1, 1, 1), p, p, nullptr, p),
      doctest::Contains("conv_transpose2d_forward: output size -1x-1"), Error);
}

TEST_CASE("conv2d fast path (im2col + GEMM) equals the textbook loops") {
  for (const Conv2dDims& d : small_configs()) {
    compare_with_reference<double>(d, 1e-12);
    compare_with_reference<float>(d, 2e-5);
  }
  // Large enough that the batch is processed in several chunks, the last one partial.
  compare_with_reference<double>(conv2d_dims(9, 16, 64, 64, 16, 3, 1, 1), 1e-12);
  compare_with_reference<float>(conv2d_dims(9, 16, 64, 64, 16, 3, 1, 1), 1e-4, 2e-3);
  compare_with_reference<double>(conv2d_dims(5, 8, 64, 64, 8, 1), 1e-12);  // pointwise, several samples
}

TEST_CASE("conv2d gradients match central finite differences (fast path, double)") {
  for (const Conv2dDims& d : small_configs()) {
    INFO(describe(d));
    auto x = random_vector(d.x_size(), 11);
    auto w = random_vector(d.w_size(), 12);
    auto b = random_vector(d.c_out, 13);
    const auto r = random_vector(d.y_size(), 14);  // the cotangent: L = <r, y>
    std::vector<double> y(d.y_size());
    auto loss = [&] {
      cpu::conv2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
      return dot(r, y);
    };
    std::vector<double> dx(d.x_size()), dw(d.w_size()), db(d.c_out);
    cpu::conv2d_backward_input<double>(d, r.data(), w.data(), dx.data());
    cpu::conv2d_backward_weight<double>(d, x.data(), r.data(), dw.data(), db.data());
    check_gradient("dx " + describe(d), x, loss, dx);
    check_gradient("dw " + describe(d), w, loss, dw);
    check_gradient("db " + describe(d), b, loss, db);
  }
}

TEST_CASE("conv_transpose2d equals PyTorch's scatter definition, and its gradients check") {
  for (const ConvTranspose2dDims& d : transposed_configs()) {
    INFO(describe(d));
    auto x = random_vector(d.x_size(), 21);
    auto w = random_vector(d.w_size(), 22);
    auto b = random_vector(d.c_out, 23);
    std::vector<double> y(d.y_size(), std::nan(""));
    cpu::conv_transpose2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
    expect_near("transposed forward", y, conv_transpose_scatter(d, x, w, b.data()), 1e-12);
    cpu::conv_transpose2d_forward<double>(d, x.data(), w.data(), nullptr, y.data());
    expect_near("transposed forward, no bias", y, conv_transpose_scatter(d, x, w, nullptr), 1e-12);

    const auto r = random_vector(d.y_size(), 24);
    auto loss = [&] {
      cpu::conv_transpose2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
      return dot(r, y);
    };
    std::vector<double> dx(d.x_size(), std::nan("")), dw(d.w_size(), std::nan("")), db(d.c_out, std::nan(""));
    cpu::conv_transpose2d_backward_input<double>(d, r.data(), w.data(), dx.data());
    cpu::conv_transpose2d_backward_weight<double>(d, x.data(), r.data(), dw.data(), db.data());
    check_gradient("transposed dx " + describe(d), x, loss, dx);
    check_gradient("transposed dw " + describe(d), w, loss, dw);
    check_gradient("transposed db " + describe(d), b, loss, db);
    // Bias gradient alone.
    std::vector<double> db2(d.c_out, std::nan(""));
    cpu::conv_transpose2d_backward_weight<double>(d, x.data(), r.data(), nullptr, db2.data());
    CHECK(db2 == db);
  }
}

TEST_CASE("conv2d and conv_transpose2d are adjoint: <conv(x), y> = <x, conv^T(y)>") {
  const ConvTranspose2dDims t = conv_transpose2d_dims(2, 6, 5, 4, 4, 3, 2, 1, 2);
  const Conv2dDims c = t.as_conv();  // [2,4,9,7] -> [2,6,5,4]
  const auto a = random_vector(c.x_size(), 31), w = random_vector(c.w_size(), 32), z = random_vector(c.y_size(), 33);
  std::vector<double> conv_a(c.y_size()), convT_z(c.x_size());
  cpu::conv2d_forward<double>(c, a.data(), w.data(), nullptr, conv_a.data());
  cpu::conv_transpose2d_forward<double>(t, z.data(), w.data(), nullptr, convT_z.data());
  CHECK(dot(conv_a, z) == doctest::Approx(dot(a, convT_z)).epsilon(1e-12));
}
