// Autograd: the tape, accumulation, no_grad, frozen inputs, reshape views, and finite-difference
// checks of composite functions through tensor ops.
#include <doctest/doctest.h>

#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {
Tensor random_f64(const Shape& s, uint64_t seed, bool grad = true, const char* name = "") {
  Generator gen(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, -1, 1, gen);
  if (grad) t.requires_grad_();
  t.set_name(name);
  return t;
}

void require_pass(const std::vector<GradcheckResult>& results) {
  INFO(format_gradcheck(results));
  REQUIRE(!results.empty());
  for (const auto& r : results) CHECK_MESSAGE(r.ok, r.input);
}
}  // namespace

TEST_CASE("linear + gelu + reshape: gradients match finite differences") {
  const Tensor x = random_f64({2, 3, 5}, 1, true, "x");
  const Tensor w = random_f64({4, 5}, 2, true, "w");
  const Tensor b = random_f64({4}, 3, true, "b");
  auto f = [](const std::vector<Tensor>& in) {
    return ops::gelu(ops::linear(in[0], in[1], in[2])).reshape({6, 4});
  };
  require_pass(gradcheck(f, {x, w, b}));
}

TEST_CASE("bmm: gradients for every transpose combination") {
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      CAPTURE(ta);
      CAPTURE(tb);
      const Tensor a = random_f64(ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, 5, true, "a");
      const Tensor b = random_f64(tb ? Shape{2, 5, 4} : Shape{2, 4, 5}, 6, true, "b");
      auto f = [&](const std::vector<Tensor>& in) { return ops::bmm(in[0], in[1], ta, tb); };
      require_pass(gradcheck(f, {a, b}));
    }
  }
}

TEST_CASE("a tensor used twice accumulates both gradients") {
  Tensor x = Tensor::from_vector(std::vector<double>{1.0, -2.0, 3.0}, {1, 3});
  x.requires_grad_();
  const Tensor w = Tensor::from_vector(std::vector<double>{1.0, 1.0, 1.0, 2.0, 2.0, 2.0}, {2, 3});
  // y = [x·1, x·2] summed through a second linear with ones: dL/dx = 1 + 2 = 3 per element.
  Tensor y = ops::linear(x, w, Tensor());
  Tensor z = ops::linear(y, Tensor::from_vector(std::vector<double>{1.0, 1.0}, {1, 2}), Tensor());
  z.backward();
  const auto g = x.grad().to_vector<double>();
  CHECK(g == std::vector<double>{3.0, 3.0, 3.0});
  // A second backward accumulates into .grad.
  Tensor z2 = ops::linear(ops::linear(x, w, Tensor()), Tensor::from_vector(std::vector<double>{1.0, 1.0}, {1, 2}),
                          Tensor());
  z2.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6.0, 6.0, 6.0});
}

TEST_CASE("no_grad records nothing; frozen inputs get no gradient") {
  Tensor x = random_f64({2, 3}, 7, true, "x");
  Tensor w = random_f64({4, 3}, 8, false, "w");  // frozen
  {
    NoGradGuard guard;
    Tensor y = ops::linear(x, w, Tensor());
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  Tensor y = ops::relu(ops::linear(x, w, Tensor()));
  CHECK(y.requires_grad());
  y.backward(Tensor::ones(y.shape(), DType::f64));
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("errors name the op and the shapes") {
  const Tensor x = Tensor::zeros({2, 3});
  const Tensor w = Tensor::zeros({4, 5});
  CHECK_THROWS_WITH_AS(ops::linear(x, w, Tensor()), doctest::Contains("linear: x has 3 features"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({4, 2}), doctest::Contains("cannot become [4, 2]"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({1}).backward(), doctest::Contains("does not require a gradient"), Error);
}
