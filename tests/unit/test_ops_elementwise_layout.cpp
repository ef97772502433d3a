// Tensor-level broadcasting arithmetic, reductions, concat/slice/permute through autograd.
#include <doctest/doctest.h>

#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {
Tensor rand64(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, lo, hi, g);
  return t.requires_grad_();
}
void require_pass(const std::vector<GradcheckResult>& r) {
  INFO(format_gradcheck(r));
  REQUIRE(!r.empty());
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}
}  // namespace

TEST_CASE("broadcast add/sub/mul/div: (N,C,H,W) with (N,C,1,1), (N,1,H,W), (C,1,1) and a scalar") {
  const Tensor x = rand64({2, 3, 4, 5}, 1);
  for (const Shape& s : {Shape{2, 3, 1, 1}, Shape{2, 1, 4, 5}, Shape{3, 1, 1}, Shape{}, Shape{2, 3, 4, 5}}) {
    CAPTURE(shape_str(s));
    const Tensor b = rand64(s, 2, 0.5, 1.5);  // away from 0 for div
    require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); }, {x, b}));
    require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::sub(in[1], in[0]); }, {x, b}));
    require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::mul(in[0], in[1]); }, {x, b}));
    require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::div(in[0], in[1]); }, {x, b}));
  }
  CHECK_THROWS_WITH_AS(ops::add(Tensor::zeros({2, 3}), Tensor::zeros({4})), doctest::Contains("(2,3)"), Error);
}

TEST_CASE("scalar ops and reductions") {
  const Tensor x = rand64({3, 4, 5}, 3);
  require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::mul_scalar(ops::add_scalar(in[0], 2), -3); },
                         {x}));
  require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::sum(in[0]); }, {x}));
  require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::mean(in[0]); }, {x}));
  for (int64_t d : {0, 1, 2}) {
    require_pass(gradcheck([d](const std::vector<Tensor>& in) { return ops::sum_dim(in[0], d); }, {x}));
    require_pass(gradcheck([d](const std::vector<Tensor>& in) { return ops::mean_dim(in[0], d); }, {x}));
  }
  const Tensor v = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(ops::sum(v).item() == 21.0);
  CHECK(ops::mean(v).item() == 3.5);
  CHECK(ops::sum_dim(v, 0).to_vector<float>() == std::vector<float>{5, 7, 9});
  CHECK(ops::mean_dim(v, 1).to_vector<float>() == std::vector<float>{2, 5});
}

TEST_CASE("concat, slice and permute") {
  const Tensor a = rand64({2, 3, 4}, 4), b = rand64({2, 5, 4}, 5);
  require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::concat({in[0], in[1]}, 1); }, {a, b}));
  require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::slice(in[0], 2, 1, 3); }, {a}));
  require_pass(gradcheck([](const std::vector<Tensor>& in) { return ops::permute(in[0], {2, 0, 1}); }, {a}));
  const Tensor c = ops::concat({a.detach(), b.detach()}, 1);
  CHECK(c.shape() == Shape{2, 8, 4});
  const auto back = ops::slice(c, 1, 3, 8).to_vector<double>();
  CHECK(back == b.to_vector<double>());
  CHECK(ops::permute(a.detach(), {2, 0, 1}).shape() == Shape{4, 2, 3});
  CHECK_THROWS_WITH_AS(ops::concat({a, Tensor::zeros({2, 3, 5}, DType::f64)}, 1), doctest::Contains("differ in dim 2"),
                       Error);
}

TEST_CASE("index_select_rows gathers uint8 image rows") {
  std::vector<uint8_t> px(4 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i);
  const Tensor images = Tensor::from_vector(px, {4, 3});
  const Tensor idx = Tensor::from_vector(std::vector<int32_t>{3, 0}, {2});
  CHECK(ops::index_select_rows(images, idx).to_vector<uint8_t>() == std::vector<uint8_t>{9, 10, 11, 0, 1, 2});
  CHECK(ops::index_select_rows(images, idx).to_dtype(DType::f32).to_vector<float>()[0] == 9.0f);
}
