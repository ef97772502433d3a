// Tensor-level conv2d and conv_transpose2d through autograd: shapes, gradients of x, w and b
// (fer::gradcheck, double), gradients only where asked, MAC counting, and argument errors.
#include <doctest/doctest.h>

#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/op_stats.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {
Tensor rand64(const Shape& s, uint64_t seed, bool grad = true) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, -1, 1, g);
  if (grad) t.requires_grad_();
  return t;
}
void require_pass(const std::vector<GradcheckResult>& r, size_t inputs) {
  INFO(format_gradcheck(r));
  REQUIRE(r.size() == inputs);
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}
}  // namespace

TEST_CASE("ops::conv2d: shapes and gradients of x, w and b") {
  const Tensor x = rand64({2, 4, 7, 6}, 1);
  const Tensor w = rand64({6, 2, 3, 3}, 2);  // groups 2
  const Tensor b = rand64({6}, 3);
  const auto s2p1g2 = ops::Conv2dOptions{2, 2, 1, 1, 2};
  CHECK(ops::conv2d(x, w, b, s2p1g2).shape() == Shape{2, 6, 4, 3});
  require_pass(
      gradcheck([&](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], s2p1g2); }, {x, w, b}), 3);
  // No bias, non-square stride/padding.
  const Tensor w1 = rand64({3, 4, 2, 3}, 4);
  const auto o = ops::Conv2dOptions{1, 2, 0, 1, 1};
  CHECK(ops::conv2d(x, w1, Tensor(), o).shape() == Shape{2, 3, 6, 3});
  require_pass(
      gradcheck([&](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], Tensor(), o); }, {x, w1}), 2);
}

TEST_CASE("ops::conv_transpose2d: shapes and gradients of x, w and b") {
  const Tensor x = rand64({2, 3, 4, 3}, 5);
  const Tensor w = rand64({3, 2, 3, 3}, 6);  // [Cin, Cout, kh, kw]
  const Tensor b = rand64({2}, 7);
  CHECK(ops::conv_transpose2d(x, w, b, 2, 1).shape() == Shape{2, 2, 7, 5});
  require_pass(
      gradcheck([&](const std::vector<Tensor>& in) { return ops::conv_transpose2d(in[0], in[1], in[2], 2, 1); },
                {x, w, b}),
      3);
  const Tensor w2 = rand64({3, 4, 2, 2}, 8);
  CHECK(ops::conv_transpose2d(x, w2, Tensor(), 2, 0).shape() == Shape{2, 4, 8, 6});
}

TEST_CASE("ops::conv2d computes only the gradients that are needed") {
  const Tensor x = rand64({1, 2, 5, 5}, 9, false);   // an image: no gradient
  const Tensor w = rand64({3, 2, 3, 3}, 10, false);  // frozen
  Tensor b = rand64({3}, 11);                        // trainable bias only
  Tensor y = ops::conv2d(x, w, b, ops::Conv2dOptions::make(1, 1));
  ops::sum(y).backward();
  REQUIRE(b.grad().defined());
  for (double g : b.grad().to_vector<double>()) CHECK(g == doctest::Approx(25.0));  // 5x5 outputs per channel
  CHECK(!x.grad().defined());
  CHECK(!w.grad().defined());
  // Nothing requires a gradient: no node.
  CHECK(!ops::conv2d(x, w, Tensor(), ops::Conv2dOptions::make(1, 0)).requires_grad());
}

TEST_CASE("ops::conv2d and conv_transpose2d count their MACs") {
  const Tensor x = Tensor::ones({2, 4, 8, 8});
  MacCounter counter;
  ops::conv2d(x, Tensor::ones({6, 2, 3, 3}), Tensor(), ops::Conv2dOptions::make(1, 1, 2));
  CHECK(counter.macs() == 2 * 6 * 8 * 8 * 2 * 3 * 3);
  MacCounter inner;
  ops::conv_transpose2d(x, Tensor::ones({4, 5, 2, 2}), Tensor(), 2, 0);
  CHECK(inner.macs() == 2 * 4 * 8 * 8 * 5 * 2 * 2);
  CHECK(counter.macs() == 2 * 6 * 8 * 8 * 2 * 3 * 3 + 2 * 4 * 8 * 8 * 5 * 2 * 2);
}

TEST_CASE("ops::conv2d / conv_transpose2d shape errors explain themselves") {
  const Tensor x = Tensor::ones({2, 3, 8, 8});
  const auto o = ops::Conv2dOptions::make(1, 1);
  CHECK_THROWS_WITH_AS(ops::conv2d(Tensor::ones({3, 8, 8}), Tensor::ones({4, 3, 3, 3}), Tensor(), o),
                       doctest::Contains("conv2d: expected x [N, C, H, W]"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::ones({4, 2, 3, 3}), Tensor(), o),
                       doctest::Contains("conv2d: x has 3 channels but w [4, 2, 3, 3]"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::ones({4, 3, 3, 3}), Tensor::ones({5}), o),
                       doctest::Contains("conv2d: bias must be [4]"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::ones({4, 3, 9, 9}), Tensor(), ops::Conv2dOptions::make(1, 0)),
                       doctest::Contains("larger than the padded input"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::ones({4, 1, 3, 3}), Tensor(), ops::Conv2dOptions::make(1, 1, 3)),
                       doctest::Contains("groups = 3 must divide"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::ones({4, 3, 3, 3}, DType::f64), Tensor(), o),
                       doctest::Contains("dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(ops::conv_transpose2d(x, Tensor::ones({4, 2, 2, 2}), Tensor(), 2, 0),
                       doctest::Contains("conv_transpose2d: x has 3 channels but w [4, 2, 2, 2]"), Error);
  CHECK_THROWS_WITH_AS(ops::conv_transpose2d(x, Tensor::ones({3, 2, 2, 2}), Tensor::ones({3}), 2, 0),
                       doctest::Contains("conv_transpose2d: bias must be [2]"), Error);
}
