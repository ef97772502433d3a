// Reductions (CPU twin): exact sums on odd sizes up to 10^6+3, independence from the thread count,
// axis reductions against a long-double loop, max/argmax ties and NaN, gradient checks in double.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/reduce.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {
const ReduceOp kReductions[] = {ReduceOp::sum, ReduceOp::mean, ReduceOp::sum_squares};

// x[i] = (i % 7) - 3: small integers, so every partial sum is exact and the expected results are
// known exactly.
std::vector<float> small_ints(int64_t n) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 7 - 3);
  return x;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
}  // namespace

TEST_CASE("reduce_all: exact results on odd sizes 1 .. 10^6+3") {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(65537), int64_t(1000003)}) {
    CAPTURE(n);
    const auto x = small_ints(n);
    int64_t sum = 0, sumsq = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += i % 7 - 3;
      sumsq += (i % 7 - 3) * (i % 7 - 3);
    }
    float out = -777.f;
    cpu::reduce_all(ReduceOp::sum, n, x.data(), &out);
    CHECK(out == static_cast<float>(sum));
    cpu::reduce_all(ReduceOp::sum_squares, n, x.data(), &out);
    CHECK(out == static_cast<float>(sumsq));
    cpu::reduce_all(ReduceOp::mean, n, x.data(), &out);
    CHECK(out == static_cast<float>(static_cast<double>(sum) / static_cast<double>(n)));
  }
}

TEST_CASE("reduce_all: random data against long double, same bits for any thread count") {
  const int64_t n = 1000003;
  const auto xd = test::random_vector(n, 7, -1.0, 1.0);
  const std::vector<float> x(xd.begin(), xd.end());
  for (ReduceOp r : kReductions) {
    CAPTURE(reduce_op_name(r));
    long double want = 0;
    for (float v : x) want += r == ReduceOp::sum_squares ? (long double)v * v : (long double)v;
    if (r == ReduceOp::mean) want /= n;
    float out = 0, out1 = 0, out3 = 0;
    double outd = 0;
    cpu::reduce_all(r, n, x.data(), &out);
    cpu::reduce_all(r, n, xd.data(), &outd);
    CHECK(std::fabs(out - static_cast<double>(want)) <= 1e-6 * (1.0 + std::fabs(static_cast<double>(want))));
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cpu::reduce_all(r, n, x.data(), &out1);
    omp_set_num_threads(3);
    cpu::reduce_all(r, n, x.data(), &out3);
    omp_set_num_threads(saved);
    CHECK(bits(out1) == bits(out));
    CHECK(bits(out3) == bits(out));
  }
}

TEST_CASE("reduce_all: empty input and errors") {
  float out = -1.f;
  cpu::reduce_all<float>(ReduceOp::sum, 0, nullptr, &out);
  CHECK(out == 0.f);
  CHECK_THROWS_WITH_AS(cpu::reduce_all<float>(ReduceOp::mean, 0, nullptr, &out),
                       doctest::Contains("reduce_all: needs at least one element"), fer::Error);
}

TEST_CASE("reduce_axis: hand-computed") {
  const double x[6] = {1, 2, 3, 4, 5, 6};  // [2, 3]
  double y[3];
  cpu::reduce_axis(ReduceOp::sum, 1, 2, 3, x, y);  // over the rows: column sums
  CHECK(y[0] == 5);
  CHECK(y[2] == 9);
  cpu::reduce_axis(ReduceOp::mean, 1, 2, 3, x, y);
  CHECK(y[1] == 3.5);
  cpu::reduce_axis(ReduceOp::sum_squares, 1, 2, 3, x, y);
  CHECK(y[0] == 17);
  CHECK(y[2] == 45);
  cpu::reduce_axis(ReduceOp::sum, 2, 3, 1, x, y);  // over the columns: row sums
  CHECK(y[0] == 6);
  CHECK(y[1] == 15);
  CHECK_THROWS_WITH_AS(cpu::reduce_axis(ReduceOp::mean, 2, 0, 1, x, y),
                       doctest::Contains("reduce_axis: the reduced axis is empty"), fer::Error);
}

TEST_CASE("reduce_axis: odd shapes against a long-double loop") {
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {2, 1, 300}, {4, 9, 1}, {2, 3, 600}, {1, 1001, 1}, {7, 13, 257}};
  for (const auto& s : shapes) {
    const int64_t outer = s[0], dim = s[1], inner = s[2];
    const auto xd = test::random_vector(outer * dim * inner, 8);
    const std::vector<float> x(xd.begin(), xd.end());
    for (ReduceOp r : kReductions) {
      CAPTURE(reduce_op_name(r));
      CAPTURE(outer);
      CAPTURE(dim);
      CAPTURE(inner);
      std::vector<float> y(outer * inner, -777.f);
      std::vector<double> yd(outer * inner, -777.0);
      cpu::reduce_axis(r, outer, dim, inner, x.data(), y.data());
      cpu::reduce_axis(r, outer, dim, inner, xd.data(), yd.data());
      double worst = 0, worst_d = 0;
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          long double acc = 0, accd = 0;
          for (int64_t d = 0; d < dim; ++d) {
            const long double v = x[(o * dim + d) * inner + i], vd = xd[(o * dim + d) * inner + i];
            acc += r == ReduceOp::sum_squares ? v * v : v;
            accd += r == ReduceOp::sum_squares ? vd * vd : vd;
          }
          if (r == ReduceOp::mean) acc /= dim, accd /= dim;
          worst = std::max(worst, std::fabs(y[o * inner + i] - static_cast<double>(acc)));
          worst_d = std::max(worst_d, std::fabs(yd[o * inner + i] - static_cast<double>(accd)));
        }
      }
      CHECK(worst <= 1e-6 * std::max<double>(1.0, dim));  // one float rounding of the result
      CHECK(worst_d <= 1e-12 * std::max<double>(1.0, dim));
    }
  }
}

TEST_CASE("max_axis and argmax_rows: values, first index on ties, NaN propagates") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // rows of [4, 5]
  const float x[20] = {1,    3,    3,     2,    0,     //
                       -inf, -inf, -inf,  -inf, -inf,  //
                       0,    nan,  5,     nan,  1,     //
                       -1,   -2,   -0.5f, -7,   -0.5f};
  int64_t idx[4] = {-1, -1, -1, -1};
  float y[4];
  cpu::max_axis(4, 5, 1, x, y, idx);
  CHECK(idx[0] == 1);  // tie 3, 3: the first
  CHECK(y[0] == 3);
  CHECK(idx[1] == 0);
  CHECK(y[1] == -inf);
  CHECK(idx[2] == 1);  // the first NaN
  CHECK(std::isnan(y[2]));
  CHECK(idx[3] == 2);
  CHECK(y[3] == -0.5f);
  int64_t am[4];
  int32_t am32[4] = {-1, -1, -1, -1};  // the tensor layer's i32 argmax
  cpu::argmax_rows(4, 5, x, am);
  cpu::argmax_rows(4, 5, x, am32);
  for (int r = 0; r < 4; ++r) CHECK(am[r] == idx[r]);
  for (int r = 0; r < 4; ++r) CHECK(am32[r] == idx[r]);
  CHECK_THROWS_WITH_AS(check_index_range("argmax_rows", int64_t(1) << 32, std::numeric_limits<int32_t>::max()),
                       doctest::Contains("argmax_rows: an axis of 4294967296 elements needs indices up to 4294967295"),
                       fer::Error);
  // Over the middle axis: x as [1, 4, 5]: column-wise max over the 4 rows.
  float ycol[5];
  int64_t icol[5];
  cpu::max_axis(1, 4, 5, x, ycol, icol);
  CHECK(icol[0] == 0);  // 1 > 0 > -1 > -inf
  CHECK(ycol[0] == 1);
  CHECK(icol[1] == 2);  // NaN in row 2
  CHECK(icol[2] == 2);  // 5
  CHECK(ycol[4] == 1);
  CHECK(icol[4] == 2);
  CHECK_THROWS_WITH_AS(cpu::max_axis<float>(1, 0, 5, x, ycol, icol),
                       doctest::Contains("max_axis: the reduced axis is empty"), fer::Error);
}

TEST_CASE("reduction backward matches finite differences") {
  const int64_t outer = 3, dim = 5, inner = 4, n = outer * dim * inner;
  for (ReduceOp r : kReductions) {
    CAPTURE(reduce_op_name(r));
    auto x = test::random_vector(n, 9);
    {  // reduce_all: L = w * reduce(x)
      const double w = 0.7;
      std::vector<double> dx(n);
      cpu::reduce_all_backward(r, n, x.data(), &w, dx.data());
      auto loss = [&] {
        double out;
        cpu::reduce_all(r, n, x.data(), &out);
        return w * out;
      };
      test::check_gradient(std::string("reduce_all ") + reduce_op_name(r), x, loss, dx);
    }
    {  // reduce_axis: L = sum w[o,i] * y[o,i]
      const auto w = test::random_vector(outer * inner, 10);
      std::vector<double> dx(n);
      cpu::reduce_axis_backward(r, outer, dim, inner, x.data(), w.data(), dx.data());
      auto loss = [&] {
        std::vector<double> y(outer * inner);
        cpu::reduce_axis(r, outer, dim, inner, x.data(), y.data());
        return test::dot(y, w);
      };
      test::check_gradient(std::string("reduce_axis ") + reduce_op_name(r), x, loss, dx);
    }
  }
  {  // max_axis: distinct values (random), so the argmax does not move under +-eps
    auto x = test::random_vector(n, 11);
    const auto w = test::random_vector(outer * inner, 12);
    std::vector<int64_t> idx(outer * inner);
    std::vector<double> y(outer * inner), dx(n);
    cpu::max_axis(outer, dim, inner, x.data(), y.data(), idx.data());
    cpu::max_axis_backward(outer, dim, inner, idx.data(), w.data(), dx.data());
    auto loss = [&] {
      std::vector<double> yy(outer * inner);
      cpu::max_axis<double, int64_t>(outer, dim, inner, x.data(), yy.data(), nullptr);
      return test::dot(yy, w);
    };
    test::check_gradient("max_axis", x, loss, dx);
  }
}
