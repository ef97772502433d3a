// CUDA vs CPU parity for conv2d and conv_transpose2d (kernels/conv2d.h): forward with and without
// bias, input gradient, weight and bias gradients, on odd shapes (stride 2, padding, groups 2,
// depthwise, 1x1, non-square), the CNN6 layer shapes, and a batch that needs several workspace
// chunks. GPU outputs are pre-filled with NaN, so an unwritten element fails.
// The CPU side is the fast path in double; the GPU computes in float (cuBLAS, pedantic fp32):
//   tolerance  atol = 1e-6 + 4e-7 * T, rtol 1e-5, where T is the number of products summed into one
//   output (Cg*kh*kw for y, Og*kh*kw for dx, N*Ho*Wo for dw and db): a float sum of T terms of size
//   <= 1 is off by at most ~T * 6e-8 * (mean |term| ~ 0.25) in the worst case; 4e-7 * T leaves 25x.
// Determinism: the weight and bias gradients of a second run are bit-identical (no atomics).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/device.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

std::string describe(const Conv2dDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c_in) + "x" + std::to_string(d.h_in) + "x" +
         std::to_string(d.w_in) + " -> " + std::to_string(d.c_out) + " k" + std::to_string(d.kernel_h) + "x" +
         std::to_string(d.kernel_w) + " s" + std::to_string(d.stride_h) + "x" + std::to_string(d.stride_w) + " p" +
         std::to_string(d.pad_h) + "x" + std::to_string(d.pad_w) + " g" + std::to_string(d.groups);
}

double atol_for(int64_t terms) {
  return 1e-6 + 4e-7 * double(terms);
}
constexpr double kRtol = 1e-5;

std::vector<Conv2dDims> configs() {
  std::vector<Conv2dDims> v = {
      conv2d_dims(2, 3, 7, 9, 4, 3, 1, 1),       // k3 s1 p1, odd sizes
      conv2d_dims(3, 3, 8, 7, 5, 3, 2, 1),       // k3 s2 p1
      conv2d_dims(3, 4, 9, 9, 6, 3, 2, 0, 2),    // groups 2
      conv2d_dims(2, 5, 6, 7, 3, 1),             // pointwise (no workspace)
      conv2d_dims(2, 4, 7, 6, 6, 1, 2),          // 1x1 stride 2
      conv2d_dims(2, 8, 13, 11, 8, 3, 2, 1, 8),  // depthwise (the direct kernels, conv2d_depthwise.h)
      conv2d_dims(5, 96, 24, 24, 96, 3, 2, 1, 96),  // EfficientNet-like depthwise k3 s2; dw sums 5*144 terms
      conv2d_dims(3, 40, 12, 13, 40, 5, 1, 2, 40),  // depthwise k5 p2, odd width
      conv2d_dims(2, 6, 7, 5, 6, 7, 1, 3, 6),       // depthwise k7 larger than the map
      conv2d_dims(2, 4, 9, 9, 8, 3, 1, 1, 4),       // depthwise, channel multiplier 2
      conv2d_dims(3, 1, 13, 11, 5, 3, 2, 1),        // one input channel, k3 s2 p1 (CUDA: direct, CPU: im2col)
      conv2d_dims(1, 2, 5, 5, 3, 5, 1, 3),       // padding > kernel/2
      conv2d_dims(2, 3, 17, 19, 4, 7, 2, 3),     // ResNet-stem-like k7 s2 p3
      // CNN6 (k3 p0) layer shapes at batch 8
      conv2d_dims(8, 1, 48, 48, 16, 3),
      conv2d_dims(8, 16, 46, 46, 32, 3),
      conv2d_dims(8, 32, 22, 22, 64, 3),
      conv2d_dims(8, 64, 20, 20, 128, 3),
      conv2d_dims(8, 128, 9, 9, 256, 3),
      conv2d_dims(8, 256, 7, 7, 256, 3),
      // Big planes: the workspace holds 3 samples, so 12 samples take 4 chunks.
      conv2d_dims(12, 4, 512, 512, 4, 3, 1, 1),
  };
  Conv2dDims a = conv2d_dims(2, 3, 7, 10, 4, 3, 1, 1);
  a.kernel_w = 2, a.stride_w = 2, a.pad_w = 0;  // non-square
  v.push_back(a);
  return v;
}

// A device workspace of the size the op asks for (a 1-float dummy when it asks for none).
struct Workspace {
  explicit Workspace(int64_t floats) : buf(static_cast<size_t>(floats > 0 ? floats : 1)), floats(floats) {}
  float* get() { return floats > 0 ? buf.get() : nullptr; }
  test::DeviceArray buf;
  int64_t floats;
};

}  // namespace

TEST_CASE("conv2d cuda == cpu (forward, backward input, weight and bias; deterministic)") {
  cuda_stream s = cuda::default_stream();
  for (const Conv2dDims& d : configs()) {
    const std::string name = "conv2d " + describe(d);
    CAPTURE(name);
    const auto x = test::random_vector(d.x_size(), 51), w = test::random_vector(d.w_size(), 52);
    const auto b = test::random_vector(d.c_out, 53), dy = test::random_vector(d.y_size(), 54);
    std::vector<double> y(d.y_size()), y_nb(d.y_size()), dx(d.x_size()), dw(d.w_size()), db(d.c_out);
    cpu::conv2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
    cpu::conv2d_forward<double>(d, x.data(), w.data(), nullptr, y_nb.data());
    cpu::conv2d_backward_input<double>(d, dy.data(), w.data(), dx.data());
    cpu::conv2d_backward_weight<double>(d, x.data(), dy.data(), dw.data(), db.data());

    const int64_t ws_floats = cuda::conv2d_workspace_floats(d);
    if (d.kernel_h == 1 && d.stride_h == 1 && d.pad_h == 0) CHECK(ws_floats == 0);
    Workspace ws(ws_floats);
    test::DeviceArray gx(test::to_float(x)), gw(test::to_float(w)), gb(test::to_float(b)), gdy(test::to_float(dy));
    test::DeviceArray gy(d.y_size()), gy_nb(d.y_size()), gdx(d.x_size()), gdw(d.w_size()), gdb(d.c_out);
    cuda::conv2d_forward(d, gx.get(), gw.get(), gb.get(), gy.get(), ws.get(), s);
    cuda::conv2d_forward(d, gx.get(), gw.get(), nullptr, gy_nb.get(), ws.get(), s);
    cuda::conv2d_backward_input(d, gdy.get(), gw.get(), gdx.get(), ws.get(), s);
    cuda::conv2d_backward_weight(d, gx.get(), gdy.get(), gdw.get(), gdb.get(), ws.get(), s);

    const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, taps = d.kernel_h * d.kernel_w;
    const int64_t NP = d.n * d.h_out() * d.w_out();
    test::expect_close(name + " y", gy.download(), test::to_float(y), atol_for(Cg * taps + 1), kRtol);
    test::expect_close(name + " y (no bias)", gy_nb.download(), test::to_float(y_nb), atol_for(Cg * taps), kRtol);
    test::expect_close(name + " dx", gdx.download(), test::to_float(dx), atol_for(Og * taps), kRtol);
    test::expect_close(name + " dw", gdw.download(), test::to_float(dw), atol_for(NP), kRtol);
    test::expect_close(name + " db", gdb.download(), test::to_float(db), atol_for(NP), kRtol);

    // Run to run: the same bits again (fixed GEMM chunk order, fixed reduction tree).
    test::DeviceArray gdw2(d.w_size()), gdb2(d.c_out);
    cuda::conv2d_backward_weight(d, gx.get(), gdy.get(), gdw2.get(), gdb2.get(), ws.get(), s);
    CHECK(gdw2.download() == gdw.download());
    CHECK(gdb2.download() == gdb.download());
    // Bias gradient alone: no weight gradient, no workspace needed.
    test::DeviceArray gdb3(d.c_out);
    cuda::conv2d_backward_weight(d, gx.get(), gdy.get(), nullptr, gdb3.get(), nullptr, s);
    CHECK(gdb3.download() == gdb.download());
  }
}

TEST_CASE("conv_transpose2d cuda == cpu") {
  cuda_stream s = cuda::default_stream();
  std::vector<ConvTranspose2dDims> v = {
      conv_transpose2d_dims(2, 3, 4, 5, 4, 2, 2),        conv_transpose2d_dims(2, 4, 5, 3, 3, 3, 2, 1),
      conv_transpose2d_dims(1, 4, 3, 4, 6, 3, 1, 1, 2),  conv_transpose2d_dims(2, 3, 4, 4, 2, 1, 1),
      conv_transpose2d_dims(1, 2, 3, 3, 2, 4, 3, 1),     conv_transpose2d_dims(8, 64, 12, 12, 32, 2, 2),  // U-Net up
      conv_transpose2d_dims(4, 32, 24, 24, 16, 3, 2, 1),
  };
  for (const ConvTranspose2dDims& d : v) {
    const std::string name = "conv_transpose2d " + describe(d.as_conv());
    CAPTURE(name);
    const auto x = test::random_vector(d.x_size(), 61), w = test::random_vector(d.w_size(), 62);
    const auto b = test::random_vector(d.c_out, 63), dy = test::random_vector(d.y_size(), 64);
    std::vector<double> y(d.y_size()), dx(d.x_size()), dw(d.w_size()), db(d.c_out);
    cpu::conv_transpose2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
    cpu::conv_transpose2d_backward_input<double>(d, dy.data(), w.data(), dx.data());
    cpu::conv_transpose2d_backward_weight<double>(d, x.data(), dy.data(), dw.data(), db.data());

    Workspace ws(cuda::conv_transpose2d_workspace_floats(d));
    test::DeviceArray gx(test::to_float(x)), gw(test::to_float(w)), gb(test::to_float(b)), gdy(test::to_float(dy));
    test::DeviceArray gy(d.y_size()), gdx(d.x_size()), gdw(d.w_size()), gdb(d.c_out);
    cuda::conv_transpose2d_forward(d, gx.get(), gw.get(), gb.get(), gy.get(), ws.get(), s);
    cuda::conv_transpose2d_backward_input(d, gdy.get(), gw.get(), gdx.get(), ws.get(), s);
    cuda::conv_transpose2d_backward_weight(d, gx.get(), gdy.get(), gdw.get(), gdb.get(), ws.get(), s);

    const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, taps = d.kernel_h * d.kernel_w;
    test::expect_close(name + " y", gy.download(), test::to_float(y), atol_for(Cg * taps + 1), kRtol);
    test::expect_close(name + " dx", gdx.download(), test::to_float(dx), atol_for(Og * taps), kRtol);
    test::expect_close(name + " dw", gdw.download(), test::to_float(dw), atol_for(d.n * d.h_in * d.w_in), kRtol);
    test::expect_close(name + " db", gdb.download(), test::to_float(db), atol_for(d.n * d.h_out() * d.w_out()), kRtol);
  }
}

TEST_CASE("cuda conv2d rejects a missing workspace and bad geometry") {
  const Conv2dDims d = conv2d_dims(1, 2, 5, 5, 2, 3, 1, 1);
  test::DeviceArray x(d.x_size()), w(d.w_size()), y(d.y_size());
  CHECK_THROWS_WITH_AS(cuda::conv2d_forward(d, x.get(), w.get(), nullptr, y.get(), nullptr, cuda::default_stream()),
                       doctest::Contains("cuda::conv2d_forward: needs a workspace"), Error);
  CHECK_THROWS_WITH_AS(cuda::conv2d_workspace_floats(conv2d_dims(1, 3, 5, 5, 2, 3, 1, 1, 2)),
                       doctest::Contains("groups = 2 must divide"), Error);
}
