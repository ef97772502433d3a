// Tensor-level softmax, masking and losses: autograd plumbing checked by finite differences
// (the kernels themselves are proven in test_softmax/loss/masking_gradcheck.cpp).
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

TEST_CASE("softmax / log_softmax over every dim of an NCHW tensor") {
  const Tensor x = rand64({2, 3, 4, 5}, 1, -2, 2);
  for (int64_t d : {0, 1, 2, 3, -1}) {
    CAPTURE(d);
    require_pass(gradcheck([d](const std::vector<Tensor>& in) { return ops::softmax(in[0], d); }, {x}));
    require_pass(gradcheck([d](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], d); }, {x}));
  }
}

TEST_CASE("mask_apply with softmax and sigmoid masks") {
  const Tensor x = rand64({2, 3, 4, 5}, 2), z = rand64({2, 3, 4, 5}, 3, -2, 2);
  for (MaskKind k : {MaskKind::softmax, MaskKind::sigmoid}) {
    require_pass(gradcheck([k](const std::vector<Tensor>& in) { return ops::mask_apply(in[0], in[1], k); }, {x, z}));
  }
}

TEST_CASE("cross_entropy, nll, focal, mse through autograd") {
  const Tensor logits = rand64({5, 7}, 4, -3, 3);
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 6, 3, 3, 1}, {5});
  const Tensor w = Tensor::from_vector(std::vector<double>{1.0, 9.4, 1.0, 0.57, 0.85, 1.29, 0.83}, {7});
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], labels, w, 0.1); },
                         {logits}));
  require_pass(gradcheck(
      [&](const std::vector<Tensor>& in) { return ops::nll_loss(ops::log_softmax(in[0], 1), labels, w); }, {logits}));
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::focal_loss(in[0], labels, 2.0); }, {logits}));
  const Tensor target = rand64({5, 7}, 5).detach();
  require_pass(gradcheck([&](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], target); }, {logits}));
  require_pass(gradcheck(
      [&](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], target, ops::Reduction::per_sample); },
      {logits}));
}

TEST_CASE("cross_entropy equals nll of log_softmax, and checks its inputs") {
  const Tensor logits = Tensor::from_vector(std::vector<float>{1, 2, 3, 1, 0, -1}, {2, 3});
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{2, 0}, {2});
  const double ce = ops::cross_entropy(logits, labels).item();
  const double nll = ops::nll_loss(ops::log_softmax(logits, 1), labels).item();
  CHECK(ce == doctest::Approx(nll).epsilon(1e-6));
  CHECK(ce == doctest::Approx(0.40760596));  // (-log softmax([1,2,3])[2] - log softmax([1,0,-1])[0]) / 2
  const Tensor bad = Tensor::from_vector(std::vector<int32_t>{2, 7}, {2});
  CHECK_THROWS_WITH_AS(ops::cross_entropy(logits, bad), doctest::Contains("label"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(logits.reshape({6}), labels), doctest::Contains("expected [N, K]"), Error);
}
