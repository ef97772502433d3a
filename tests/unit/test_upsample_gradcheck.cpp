// Up-sampling (kernels/upsample.h): bilinear (align_corners=False) and nearest values against
// PyTorch's documented results, the gather backward against an explicit scatter and against
// finite differences (double), and argument errors.
#include <doctest/doctest.h>

#include <numeric>

#include "kernels/upsample.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

std::string describe(const Upsample2dDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w) +
         " -> " + std::to_string(d.out_h) + "x" + std::to_string(d.out_w);
}

// x2 (the attention-gate grid), x3, general sizes (up and down), identity and a 1x1 input.
std::vector<Upsample2dDims> configs() {
  return {upsample2d_dims_scale(2, 3, 5, 7, 2), upsample2d_dims_scale(1, 2, 4, 3, 3),
          upsample2d_dims(1, 2, 5, 7, 9, 12),   upsample2d_dims(1, 1, 7, 6, 3, 4),
          upsample2d_dims(1, 2, 3, 3, 3, 3),    upsample2d_dims(2, 1, 1, 1, 4, 4),
          upsample2d_dims(1, 1, 6, 4, 6, 11)};
}

}  // namespace

TEST_CASE("bilinear x2 equals PyTorch (align_corners=False)") {
  // torch.nn.Upsample(scale_factor=2, mode='bilinear') on [[1,2],[3,4]] (PyTorch documentation).
  const std::vector<double> x = {1, 2, 3, 4};
  std::vector<double> y(16);
  cpu::upsample_bilinear2d_forward(upsample2d_dims_scale(1, 1, 2, 2, 2), x.data(), y.data());
  const std::vector<double> expected = {1.00, 1.25, 1.75, 2.00, 1.50, 1.75, 2.25, 2.50,
                                        2.50, 2.75, 3.25, 3.50, 3.00, 3.25, 3.75, 4.00};
  for (int i = 0; i < 16; ++i) CHECK(y[i] == doctest::Approx(expected[i]));
  // Same size: identity. 1x1 input: constant.
  std::vector<double> x9(9), y9(9);
  std::iota(x9.begin(), x9.end(), 0.0);
  cpu::upsample_bilinear2d_forward(upsample2d_dims(1, 1, 3, 3, 3, 3), x9.data(), y9.data());
  CHECK(y9 == x9);
  const double one = 2.5;
  std::vector<double> y4(4);
  cpu::upsample_bilinear2d_forward(upsample2d_dims_scale(1, 1, 1, 1, 2), &one, y4.data());
  CHECK(y4 == std::vector<double>(4, 2.5));
}

TEST_CASE("bilinear taps: half-pixel centres, clamp at both borders") {
  int64_t i0, i1;
  double l0, l1;
  upsample::bilinear_taps<double>(0, 4, 0.5, &i0, &i1, &l0, &l1);  // src -0.25 -> clamped to 0
  CHECK((i0 == 0 && i1 == 1 && l1 == 0.0));
  upsample::bilinear_taps<double>(3, 4, 0.5, &i0, &i1, &l0, &l1);  // src 1.25
  CHECK((i0 == 1 && i1 == 2 && l1 == 0.25 && l0 == 0.75));
  upsample::bilinear_taps<double>(7, 4, 0.5, &i0, &i1, &l0, &l1);  // src 3.25: right border, both taps 3
  CHECK((i0 == 3 && i1 == 3 && l0 + l1 == 1.0));
  // x3 on length 4: src(o) = (o + 0.5)/3 - 0.5; o = 5 -> 4/3, between 1 and 2.
  upsample::bilinear_taps<double>(5, 4, 4.0 / 12.0, &i0, &i1, &l0, &l1);
  CHECK((i0 == 1 && i1 == 2));
  CHECK(l1 == doctest::Approx(1.0 / 3));
}

TEST_CASE("nearest x2 replicates each pixel into a 2x2 block; general sizes use floor(o*in/out)") {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};  // 2x3
  std::vector<double> y(24);
  cpu::upsample_nearest2d_forward(upsample2d_dims_scale(1, 1, 2, 3, 2), x.data(), y.data());
  const std::vector<double> expected = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
  CHECK(y == expected);
  // 3 -> 5 columns: sources floor(o*3/5) = 0,0,1,1,2 (PyTorch 'nearest').
  std::vector<double> y5(5);
  const std::vector<double> row = {7, 8, 9};
  cpu::upsample_nearest2d_forward(upsample2d_dims(1, 1, 1, 3, 1, 5), row.data(), y5.data());
  CHECK(y5 == std::vector<double>{7, 7, 8, 8, 9});
}

TEST_CASE("upsample gather backward equals the scatter of the forward's taps") {
  for (const Upsample2dDims& d : configs()) {
    CAPTURE(describe(d));
    const auto dy = test::random_vector(d.y_size(), 31);
    // Scatter reference: every output element hands dy * weight to the (up to) four inputs it read.
    std::vector<double> ref(d.x_size(), 0.0), ref_n(d.x_size(), 0.0);
    const double sh = double(d.h) / double(d.out_h), sw = double(d.w) / double(d.out_w);
    for (int64_t nc = 0; nc < d.n * d.c; ++nc)
      for (int64_t oh = 0; oh < d.out_h; ++oh)
        for (int64_t ow = 0; ow < d.out_w; ++ow) {
          int64_t h0, h1, w0, w1;
          double lh0, lh1, lw0, lw1;
          upsample::bilinear_taps(oh, d.h, sh, &h0, &h1, &lh0, &lh1);
          upsample::bilinear_taps(ow, d.w, sw, &w0, &w1, &lw0, &lw1);
          const double g = dy[(nc * d.out_h + oh) * d.out_w + ow];
          double* plane = ref.data() + nc * d.h * d.w;
          plane[h0 * d.w + w0] += lh0 * lw0 * g;
          plane[h0 * d.w + w1] += lh0 * lw1 * g;
          plane[h1 * d.w + w0] += lh1 * lw0 * g;
          plane[h1 * d.w + w1] += lh1 * lw1 * g;
          ref_n[nc * d.h * d.w + upsample::nearest_src(oh, d.h, d.out_h) * d.w +
                upsample::nearest_src(ow, d.w, d.out_w)] += g;
        }
    std::vector<double> dx(d.x_size(), std::nan("")), dx_n(d.x_size(), std::nan(""));
    cpu::upsample_bilinear2d_backward(d, dy.data(), dx.data());
    cpu::upsample_nearest2d_backward(d, dy.data(), dx_n.data());
    double err = 0, err_n = 0;
    for (int64_t i = 0; i < d.x_size(); ++i) {
      err = std::max(err, std::fabs(dx[i] - ref[i]));
      err_n = std::max(err_n, std::fabs(dx_n[i] - ref_n[i]));
    }
    CHECK(err < 1e-12);
    CHECK(err_n < 1e-12);
  }
}

TEST_CASE("bilinear and nearest backward match finite differences") {
  for (const Upsample2dDims& d : configs()) {
    CAPTURE(describe(d));
    auto x = test::random_vector(d.x_size(), 32);
    const auto w = test::random_vector(d.y_size(), 33);
    std::vector<double> dx(d.x_size(), std::nan("")), dx_n(d.x_size(), std::nan(""));
    cpu::upsample_bilinear2d_backward(d, w.data(), dx.data());
    cpu::upsample_nearest2d_backward(d, w.data(), dx_n.data());
    auto loss = [&] {
      std::vector<double> out(d.y_size());
      cpu::upsample_bilinear2d_forward(d, x.data(), out.data());
      return test::dot(out, w);
    };
    auto loss_n = [&] {
      std::vector<double> out(d.y_size());
      cpu::upsample_nearest2d_forward(d, x.data(), out.data());
      return test::dot(out, w);
    };
    test::check_gradient("bilinear dx " + describe(d), x, loss, dx);
    test::check_gradient("nearest dx " + describe(d), x, loss_n, dx_n);
  }
}

TEST_CASE("upsample argument errors") {
  float x = 0, y = 0;
  CHECK_THROWS_WITH_AS(cpu::upsample_bilinear2d_forward(upsample2d_dims(1, 1, 2, 2, 0, 4), &x, &y),
                       doctest::Contains("upsample_bilinear2d_forward: output size 0x4 for input 2x2"), Error);
  CHECK_THROWS_WITH_AS(cpu::upsample_nearest2d_backward(upsample2d_dims(1, 0, 2, 2, 4, 4), &x, &y),
                       doctest::Contains("upsample_nearest2d_backward: input shape [N,C,H,W] = [1,0,2,2]"), Error);
}
