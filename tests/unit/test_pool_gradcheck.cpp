// Pooling (kernels/pool.h): output sizes vs PyTorch's formula, hand-computed values, tie/NaN/-inf
// rules, argument errors, and gradient checks (double, central differences) of every backward.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "kernels/pool.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

// Distinct values spaced 0.01 apart in random order: no ties, and a finite-difference step of 1e-6
// never changes an argmax, so the max-pool loss is smooth around x.
std::vector<double> tie_free_input(size_t n, uint32_t seed) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), 0.0);
  std::mt19937 gen(seed);
  std::shuffle(v.begin(), v.end(), gen);
  for (auto& x : v) x = 0.01 * x - 0.005 * double(n);
  return v;
}

std::string describe(const Pool2dDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w) +
         " k" + std::to_string(d.kernel_h) + "x" + std::to_string(d.kernel_w) + " s" + std::to_string(d.stride_h) +
         "x" + std::to_string(d.stride_w) + " p" + std::to_string(d.pad_h) + "x" + std::to_string(d.pad_w) +
         (d.ceil_mode ? " ceil" : " floor");
}

// The configurations every gradient test runs (the ones the model zoo needs, on odd sizes, plus an
// asymmetric one so that h/w mix-ups show).
std::vector<Pool2dDims> grad_configs() {
  std::vector<Pool2dDims> v = {
      pool2d_dims(2, 3, 7, 9, 2, 2),           // k2 s2 floor, odd sizes (last row/col dropped)
      pool2d_dims(2, 2, 7, 7, 3, 2, 1),        // k3 s2 p1 (ResNet stem): overlapping windows
      pool2d_dims(1, 2, 8, 6, 3, 2, 1),        // k3 s2 p1, even sizes
      pool2d_dims(2, 2, 5, 5, 2, 2, 0, true),  // k2 s2 ceil: partial last window
      pool2d_dims(1, 3, 7, 7, 2, 2, 0, true),  // k2 s2 ceil
      pool2d_dims(2, 2, 6, 5, 2, 1),           // k2 s1 (VGG11 head avgpool)
      pool2d_dims(1, 2, 6, 6, 3, 2, 1, true),  // k3 s2 p1 ceil: last window past H+p
  };
  Pool2dDims a = pool2d_dims(1, 2, 7, 6, 3, 2, 1);
  a.kernel_w = 2, a.stride_w = 1, a.pad_w = 0;  // asymmetric kernel/stride/pad
  v.push_back(a);
  return v;
}

}  // namespace

TEST_CASE("pool output size follows PyTorch's formula") {
  // PyTorch (pooling_output_shape, dilation 1):
  //   out = floor((in + 2p - k + (ceil ? s-1 : 0)) / s) + 1;  ceil: if (out-1)*s >= in + p then out -= 1.
  // Expected values below were derived by hand from that formula.
  struct Case {
    int64_t in, k, s, p;
    bool ceil;
    int64_t out;
  };
  const Case cases[] = {
      {48, 2, 2, 0, false, 24}, {7, 2, 2, 0, false, 3},  {9, 2, 2, 0, false, 4},  {5, 2, 2, 0, true, 3},
      {7, 2, 2, 0, true, 4},    {5, 2, 2, 0, false, 2},  {7, 3, 2, 1, false, 4},  {112, 3, 2, 1, false, 56},
      {6, 2, 1, 0, false, 5},   {3, 2, 1, 0, false, 2},  {6, 3, 2, 1, true, 4},   {6, 3, 2, 1, false, 3},
      {5, 3, 3, 1, true, 2},    {5, 3, 3, 1, false, 2},  {6, 2, 4, 1, true, 2},   {6, 2, 4, 0, true, 2},
      {10, 2, 3, 1, true, 4},   {10, 2, 3, 1, false, 4}, {1, 1, 1, 0, false, 1},  {1, 2, 2, 0, true, 1},
      {47, 3, 2, 0, true, 23},  {46, 3, 2, 0, true, 23}, {46, 3, 2, 0, false, 22}, {14, 3, 2, 1, true, 8},
      {14, 3, 2, 1, false, 7},  {2, 3, 2, 1, true, 2},   {2, 3, 2, 1, false, 1},  {3, 3, 3, 1, true, 2},
      {2, 3, 3, 1, true, 1},    {6, 6, 1, 3, false, 7},  {24, 2, 2, 0, true, 12},  {3, 2, 2, 0, true, 2},
  };
  for (const Case& t : cases) {
    CAPTURE(t.in);
    CAPTURE(t.k);
    CAPTURE(t.s);
    CAPTURE(t.p);
    CAPTURE(t.ceil);
    CHECK(pool_out_size(t.in, t.k, t.s, t.p, t.ceil) == t.out);
    // Independent count of the windows: floor mode keeps windows that fit inside the padded input;
    // ceil mode keeps windows that start before in + 2p - k + s and inside the input or left pad.
    int64_t count = 0;
    for (int64_t o = 0; o < 1000; ++o) {
      const int64_t start = o * t.s - t.p;
      const bool ok = t.ceil ? (o * t.s <= t.in + 2 * t.p - t.k + t.s - 1 && start < t.in)
                             : (start + t.k <= t.in + t.p);
      if (ok) ++count;
    }
    CHECK(count == t.out);
  }
  // Too small: k2 s2 floor on a 1-wide input has no window.
  CHECK(pool_out_size(1, 2, 2, 0, false) == 0);
}

TEST_CASE("pool argument errors name the op and the problem") {
  std::vector<float> x(64), y(64);
  std::vector<int32_t> a(64);
  CHECK_THROWS_WITH_AS(cpu::maxpool2d_forward(pool2d_dims(1, 1, 8, 8, 3, 2, 2), x.data(), y.data(), a.data()),
                       doctest::Contains("maxpool2d_forward: padding 2x2 must be in [0, kernel/2]"), Error);
  CHECK_THROWS_WITH_AS(cpu::avgpool2d_forward(pool2d_dims(1, 1, 1, 1, 2, 2), true, x.data(), y.data()),
                       doctest::Contains("avgpool2d_forward: output size 0x0 is too small"), Error);
  CHECK_THROWS_WITH_AS(cpu::maxpool2d_forward(pool2d_dims(1, 1, 4, 4, 2, 0), x.data(), y.data(), a.data()),
                       doctest::Contains("must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(cpu::global_avgpool_forward<float>(2, 0, 4, x.data(), y.data()),
                       doctest::Contains("global_avgpool_forward: shape [N,C,HW] = [2,0,4]"), Error);
}

TEST_CASE("maxpool forward: values, argmax, ties, NaN, -inf and padding") {
  // 4x4 plane 0..15, k2 s2: maxima are the bottom-right elements of each 2x2 block.
  std::vector<double> x(16);
  std::iota(x.begin(), x.end(), 0.0);
  std::vector<double> y(4);
  std::vector<int32_t> arg(4);
  cpu::maxpool2d_forward(pool2d_dims(1, 1, 4, 4, 2, 2), x.data(), y.data(), arg.data());
  CHECK(y == std::vector<double>{5, 7, 13, 15});
  CHECK(arg == std::vector<int32_t>{5, 7, 13, 15});

  // Ties: the first maximum in row-major window order wins.
  std::vector<double> t = {1, 3, 3, 3, 2, 3, 0, 0, 0};  // 3x3, one k3 window... and k2 s1 windows
  std::vector<double> yt(4);
  std::vector<int32_t> at(4);
  cpu::maxpool2d_forward(pool2d_dims(1, 1, 3, 3, 2, 1), t.data(), yt.data(), at.data());
  CHECK(at == std::vector<int32_t>{1, 1, 3, 5});  // windows {0,1,3,4} {1,2,4,5} {3,4,6,7} {4,5,7,8}
  CHECK(yt == std::vector<double>{3, 3, 3, 3});

  // NaN propagates (PyTorch: `v > best || isnan(v)`; with two NaNs the later one is the argmax).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> xn = {1, nan, 5, nan};  // one 2x2 window
  double yn;
  int32_t an;
  cpu::maxpool2d_forward(pool2d_dims(1, 1, 2, 2, 2, 2), xn.data(), &yn, &an);
  CHECK(std::isnan(yn));
  CHECK(an == 3);

  // All -inf: the output is -inf and the argmax the window's first real element.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> xi(9, -inf);
  std::vector<double> yi(4);
  std::vector<int32_t> ai(4);
  cpu::maxpool2d_forward(pool2d_dims(1, 1, 3, 3, 3, 2, 1), xi.data(), yi.data(), ai.data());
  CHECK(yi[0] == -inf);
  CHECK(ai == std::vector<int32_t>{0, 1, 3, 4});  // window starts clipped to 0: (0,0) (0,1) (1,0) (1,1)

  // Padding is -inf, never 0: an all-negative input never yields 0.
  std::vector<double> xneg = {-5, -4, -3, -2, -1, -6, -7, -8, -9};
  std::vector<double> yneg(4);
  std::vector<int32_t> aneg(4);
  cpu::maxpool2d_forward(pool2d_dims(1, 1, 3, 3, 3, 2, 1), xneg.data(), yneg.data(), aneg.data());
  CHECK(yneg == std::vector<double>{-1, -1, -1, -1});
  CHECK(aneg == std::vector<int32_t>{4, 4, 4, 4});
}

TEST_CASE("maxpool backward routes every window's gradient to its argmax (overlaps add up)") {
  // 5x5, k3 s2 p1 -> 3x3. x[1][1] is the largest value; it lies in windows (0,0),(0,1),(1,0),(1,1).
  std::vector<double> x = tie_free_input(25, 7);
  for (auto& v : x) v -= 100;
  x[1 * 5 + 1] = 10;
  const Pool2dDims d = pool2d_dims(1, 1, 5, 5, 3, 2, 1);
  std::vector<double> y(9), dy(9), dx(25, -1);
  std::vector<int32_t> arg(9);
  for (int i = 0; i < 9; ++i) dy[i] = i + 1;
  cpu::maxpool2d_forward(d, x.data(), y.data(), arg.data());
  cpu::maxpool2d_backward(d, dy.data(), arg.data(), dx.data());
  CHECK(dx[6] == 1 + 2 + 4 + 5);  // dy of windows (0,0),(0,1),(1,0),(1,1)
  double total = 0;
  for (double v : dx) total += v;
  CHECK(total == 45);  // every window routes exactly its dy somewhere: sum dx = sum dy
}

TEST_CASE("maxpool backward, non-overlapping windows: the scatter shortcut gives the gather's exact values") {
  // The gather written out: dx[i] = 0 + the dy of every window whose argmax is i, in window order.
  struct Case {
    int64_t n, c, h, w, k, s, p;
    bool ceil;
  };
  const Case cases[] = {{2, 3, 6, 6, 2, 2, 0, false}, {1, 2, 7, 5, 2, 2, 0, true}, {2, 1, 9, 8, 2, 3, 1, false},
                        {1, 3, 5, 7, 3, 3, 1, true}};
  for (const Case& c : cases) {
    Pool2dDims d = pool2d_dims(c.n, c.c, c.h, c.w, c.k, c.s, c.p);
    d.ceil_mode = c.ceil;
    const int64_t oh = d.out_h(), ow = d.out_w(), planes = c.n * c.c;
    const std::vector<double> xd = tie_free_input(static_cast<size_t>(planes * c.h * c.w), 3);
    std::vector<float> x(xd.begin(), xd.end()), y(static_cast<size_t>(planes * oh * ow));
    std::vector<float> dy(y.size()), dx(x.size(), 123.f), want(x.size(), 0.f);
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = i % 5 == 0 ? -0.0f : 0.25f * float(int(i) - 7);
    std::vector<int32_t> arg(y.size());
    cpu::maxpool2d_forward<float>(d, x.data(), y.data(), arg.data());
    cpu::maxpool2d_backward<float>(d, dy.data(), arg.data(), dx.data());
    for (int64_t pl = 0; pl < planes; ++pl)
      for (int64_t i = 0; i < c.h * c.w; ++i) {
        float sum = 0.f;
        for (int64_t o = 0; o < oh * ow; ++o)
          if (arg[static_cast<size_t>(pl * oh * ow + o)] == i) sum += dy[static_cast<size_t>(pl * oh * ow + o)];
        want[static_cast<size_t>(pl * c.h * c.w + i)] = sum;
      }
    CHECK(std::memcmp(dx.data(), want.data(), dx.size() * sizeof(float)) == 0);  // bits, -0 included
  }
}

TEST_CASE("avgpool forward: count_include_pad and ceil-mode divisors") {
  std::vector<double> x(16);
  std::iota(x.begin(), x.end(), 1.0);  // 4x4 plane 1..16
  std::vector<double> y(4);
  const Pool2dDims d = pool2d_dims(1, 1, 4, 4, 3, 2, 1);  // -> 2x2
  cpu::avgpool2d_forward(d, true, x.data(), y.data());
  CHECK(y[0] == doctest::Approx(14.0 / 9));  // {1,2,5,6} over 9 (padding counts)
  CHECK(y[1] == doctest::Approx(30.0 / 9));  // {2,3,4,6,7,8}
  CHECK(y[3] == doctest::Approx(11.0));      // interior window {6..8,10..12,14..16} = 99 / 9
  cpu::avgpool2d_forward(d, false, x.data(), y.data());
  CHECK(y[0] == doctest::Approx(3.5));  // 14 / 4
  CHECK(y[1] == doctest::Approx(5.0));  // 30 / 6
  CHECK(y[3] == doctest::Approx(11.0));

  // Ceil mode: the partial window at the end counts only up to H + p, even with count_include_pad.
  std::vector<double> x5(25);
  std::iota(x5.begin(), x5.end(), 0.0);
  std::vector<double> y5(9);
  cpu::avgpool2d_forward(pool2d_dims(1, 1, 5, 5, 2, 2, 0, true), true, x5.data(), y5.data());
  CHECK(y5[8] == 24.0);                    // window (2,2) = {x[4][4]}, divisor 1
  CHECK(y5[2] == doctest::Approx(6.5));    // window (0,2) = {4, 9}, divisor 2
  // k3 s2 p1 ceil on 6x6 -> 4x4; window 3 starts at row 5, ends at min(8, H+p = 7): divisor 2 per axis.
  std::vector<double> ones(36, 1.0), y6(16);
  cpu::avgpool2d_forward(pool2d_dims(1, 1, 6, 6, 3, 2, 1, true), true, ones.data(), y6.data());
  CHECK(y6[15] == doctest::Approx(1.0 / 4));  // 1 real element of a 2x2 window
  CHECK(y6[0] == doctest::Approx(4.0 / 9));
  cpu::avgpool2d_forward(pool2d_dims(1, 1, 6, 6, 3, 2, 1, true), false, ones.data(), y6.data());
  CHECK(y6[15] == 1.0);
  CHECK(y6[0] == 1.0);
}

TEST_CASE("maxpool backward matches finite differences") {
  for (const Pool2dDims& d : grad_configs()) {
    CAPTURE(describe(d));
    auto x = tie_free_input(d.x_size(), 3);
    const auto w = test::random_vector(d.y_size(), 4);
    std::vector<double> y(d.y_size()), dx(d.x_size(), std::nan(""));
    std::vector<int32_t> arg(d.y_size());
    cpu::maxpool2d_forward(d, x.data(), y.data(), arg.data());
    cpu::maxpool2d_backward(d, w.data(), arg.data(), dx.data());
    auto loss = [&] {
      std::vector<double> out(d.y_size());
      std::vector<int32_t> a(d.y_size());
      cpu::maxpool2d_forward(d, x.data(), out.data(), a.data());
      return test::dot(out, w);
    };
    test::check_gradient("maxpool2d dx " + describe(d), x, loss, dx);
  }
}

TEST_CASE("avgpool backward matches finite differences") {
  for (const Pool2dDims& d : grad_configs()) {
    for (bool include_pad : {true, false}) {
      CAPTURE(describe(d));
      CAPTURE(include_pad);
      auto x = test::random_vector(d.x_size(), 5);
      const auto w = test::random_vector(d.y_size(), 6);
      std::vector<double> dx(d.x_size(), std::nan(""));
      cpu::avgpool2d_backward(d, include_pad, w.data(), dx.data());
      auto loss = [&] {
        std::vector<double> out(d.y_size());
        cpu::avgpool2d_forward(d, include_pad, x.data(), out.data());
        return test::dot(out, w);
      };
      test::check_gradient("avgpool2d dx " + describe(d), x, loss, dx);
    }
  }
}

TEST_CASE("global average pool: values and finite differences") {
  const int64_t n = 3, c = 5, hw = 7 * 7;
  auto x = test::random_vector(n * c * hw, 8);
  std::vector<double> y(n * c);
  cpu::global_avgpool_forward(n, c, hw, x.data(), y.data());
  double mean = 0;
  for (int64_t i = 0; i < hw; ++i) mean += x[2 * hw + i];
  CHECK(y[2] == doctest::Approx(mean / hw));
  const auto w = test::random_vector(n * c, 9);
  std::vector<double> dx(n * c * hw, std::nan(""));
  cpu::global_avgpool_backward(n, c, hw, w.data(), dx.data());
  auto loss = [&] {
    std::vector<double> out(n * c);
    cpu::global_avgpool_forward(n, c, hw, x.data(), out.data());
    return test::dot(out, w);
  };
  test::check_gradient("global_avgpool dx", x, loss, dx);
}
