// Tensor-level pooling, dropout, drop-path and up-sampling through autograd.
#include <doctest/doctest.h>

#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {
Tensor rand64(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, -1, 1, g);
  return t.requires_grad_();
}
void require_pass(const std::vector<GradcheckResult>& r) {
  INFO(format_gradcheck(r));
  REQUIRE(!r.empty());
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}
}  // namespace

TEST_CASE("pooling ops: shapes and gradients") {
  const Tensor x = rand64({2, 3, 7, 9}, 1);
  const auto k3s2p1 = ops::PoolOptions::make(3, 2, 1);
  CHECK(ops::max_pool2d(x, k3s2p1).shape() == Shape{2, 3, 4, 5});
  CHECK(ops::max_pool2d(x, ops::PoolOptions::make(2, 2)).shape() == Shape{2, 3, 3, 4});
  CHECK(ops::max_pool2d(x, ops::PoolOptions::make(2, 2, 0, true)).shape() == Shape{2, 3, 4, 5});
  CHECK(ops::global_avg_pool(x).shape() == Shape{2, 3});
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::max_pool2d(in[0], k3s2p1); }, {x}));
  require_pass(gradcheck(
      [&](const std::vector<Tensor>& in) { return ops::avg_pool2d(in[0], ops::PoolOptions::make(2, 1)); }, {x}));
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::global_avg_pool(in[0]); }, {x}));
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::upsample_bilinear2d(in[0], 14, 18); }, {x}));
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::upsample_nearest2d(in[0], 14, 18); }, {x}));
}

TEST_CASE("dropout: inverted scaling, deterministic per generator state, gradient through the mask") {
  const Tensor x = rand64({4, 50}, 2);
  require_pass(gradcheck(
      [&](const std::vector<Tensor>& in) {
        Generator g(11);  // same mask on every evaluation
        return ops::dropout(in[0], 0.3, true, g);
      },
      {x}));
  require_pass(gradcheck(
      [&](const std::vector<Tensor>& in) {
        Generator g(12);
        return ops::drop_path(in[0], 0.5, true, g);
      },
      {x}));
  Generator g1(3), g2(3);
  const Tensor ones = Tensor::ones({1000});
  const auto a = ops::dropout(ones, 0.25, true, g1).to_vector<float>();
  const auto b = ops::dropout(ones, 0.25, true, g2).to_vector<float>();
  CHECK(a == b);
  const auto c = ops::dropout(ones, 0.25, true, g1).to_vector<float>();  // the stream moved on
  CHECK(a != c);
  int kept = 0;
  for (float v : a) {
    CHECK((v == 0.0f || v == doctest::Approx(1.0 / 0.75)));
    kept += v != 0.0f;
  }
  CHECK(kept > 700);
  CHECK(kept < 800);
  // Evaluation mode is the identity and shares the input.
  CHECK(ops::dropout(ones, 0.25, false, g1).same_data(ones));
}
