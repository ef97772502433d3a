// CUDA vs CPU parity for pooling (max, avg, global average) and up-sampling (bilinear, nearest).
// GPU outputs are pre-filled with NaN (float) or -1 (int32 argmax), CPU outputs with other values,
// so an unwritten element fails. Shapes include sizes that are not multiples of the block size.
// Tolerances:
//   maxpool forward, argmax           exact (a max selects an element; the same first-maximum rule)
//   maxpool backward                  exact (same argmax, same additions in the same order)
//   avgpool fwd/bwd                   atol 1e-6, rtol 1e-5 (same order of adds and divides; expected exact)
//   global avgpool forward            atol 1e-6, rtol 1e-5 (warp tree vs sequential sum of |x| <= 1 values)
//   bilinear fwd/bwd                  atol 1e-6, rtol 1e-5 (same taps; FMA contraction differs by ulps)
//   nearest forward exact, backward   atol 1e-6, rtol 1e-5
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/device.h"
#include "kernels/pool.h"
#include "kernels/upsample.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

// A typed device buffer (parity.h's DeviceArray is float-only), pre-filled with a byte pattern.
template <typename T>
class DeviceBuf {
 public:
  DeviceBuf(size_t n, int fill_byte) : n_(n) {
    ptr_ = static_cast<T*>(cuda::device_malloc(std::max<size_t>(n, 1) * sizeof(T)));
    cuda::memset_device(ptr_, fill_byte, n * sizeof(T), cuda::default_stream());
  }
  DeviceBuf(const DeviceBuf&) = delete;
  DeviceBuf& operator=(const DeviceBuf&) = delete;
  ~DeviceBuf() { cuda::device_free_nothrow(ptr_); }
  T* get() { return ptr_; }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    cuda::memcpy_d2h(h.data(), ptr_, n_ * sizeof(T), cuda::default_stream());
    return h;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

// Exact comparison; NaN equals NaN (NaN inputs must propagate to the same places on both sides).
template <typename T>
void expect_identical(const std::string& what, const std::vector<T>& gpu, const std::vector<T>& cpu) {
  REQUIRE(gpu.size() == cpu.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    bool same = gpu[i] == cpu[i];
    if constexpr (std::is_floating_point_v<T>) same = same || (std::isnan(gpu[i]) && std::isnan(cpu[i]));
    if (!same && bad++ == 0) first = i;
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << gpu.size() << " elements differ; first at " << first
                               << " (gpu " << +gpu[first] << ", cpu " << +cpu[first] << ")");
}

std::string describe(const Pool2dDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w) +
         " k" + std::to_string(d.kernel_h) + "x" + std::to_string(d.kernel_w) + " s" + std::to_string(d.stride_h) +
         "x" + std::to_string(d.stride_w) + " p" + std::to_string(d.pad_h) + "x" + std::to_string(d.pad_w) +
         (d.ceil_mode ? " ceil" : " floor");
}

std::vector<Pool2dDims> configs() {
  std::vector<Pool2dDims> v = {
      pool2d_dims(3, 5, 7, 9, 2, 2),            // k2 s2 floor, odd
      pool2d_dims(2, 4, 13, 11, 3, 2, 1),       // k3 s2 p1
      pool2d_dims(2, 3, 5, 5, 2, 2, 0, true),   // ceil
      pool2d_dims(3, 3, 7, 7, 2, 2, 0, true),   // ceil
      pool2d_dims(2, 16, 6, 5, 2, 1),           // k2 s1 (VGG11 head)
      pool2d_dims(1, 3, 6, 6, 3, 2, 1, true),   // k3 s2 p1 ceil, last window past H+p
      pool2d_dims(4, 64, 48, 48, 2, 2),         // FER stage-1 shape
      pool2d_dims(2, 64, 112, 112, 3, 2, 1),    // ResNet stem shape (1.6M inputs)
      pool2d_dims(1, 1, 1, 1, 1, 1),            // degenerate 1x1
  };
  Pool2dDims a = pool2d_dims(2, 3, 9, 8, 3, 2, 1);
  a.kernel_w = 2, a.stride_w = 1, a.pad_w = 0;
  v.push_back(a);
  return v;
}

}  // namespace

TEST_CASE("maxpool2d cuda == cpu (values, argmax with ties, backward)") {
  cuda_stream s = cuda::default_stream();
  for (const Pool2dDims& d : configs()) {
    const std::string name = "maxpool " + describe(d);
    CAPTURE(name);
    // Values quantized to quarters: many ties, so the first-maximum rule is exercised on both sides.
    auto x = test::to_float(test::random_vector(d.x_size(), 41, -2, 2));
    for (auto& v : x) v = std::round(v * 4) / 4;
    const auto dy = test::to_float(test::random_vector(d.y_size(), 42));
    auto y = test::cpu_output(d.y_size()), dx = test::cpu_output(d.x_size());
    std::vector<int32_t> arg(d.y_size(), -7);
    cpu::maxpool2d_forward(d, x.data(), y.data(), arg.data());
    cpu::maxpool2d_backward(d, dy.data(), arg.data(), dx.data());

    test::DeviceArray gx(x), gy(d.y_size()), gdy(dy), gdx(d.x_size());
    DeviceBuf<int32_t> garg(d.y_size(), 0xFF);  // -1
    cuda::maxpool2d_forward(d, gx.get(), gy.get(), garg.get(), s);
    cuda::maxpool2d_backward(d, gdy.get(), garg.get(), gdx.get(), s);
    expect_identical(name + " y", gy.download(), y);
    expect_identical(name + " argmax", garg.download(), arg);
    expect_identical(name + " dx", gdx.download(), dx);
  }
}

TEST_CASE("maxpool2d cuda == cpu with NaN and -inf inputs") {
  cuda_stream s = cuda::default_stream();
  const Pool2dDims d = pool2d_dims(2, 3, 9, 7, 3, 2, 1, true);
  auto x = test::to_float(test::random_vector(d.x_size(), 43));
  for (size_t i = 0; i < x.size(); i += 11) x[i] = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 5; i < x.size(); i += 13) x[i] = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < 20; ++i) x[i] = -std::numeric_limits<float>::infinity();  // all -inf windows
  auto y = test::cpu_output(d.y_size());
  std::vector<int32_t> arg(d.y_size(), -7);
  cpu::maxpool2d_forward(d, x.data(), y.data(), arg.data());
  test::DeviceArray gx(x), gy(d.y_size());
  DeviceBuf<int32_t> garg(d.y_size(), 0xFF);
  cuda::maxpool2d_forward(d, gx.get(), gy.get(), garg.get(), s);
  expect_identical("maxpool NaN/-inf y", gy.download(), y);
  expect_identical("maxpool NaN/-inf argmax", garg.download(), arg);
  size_t nan_out = 0;
  for (float v : y) nan_out += std::isnan(v);
  CHECK(nan_out > 0);  // the case really contains propagated NaNs
}

TEST_CASE("avgpool2d cuda == cpu") {
  cuda_stream s = cuda::default_stream();
  for (const Pool2dDims& d : configs()) {
    for (bool include_pad : {true, false}) {
      const std::string name = "avgpool " + describe(d) + (include_pad ? " include_pad" : " exclude_pad");
      CAPTURE(name);
      const auto x = test::to_float(test::random_vector(d.x_size(), 44));
      const auto dy = test::to_float(test::random_vector(d.y_size(), 45));
      auto y = test::cpu_output(d.y_size()), dx = test::cpu_output(d.x_size());
      cpu::avgpool2d_forward(d, include_pad, x.data(), y.data());
      cpu::avgpool2d_backward(d, include_pad, dy.data(), dx.data());
      test::DeviceArray gx(x), gy(d.y_size()), gdy(dy), gdx(d.x_size());
      cuda::avgpool2d_forward(d, include_pad, gx.get(), gy.get(), s);
      cuda::avgpool2d_backward(d, include_pad, gdy.get(), gdx.get(), s);
      test::expect_close(name + " y", gy.download(), y, 1e-6, 1e-5);
      test::expect_close(name + " dx", gdx.download(), dx, 1e-6, 1e-5);
    }
  }
}

TEST_CASE("global_avgpool cuda == cpu") {
  cuda_stream s = cuda::default_stream();
  const int64_t shapes[][3] = {{1, 1, 1}, {2, 3, 1}, {3, 5, 49}, {1, 1, 33}, {2, 7, 2304}, {64, 512, 9}, {5, 9, 4097}};
  for (auto& sh : shapes) {
    const int64_t n = sh[0], c = sh[1], hw = sh[2];
    const std::string name = "global_avgpool " + std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(hw);
    CAPTURE(name);
    const auto x = test::to_float(test::random_vector(n * c * hw, 46));
    const auto dy = test::to_float(test::random_vector(n * c, 47));
    auto y = test::cpu_output(n * c), dx = test::cpu_output(n * c * hw);
    cpu::global_avgpool_forward(n, c, hw, x.data(), y.data());
    cpu::global_avgpool_backward(n, c, hw, dy.data(), dx.data());
    test::DeviceArray gx(x), gy(n * c), gdy(dy), gdx(n * c * hw);
    cuda::global_avgpool_forward(n, c, hw, gx.get(), gy.get(), s);
    cuda::global_avgpool_backward(n, c, hw, gdy.get(), gdx.get(), s);
    test::expect_close(name + " y", gy.download(), y, 1e-6, 1e-5);
    expect_identical(name + " dx", gdx.download(), dx);  // dy / HW on both sides
    // Run to run: the fixed warp tree gives the same bits again.
    test::DeviceArray gy2(n * c);
    cuda::global_avgpool_forward(n, c, hw, gx.get(), gy2.get(), s);
    expect_identical(name + " y (second run)", gy2.download(), gy.download());
  }
}

TEST_CASE("upsample bilinear/nearest cuda == cpu") {
  cuda_stream s = cuda::default_stream();
  const Upsample2dDims shapes[] = {
      upsample2d_dims_scale(2, 3, 5, 7, 2),  upsample2d_dims_scale(4, 32, 12, 12, 2),
      upsample2d_dims_scale(1, 2, 4, 3, 3),  upsample2d_dims(1, 2, 5, 7, 9, 12),
      upsample2d_dims(2, 3, 7, 6, 3, 4),     upsample2d_dims(2, 1, 1, 1, 4, 4),
      upsample2d_dims(1, 5, 6, 4, 6, 11),    upsample2d_dims_scale(3, 17, 24, 24, 2)};
  for (const Upsample2dDims& d : shapes) {
    const std::string name = std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" +
                             std::to_string(d.w) + "->" + std::to_string(d.out_h) + "x" + std::to_string(d.out_w);
    CAPTURE(name);
    const auto x = test::to_float(test::random_vector(d.x_size(), 48));
    const auto dy = test::to_float(test::random_vector(d.y_size(), 49));
    auto yb = test::cpu_output(d.y_size()), dxb = test::cpu_output(d.x_size());
    auto yn = test::cpu_output(d.y_size()), dxn = test::cpu_output(d.x_size());
    cpu::upsample_bilinear2d_forward(d, x.data(), yb.data());
    cpu::upsample_bilinear2d_backward(d, dy.data(), dxb.data());
    cpu::upsample_nearest2d_forward(d, x.data(), yn.data());
    cpu::upsample_nearest2d_backward(d, dy.data(), dxn.data());
    test::DeviceArray gx(x), gdy(dy), gyb(d.y_size()), gdxb(d.x_size()), gyn(d.y_size()), gdxn(d.x_size());
    cuda::upsample_bilinear2d_forward(d, gx.get(), gyb.get(), s);
    cuda::upsample_bilinear2d_backward(d, gdy.get(), gdxb.get(), s);
    cuda::upsample_nearest2d_forward(d, gx.get(), gyn.get(), s);
    cuda::upsample_nearest2d_backward(d, gdy.get(), gdxn.get(), s);
    test::expect_close("bilinear " + name + " y", gyb.download(), yb, 1e-6, 1e-5);
    test::expect_close("bilinear " + name + " dx", gdxb.download(), dxb, 1e-6, 1e-5);
    expect_identical("nearest " + name + " y", gyn.download(), yn);
    test::expect_close("nearest " + name + " dx", gdxn.download(), dxn, 1e-6, 1e-5);
  }
}
