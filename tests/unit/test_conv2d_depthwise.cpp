// The direct path for one input channel per group (kernels/conv2d_depthwise.h): depthwise
// convolutions (multiplier 1 and 2) and the 1-channel first layer (the CUDA backend's choice; the
// CPU twin is called directly here). Forward, dw and db give the reference loop nest's very bits
// (same sums in the same order), dx (a gather where the reference scatters) agrees within
// rounding; a finite-difference check in double holds the path's backward to its forward; the CPU
// conv2d entry points route depthwise geometry to it; other geometry is refused.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv2d_depthwise.h"
#include "tests/support/gradcheck.h"

using namespace fer;
using fer::test::random_vector;

namespace {

std::vector<Conv2dDims> depthwise_configs() {
  std::vector<Conv2dDims> v = {
      conv2d_dims(2, 4, 6, 5, 4, 3, 1, 1, 4),     // k3 s1 p1, odd sizes
      conv2d_dims(3, 6, 9, 8, 6, 3, 2, 1, 6),     // k3 s2 p1 (EfficientNet's down-sampling MBConv)
      conv2d_dims(2, 5, 11, 12, 5, 5, 2, 2, 5),   // k5 s2 p2
      conv2d_dims(1, 3, 7, 7, 3, 5, 1, 2, 3),     // k5 s1 p2
      conv2d_dims(2, 2, 4, 5, 2, 7, 1, 3, 2),     // k7 larger than the map: every output sees padding
      conv2d_dims(2, 3, 8, 8, 3, 1, 1, 0, 3),     // k1 (a per-channel scale)
      conv2d_dims(2, 7, 10, 9, 7, 3, 3, 0, 7),    // stride 3, no padding
      conv2d_dims(2, 3, 7, 6, 6, 3, 1, 1, 3),     // channel multiplier 2 (Cout = 2 Cin)
      conv2d_dims(3, 1, 12, 11, 5, 3),            // one input channel (CNN6's first layer, k3 p0)
      conv2d_dims(2, 1, 9, 9, 4, 3, 2, 1),        // one input channel, stride 2, padding 1
  };
  Conv2dDims a = conv2d_dims(2, 4, 7, 10, 4, 3, 1, 1, 4);
  a.kernel_w = 2, a.stride_w = 2, a.pad_w = 0;  // non-square kernel, stride and padding
  v.push_back(a);
  return v;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <typename T>
void check_against_reference(const Conv2dDims& d) {
  const auto x = cast<T>(random_vector(static_cast<size_t>(d.x_size()), 11));
  const auto w = cast<T>(random_vector(static_cast<size_t>(d.w_size()), 12));
  const auto b = cast<T>(random_vector(static_cast<size_t>(d.c_out), 13));
  const auto dy = cast<T>(random_vector(static_cast<size_t>(d.y_size()), 14));
  std::vector<T> y(static_cast<size_t>(d.y_size()), T(-9)), y_ref(y.size(), T(7));
  for (const T* bias : {static_cast<const T*>(nullptr), b.data()}) {
    cpu::depthwise_conv2d_forward<T>(d, x.data(), w.data(), bias, y.data());
    cpu::conv2d_forward_reference<T>(d, x.data(), w.data(), bias, y_ref.data());
    CHECK(y == y_ref);
    if (takes_direct_path(d)) {  // the entry point routes it here
      std::vector<T> y_entry(y.size(), T(5));
      cpu::conv2d_forward<T>(d, x.data(), w.data(), bias, y_entry.data());
      CHECK(y_entry == y_ref);
    }
  }
  std::vector<T> dw(static_cast<size_t>(d.w_size()), T(-9)), dw_ref(dw.size(), T(7));
  std::vector<T> db(static_cast<size_t>(d.c_out), T(-9)), db_ref(db.size(), T(7));
  cpu::depthwise_conv2d_backward_weight<T>(d, x.data(), dy.data(), dw.data(), db.data());
  cpu::conv2d_backward_weight_reference<T>(d, x.data(), dy.data(), dw_ref.data(), db_ref.data());
  CHECK(dw == dw_ref);
  CHECK(db == db_ref);
  std::vector<T> db_only(db.size(), T(-9));
  cpu::depthwise_conv2d_backward_weight<T>(d, x.data(), dy.data(), nullptr, db_only.data());
  CHECK(db_only == db_ref);
  std::vector<T> dx(static_cast<size_t>(d.x_size()), T(-9)), dx_ref(dx.size(), T(7));
  cpu::depthwise_conv2d_backward_input<T>(d, dy.data(), w.data(), dx.data());
  cpu::conv2d_backward_input_reference<T>(d, dy.data(), w.data(), dx_ref.data());
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
  for (size_t i = 0; i < dx.size(); ++i) {
    INFO("dx element " << i);
    REQUIRE(std::fabs(double(dx[i]) - double(dx_ref[i])) <= tol * (1.0 + std::fabs(double(dx_ref[i]))));
  }
}

}  // namespace

TEST_CASE("depthwise conv2d: the direct path equals the reference loop nest (float and double)") {
  for (const Conv2dDims& d : depthwise_configs()) {
    CAPTURE(d.n);
    CAPTURE(d.c_in);
    CAPTURE(d.h_in);
    CAPTURE(d.w_in);
    CAPTURE(d.kernel_h);
    CAPTURE(d.kernel_w);
    CAPTURE(d.stride_h);
    CAPTURE(d.pad_h);
    REQUIRE(one_input_channel_per_group(d));
    check_against_reference<float>(d);
    check_against_reference<double>(d);
  }
}

TEST_CASE("depthwise conv2d: finite differences in double (dx, dw, db through the direct path)") {
  for (const Conv2dDims& d : depthwise_configs()) {
    std::vector<double> x = random_vector(static_cast<size_t>(d.x_size()), 21);
    std::vector<double> w = random_vector(static_cast<size_t>(d.w_size()), 22);
    std::vector<double> b = random_vector(static_cast<size_t>(d.c_out), 23);
    const std::vector<double> r = random_vector(static_cast<size_t>(d.y_size()), 24);  // loss = <r, y>
    auto loss = [&]() {
      std::vector<double> y(static_cast<size_t>(d.y_size()));
      cpu::depthwise_conv2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
      return fer::test::dot(r, y);
    };
    std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
    cpu::depthwise_conv2d_backward_input<double>(d, r.data(), w.data(), dx.data());
    cpu::depthwise_conv2d_backward_weight<double>(d, x.data(), r.data(), dw.data(), db.data());
    CHECK(fer::test::check_gradient("depthwise dx", x, loss, dx).ok);
    CHECK(fer::test::check_gradient("depthwise dw", w, loss, dw).ok);
    CHECK(fer::test::check_gradient("depthwise db", b, loss, db).ok);
  }
}

TEST_CASE("depthwise conv2d: which geometry takes the direct path, and the rest is refused") {
  CHECK(takes_direct_path(conv2d_dims(1, 4, 5, 5, 4, 3, 1, 1, 4)));        // depthwise
  CHECK(takes_direct_path(conv2d_dims(1, 4, 5, 5, 8, 3, 1, 1, 4)));        // multiplier 2
  CHECK_FALSE(takes_direct_path(conv2d_dims(1, 1, 5, 5, 8, 3)));           // CPU: 1 channel stays on im2col
  CHECK(takes_direct_path_cuda(conv2d_dims(1, 1, 5, 5, 8, 3)));            // CUDA: 1 channel goes direct
  CHECK_FALSE(takes_direct_path_cuda(conv2d_dims(1, 4, 5, 5, 8, 3, 1, 1, 2)));  // 2 channels per group
  const Conv2dDims d = conv2d_dims(1, 4, 5, 5, 8, 3, 1, 1, 2);
  std::vector<float> x(static_cast<size_t>(d.x_size())), w(static_cast<size_t>(d.w_size())),
      y(static_cast<size_t>(d.y_size()));
  CHECK_THROWS_WITH_AS(cpu::depthwise_conv2d_forward<float>(d, x.data(), w.data(), nullptr, y.data()),
                       doctest::Contains("expects one input channel per group"), Error);
}
