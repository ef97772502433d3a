// Elementwise ops (CPU twin): broadcast descriptions and their errors, hand-computed values for every
// broadcast pattern, a coordinate-by-coordinate reference for every op and kind, gradient checks of
// the broadcast backward (binary_backward + reduce_sum_to_shape) in double, and the scalar ops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "tests/support/gradcheck.h"

using namespace fer;
using Shape = std::vector<int64_t>;

namespace {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

std::string str(const Shape& s) {
  return shape_string(s.data(), static_cast<int>(s.size()));
}

// The textbook definition: for every output coordinate, the operand offsets (a coordinate is 0
// on a dim where the operand has size 1).
struct Reference {
  Shape out;
  std::vector<int64_t> ia, ib;
};
Reference reference_broadcast(const Shape& a, const Shape& b) {
  const size_t nd = std::max(a.size(), b.size());
  Shape pa(nd, 1), pb(nd, 1);
  std::copy(a.begin(), a.end(), pa.begin() + (nd - a.size()));
  std::copy(b.begin(), b.end(), pb.begin() + (nd - b.size()));
  Reference r;
  for (size_t d = 0; d < nd; ++d) r.out.push_back(pa[d] == 1 ? pb[d] : pa[d]);
  const int64_t n = numel_of(r.out);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, oa = 0, ob = 0, sa = 1, sb = 1;
    for (size_t d = nd; d-- > 0;) {
      const int64_t c = rem % r.out[d];
      rem /= r.out[d];
      if (pa[d] != 1) oa += c * sa;
      if (pb[d] != 1) ob += c * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    r.ia.push_back(oa);
    r.ib.push_back(ob);
  }
  return r;
}

// Random values; for a divisor keep |b| in [0.5, 2] so a/b and its derivatives stay tame.
std::vector<double> values(int64_t n, uint32_t seed, bool divisor = false) {
  auto v = test::random_vector(static_cast<size_t>(n), seed, divisor ? 0.5 : -2.0, 2.0);
  if (divisor)
    for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  return v;
}

const BinaryOp kOps[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div};

// Shape pairs that hit every broadcast kind, both ways round, on odd sizes.
const std::vector<std::pair<Shape, Shape>> kPairs = {{{5, 3, 7, 9}, {5, 3, 7, 9}},
                                                     {{5, 3, 7, 9}, {1}},
                                                     {{}, {5, 3, 7}},
                                                     {{5, 3, 7, 9}, {5, 3, 1, 1}},
                                                     {{5, 3, 1, 1}, {5, 3, 7, 9}},
                                                     {{5, 3, 7, 9}, {5, 1, 7, 9}},
                                                     {{5, 1, 7, 9}, {5, 3, 7, 9}},
                                                     {{5, 3, 7, 9}, {1, 3, 1, 1}},
                                                     {{3, 1, 1}, {5, 3, 7, 9}},
                                                     {{7, 11}, {11}},
                                                     {{1, 6, 5}, {3, 6, 5}},
                                                     {{4, 1, 3}, {1, 5, 1}},
                                                     {{2, 3, 1, 5}, {3, 4, 1}},
                                                     {{2, 1, 3, 1, 5}, {1, 4, 1, 6, 1}},
                                                     {{33, 17, 70}, {33, 1, 70}},
                                                     {{64, 8, 9, 9}, {64, 8, 1, 1}},
                                                     {{1, 8, 1, 1}, {64, 8, 9, 9}},
                                                     {{40, 1000}, {1}}};

}  // namespace

TEST_CASE("make_broadcast: result shape and fast-path kind") {
  struct Case {
    Shape a, b, out;
    BroadcastKind kind;
  };
  using K = BroadcastKind;
  const Case cases[] = {
      {{2, 3}, {2, 3}, {2, 3}, K::same},
      {{2, 3, 4}, {1}, {2, 3, 4}, K::scalar_b},
      {{}, {2, 3}, {2, 3}, K::scalar_a},
      {{2, 3, 4, 5}, {1, 1, 1, 1}, {2, 3, 4, 5}, K::scalar_b},
      {{2, 3, 4, 5}, {2, 3, 1, 1}, {2, 3, 4, 5}, K::inner_b},  // SE gate (N,C,1,1)
      {{2, 3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}, K::inner_a},
      {{2, 3, 4, 5}, {2, 1, 1, 1}, {2, 3, 4, 5}, K::inner_b},  // per-sample mask (drop-path)
      {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 3, 4, 5}, K::mid_b},    // attention gate (N,1,H,W)
      {{1, 4, 5}, {3, 4, 5}, {3, 4, 5}, K::mid_a},             // position embedding (1,T,D)
      {{2, 3, 4, 5}, {1, 3, 1, 1}, {2, 3, 4, 5}, K::outer_inner_b},
      {{3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}, K::outer_inner_a},
      {{4, 1}, {1, 5}, {4, 5}, K::generic},
      {{2, 3, 4, 5}, {3, 1, 5}, {2, 3, 4, 5}, K::generic},
      {{1, 1}, {1}, {1, 1}, K::same},
  };
  for (const auto& c : cases) {
    CAPTURE(str(c.a));
    CAPTURE(str(c.b));
    const BroadcastShape bs = make_broadcast(c.a, c.b);
    CHECK(Shape(bs.shape, bs.shape + bs.shape_ndim) == c.out);
    CHECK(bs.numel == numel_of(c.out));
    CHECK(bs.a_numel == numel_of(c.a));
    CHECK(bs.b_numel == numel_of(c.b));
    CHECK(std::string(broadcast_kind_name(bs.kind)) == broadcast_kind_name(c.kind));
  }
  // (N,C,H,W) * (N,C,1,1) collapses to [N*C, H*W] with b read once per row.
  const BroadcastShape se = make_broadcast({2, 3, 4, 5}, {2, 3, 1, 1});
  CHECK(se.ndim == 2);
  CHECK(se.out[0] == 6);
  CHECK(se.out[1] == 20);
  CHECK(se.b_stride[0] == 1);
  CHECK(se.b_stride[1] == 0);
  // An empty result.
  const BroadcastShape empty = make_broadcast({0, 3}, {1, 3});
  CHECK(empty.numel == 0);
  CHECK(empty.b_numel == 3);
}

TEST_CASE("make_broadcast: errors name both shapes") {
  CHECK_THROWS_WITH_AS(make_broadcast({2, 3, 4}, {3, 5}),
                       doctest::Contains("broadcast: shapes (2,3,4) and (3,5) are not broadcastable (dim -1: 4 vs 5)"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(make_broadcast({4, 3}, {2, 2, 3}), doctest::Contains("(4,3) and (2,2,3)"), fer::Error);
  CHECK_THROWS_WITH_AS(make_broadcast(Shape(9, 1), {1}), doctest::Contains("more than 8 dims"), fer::Error);
  CHECK_THROWS_WITH_AS(make_reduce_to_shape({2, 3}, {2, 1, 3}),
                       doctest::Contains("cannot sum shape (2,3) down to (2,1,3)"), fer::Error);
  CHECK_THROWS_WITH_AS(make_reduce_to_shape({2, 3}, {2, 2}), doctest::Contains("cannot sum shape (2,3) down to (2,2)"),
                       fer::Error);
}

TEST_CASE("binary_forward: hand-computed broadcasts") {
  {  // same shape
    const double a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    double c[3];
    cpu::binary_forward(BinaryOp::add, make_broadcast({3}, {3}), a, b, c);
    CHECK(c[0] == 11);
    CHECK(c[2] == 33);
  }
  {  // (2,3) * (2,1): each row times its own value
    const double a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {10, 100};
    const double want[6] = {10, 20, 30, 400, 500, 600};
    double c[6];
    cpu::binary_forward(BinaryOp::mul, make_broadcast({2, 3}, {2, 1}), a, b, c);
    for (int i = 0; i < 6; ++i) CHECK(c[i] == want[i]);
  }
  {  // (2,3) - (3): every row minus the same vector
    const double a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 2, 3};
    const double want[6] = {0, 0, 0, 3, 3, 3};
    double c[6];
    cpu::binary_forward(BinaryOp::sub, make_broadcast({2, 3}, {3}), a, b, c);
    for (int i = 0; i < 6; ++i) CHECK(c[i] == want[i]);
  }
  {  // (2,1) / (1,3): an outer "product" of divisions
    const double a[2] = {1, 2}, b[3] = {1, 2, 4};
    const double want[6] = {1, 0.5, 0.25, 2, 1, 0.5};
    double c[6];
    cpu::binary_forward(BinaryOp::div, make_broadcast({2, 1}, {1, 3}), a, b, c);
    for (int i = 0; i < 6; ++i) CHECK(c[i] == want[i]);
  }
  {  // scalar on the left: 2 - (3)
    const double a[1] = {2}, b[3] = {1, 5, -1};
    double c[3];
    cpu::binary_forward(BinaryOp::sub, make_broadcast({1}, {3}), a, b, c);
    CHECK(c[0] == 1);
    CHECK(c[1] == -3);
    CHECK(c[2] == 3);
  }
  {  // NCHW (2,2,1,2) + per-channel (1,2,1,1)
    const double a[8] = {0, 1, 2, 3, 4, 5, 6, 7}, b[2] = {10, 20};
    const double want[8] = {10, 11, 22, 23, 14, 15, 26, 27};
    double c[8];
    const BroadcastShape bs = make_broadcast({2, 2, 1, 2}, {1, 2, 1, 1});
    CHECK(bs.kind == BroadcastKind::outer_inner_b);
    cpu::binary_forward(BinaryOp::add, bs, a, b, c);
    for (int i = 0; i < 8; ++i) CHECK(c[i] == want[i]);
  }
  {  // NCHW (2,2,1,2) - spatial map (2,1,1,2): c[n,ch,0,w] = a - b[n,w]
    const double a[8] = {0, 1, 2, 3, 4, 5, 6, 7}, b[4] = {1, 2, 3, 4};
    const double want[8] = {-1, -1, 1, 1, 1, 1, 3, 3};
    double c[8];
    const BroadcastShape bs = make_broadcast({2, 2, 1, 2}, {2, 1, 1, 2});
    CHECK(bs.kind == BroadcastKind::mid_b);
    cpu::binary_forward(BinaryOp::sub, bs, a, b, c);
    for (int i = 0; i < 8; ++i) CHECK(c[i] == want[i]);
  }
  {  // in place: c aliases the full-shape operand a
    double a[4] = {1, 2, 3, 4};
    const double b[2] = {2, 10};
    cpu::binary_forward(BinaryOp::mul, make_broadcast({2, 2}, {2, 1}), a, b, a);
    CHECK(a[0] == 2);
    CHECK(a[1] == 4);
    CHECK(a[2] == 30);
    CHECK(a[3] == 40);
  }
}

TEST_CASE("binary_forward: every op and kind equals the coordinate reference") {
  for (const auto& [sa, sb] : kPairs) {
    const BroadcastShape bs = make_broadcast(sa, sb);
    const Reference ref = reference_broadcast(sa, sb);
    REQUIRE(Shape(bs.shape, bs.shape + bs.shape_ndim) == ref.out);
    const auto a = values(bs.a_numel, 11), b = values(bs.b_numel, 12, true);
    const std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
    for (BinaryOp op : kOps) {
      CAPTURE(str(sa));
      CAPTURE(str(sb));
      CAPTURE(binary_op_name(op));
      CAPTURE(broadcast_kind_name(bs.kind));
      std::vector<double> c(bs.numel, -777.0);
      std::vector<float> cf(bs.numel, -777.f);
      cpu::binary_forward(op, bs, a.data(), b.data(), c.data());
      cpu::binary_forward(op, bs, af.data(), bf.data(), cf.data());
      int64_t bad = -1;
      for (int64_t i = 0; i < bs.numel && bad < 0; ++i) {
        const double want = ew::binary(op, a[ref.ia[i]], b[ref.ib[i]]);
        const float want_f = ew::binary(op, af[ref.ia[i]], bf[ref.ib[i]]);
        if (c[i] != want || cf[i] != want_f) bad = i;
      }
      CHECK_MESSAGE(bad < 0, "first wrong output element " << bad);
    }
  }
}

TEST_CASE("binary backward (terms + reduce_sum_to_shape) matches finite differences") {
  const std::vector<std::pair<Shape, Shape>> pairs = {{{3, 4, 5}, {3, 4, 5}},
                                                      {{3, 4, 5}, {1}},
                                                      {{}, {3, 5}},
                                                      {{2, 3, 4, 5}, {2, 3, 1, 1}},
                                                      {{2, 3, 1, 1}, {2, 3, 4, 5}},
                                                      {{2, 3, 4, 5}, {2, 1, 4, 5}},
                                                      {{2, 3, 4, 5}, {1, 3, 1, 1}},
                                                      {{3, 1, 1}, {2, 3, 4, 5}},
                                                      {{4, 1, 3}, {1, 5, 1}},
                                                      {{1, 5, 3}, {2, 5, 3}},
                                                      {{2, 1, 3, 1, 5}, {1, 4, 1, 2, 1}}};
  for (const auto& [sa, sb] : pairs) {
    const BroadcastShape bs = make_broadcast(sa, sb);
    for (BinaryOp op : kOps) {
      CAPTURE(str(sa));
      CAPTURE(str(sb));
      CAPTURE(binary_op_name(op));
      auto a = values(bs.a_numel, 21), b = values(bs.b_numel, 22, true);
      const auto w = values(bs.numel, 23);  // the cotangent dc
      // Analytic: out-shaped terms, then summed down to each operand's shape.
      std::vector<double> ga(bs.numel), gb(bs.numel), da(bs.a_numel), db(bs.b_numel);
      cpu::binary_backward(op, bs, a.data(), b.data(), w.data(), ga.data(), gb.data());
      cpu::reduce_sum_to_shape(bs, Operand::a, ga.data(), da.data());
      cpu::reduce_sum_to_shape(bs, Operand::b, gb.data(), db.data());
      auto loss = [&] {
        std::vector<double> c(bs.numel);
        cpu::binary_forward(op, bs, a.data(), b.data(), c.data());
        return test::dot(c, w);
      };
      test::check_gradient(std::string(binary_op_name(op)) + " da", a, loss, da);
      test::check_gradient(std::string(binary_op_name(op)) + " db", b, loss, db);
    }
  }
}

TEST_CASE("binary_backward: add/sub need no operands, null outputs are skipped") {
  const BroadcastShape bs = make_broadcast({2, 2}, {2, 1});
  const double dc[4] = {1, 2, 3, 4};
  double ga[4], gb[4] = {9, 9, 9, 9};
  cpu::binary_backward<double>(BinaryOp::sub, bs, nullptr, nullptr, dc, ga, gb);
  CHECK(ga[3] == 4);
  CHECK(gb[3] == -4);
  cpu::binary_backward<double>(BinaryOp::add, bs, nullptr, nullptr, dc, ga, nullptr);
  CHECK(ga[2] == 3);
  CHECK_THROWS_WITH_AS(cpu::binary_backward<double>(BinaryOp::mul, bs, nullptr, nullptr, dc, ga, gb),
                       doctest::Contains("binary_backward(mul): a and b are needed"), fer::Error);
}

TEST_CASE("reduce_sum_to_shape: hand-computed and against a scatter-add reference") {
  {  // (2,3) -> (2,1) row sums, -> (3) column sums, -> (1) total
    const double dy[6] = {1, 2, 3, 4, 5, 6};
    double rows[2], cols[3], total[1];
    cpu::reduce_sum_to_shape(make_reduce_to_shape({2, 3}, {2, 1}), Operand::a, dy, rows);
    cpu::reduce_sum_to_shape(make_reduce_to_shape({2, 3}, {3}), Operand::a, dy, cols);
    cpu::reduce_sum_to_shape(make_reduce_to_shape({2, 3}, {}), Operand::a, dy, total);
    CHECK(rows[0] == 6);
    CHECK(rows[1] == 15);
    CHECK(cols[0] == 5);
    CHECK(cols[2] == 9);
    CHECK(total[0] == 21);
  }
  for (const auto& [sa, sb] : kPairs) {
    const BroadcastShape bs = make_broadcast(sa, sb);
    const Reference ref = reference_broadcast(sa, sb);
    const auto dy = values(bs.numel, 31);
    const std::vector<float> dyf(dy.begin(), dy.end());
    for (Operand which : {Operand::a, Operand::b}) {
      CAPTURE(str(sa));
      CAPTURE(str(sb));
      CAPTURE(which == Operand::a ? "a" : "b");
      const int64_t n = which == Operand::a ? bs.a_numel : bs.b_numel;
      const auto& idx = which == Operand::a ? ref.ia : ref.ib;
      std::vector<double> want(n, 0.0), got(n, -777.0);
      for (int64_t i = 0; i < bs.numel; ++i) want[idx[i]] += dy[i];
      std::vector<float> gotf(n, -777.f);
      cpu::reduce_sum_to_shape(bs, which, dy.data(), got.data());
      cpu::reduce_sum_to_shape(bs, which, dyf.data(), gotf.data());
      double worst = 0, worst_f = 0;
      for (int64_t j = 0; j < n; ++j) {
        worst = std::max(worst, std::fabs(got[j] - want[j]));
        worst_f = std::max(worst_f, std::fabs(gotf[j] - want[j]) / (1.0 + std::fabs(want[j])));
      }
      CHECK(worst < 1e-10);
      CHECK(worst_f < 1e-6);  // float data summed in double: only the final rounding and the
                              // float rounding of dy itself remain
    }
  }
  {  // an empty output: every input element gets gradient 0
    const BroadcastShape bs = make_broadcast({0, 3}, {1, 3});
    double db[3] = {5, 5, 5};
    cpu::reduce_sum_to_shape<double>(bs, Operand::b, nullptr, db);
    CHECK(db[0] == 0);
    CHECK(db[2] == 0);
  }
}

TEST_CASE("scalar ops: scale_shift, binary_scalar, pow_scalar, axpy, fill") {
  const double x[4] = {-2, 0.5, 1, 4};
  double y[4];
  cpu::scale_shift(4, 3.0, -1.0, x, y);
  CHECK(y[0] == -7);
  CHECK(y[3] == 11);
  cpu::binary_scalar(BinaryOp::sub, 4, x, 1.0, y);
  CHECK(y[0] == -3);
  cpu::binary_scalar(BinaryOp::sub, 4, x, 1.0, y, true);  // 1 - x
  CHECK(y[0] == 3);
  cpu::binary_scalar(BinaryOp::div, 4, x, 2.0, y);
  CHECK(y[3] == 2);
  cpu::binary_scalar(BinaryOp::div, 4, x, 2.0, y, true);  // 2 / x
  CHECK(y[1] == 4);
  cpu::pow_scalar(4, 2.0, x, y);
  CHECK(y[0] == 4);
  cpu::pow_scalar(4, 0.5, x, y);
  CHECK(y[3] == 2);
  CHECK(std::isnan(y[0]));  // sqrt(-2)
  cpu::pow_scalar(4, 3.0, x, y);
  CHECK(y[0] == doctest::Approx(-8));
  cpu::pow_scalar(4, -1.0, x, y);
  CHECK(y[1] == 2);
  double acc[4] = {1, 1, 1, 1};
  cpu::axpy(4, 2.0, x, acc);  // accumulates: acc = 1 + 2x
  CHECK(acc[0] == -3);
  CHECK(acc[3] == 9);
  cpu::axpy(4, 2.0, x, acc);
  CHECK(acc[3] == 17);
  cpu::fill(4, 7.5, y);
  CHECK(y[2] == 7.5);
  float yf[3];
  cpu::fill(3, -0.0f, yf);
  CHECK(std::signbit(yf[1]));
}

TEST_CASE("pow_scalar backward matches finite differences") {
  for (double p : {1.0, 2.0, 0.5, -1.0, 3.0, 1.7, -2.5}) {
    CAPTURE(p);
    const size_t n = 23;
    auto x = test::random_vector(n, 41, 0.5, 2.0);
    const auto w = test::random_vector(n, 42);
    std::vector<double> dx(n);
    cpu::pow_scalar_backward<double>(n, p, x.data(), w.data(), dx.data());
    auto loss = [&] {
      std::vector<double> y(n);
      cpu::pow_scalar<double>(n, p, x.data(), y.data());
      return test::dot(y, w);
    };
    test::check_gradient("pow dx", x, loss, dx);
  }
}

TEST_CASE("add_n sums left to right for any k, also with y aliasing x_0") {
  const int64_t n = 37;
  for (int k : {1, 3, 8, 11}) {
    CAPTURE(k);
    std::vector<std::vector<float>> xs;
    std::vector<const float*> ptrs;
    for (int j = 0; j < k; ++j) {
      const auto v = test::random_vector(n, 50 + j);
      xs.emplace_back(v.begin(), v.end());
    }
    for (auto& v : xs) ptrs.push_back(v.data());
    std::vector<float> y(n, -777.f);
    cpu::add_n(n, k, ptrs.data(), y.data());
    for (int64_t i = 0; i < n; ++i) {
      float want = xs[0][i];
      for (int j = 1; j < k; ++j) want += xs[j][i];
      CHECK(y[i] == want);  // exact: the same float additions in the same order
    }
    cpu::add_n(n, k, ptrs.data(), xs[0].data());  // in place into x_0
    CHECK(xs[0] == y);
  }
  CHECK_THROWS_WITH_AS(cpu::add_n<float>(3, 0, nullptr, nullptr), doctest::Contains("add_n: needs at least one input"),
                       fer::Error);
}

namespace {
// Runtime dispatch to ew::operand_offsets<KIND>, the index formulas of the CUDA kernels.
void offsets_of(const BroadcastShape& bs, int64_t i, int64_t* ia, int64_t* ib) {
  using K = BroadcastKind;
  switch (bs.kind) {
    case K::same:
      ew::operand_offsets<K::same>(bs, i, ia, ib);
      break;
    case K::scalar_a:
      ew::operand_offsets<K::scalar_a>(bs, i, ia, ib);
      break;
    case K::scalar_b:
      ew::operand_offsets<K::scalar_b>(bs, i, ia, ib);
      break;
    case K::inner_a:
      ew::operand_offsets<K::inner_a>(bs, i, ia, ib);
      break;
    case K::inner_b:
      ew::operand_offsets<K::inner_b>(bs, i, ia, ib);
      break;
    case K::mid_a:
      ew::operand_offsets<K::mid_a>(bs, i, ia, ib);
      break;
    case K::mid_b:
      ew::operand_offsets<K::mid_b>(bs, i, ia, ib);
      break;
    case K::outer_inner_a:
      ew::operand_offsets<K::outer_inner_a>(bs, i, ia, ib);
      break;
    case K::outer_inner_b:
      ew::operand_offsets<K::outer_inner_b>(bs, i, ia, ib);
      break;
    case K::generic:
      ew::operand_offsets<K::generic>(bs, i, ia, ib);
      break;
  }
}
}  // namespace

TEST_CASE("CUDA index formulas (checked on the host): operand offsets and reduce plans") {
  for (const auto& [sa, sb] : kPairs) {
    CAPTURE(str(sa));
    CAPTURE(str(sb));
    const BroadcastShape bs = make_broadcast(sa, sb);
    CAPTURE(broadcast_kind_name(bs.kind));
    const Reference ref = reference_broadcast(sa, sb);
    // Fast-path and generic offsets, element by element.
    int64_t bad = -1;
    for (int64_t i = 0; i < bs.numel && bad < 0; ++i) {
      int64_t ia = -1, ib = -1;
      offsets_of(bs, i, &ia, &ib);
      if (ia != ref.ia[i] || ib != ref.ib[i]) bad = i;
    }
    CHECK_MESSAGE(bad < 0, "first wrong offset at output element " << bad);
    // The reduce plan as the CUDA kernels walk it: dy offset = kept(j) + reduced(r) over all r;
    // together the (j, r) pairs must visit every output element exactly once, at an element that
    // reads operand element j.
    for (Operand which : {Operand::a, Operand::b}) {
      const ReducePlan p = make_reduce_plan(bs, which);
      const auto& idx = which == Operand::a ? ref.ia : ref.ib;
      CHECK(p.kept_numel == (which == Operand::a ? bs.a_numel : bs.b_numel));
      CHECK(p.kept_numel * p.red_numel == bs.numel);
      std::vector<int> visits(bs.numel, 0);
      bool reads_j = true;
      for (int64_t j = 0; j < p.kept_numel; ++j) {
        const int64_t base = ew::broadcast_offset(p.kept_size, p.kept_stride, p.nkept, j);
        for (int64_t r = 0; r < p.red_numel; ++r) {
          const int64_t e = base + ew::broadcast_offset(p.red_size, p.red_stride, p.nred, r);
          ++visits[e];
          reads_j = reads_j && idx[e] == j;
        }
      }
      CHECK(reads_j);
      CHECK(std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; }));
    }
  }
}
