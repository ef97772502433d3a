// Fused residual add + activation (kernels/add_act.h, ops::add_act): the CPU twin's backward against
// central finite differences in double for every activation, the tensor op through autograd
// (gradcheck of both inputs, the same tensor passed twice, gradients that meet other users), the
// forward and both gradients bit-identical to the unfused activation(add(a, b)) in float, and the
// argument checks.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/add_act.h"
#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

constexpr Activation kAll[] = {Activation::relu, Activation::sigmoid, Activation::silu, Activation::gelu};

// b drawn so that |a + b| >= 0.05: relu has a kink at 0 that central differences straddle.
std::vector<double> away_from_kink(const std::vector<double>& a, std::vector<double> b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::fabs(a[i] + b[i]) < 0.05) b[i] += 0.2;
  return b;
}

Tensor from64(const std::vector<double>& v, const Shape& s) {
  return Tensor::from_vector(v, s).requires_grad_();
}

void require_pass(const std::vector<GradcheckResult>& r) {
  INFO(format_gradcheck(r));
  REQUIRE(!r.empty());
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}

template <typename T>
bool bit_equal(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("add_act kernel: backward matches finite differences for every activation (double)") {
  for (Activation act : kAll) {
    CAPTURE(activation_name(act));
    const size_t n = 43;  // odd
    auto a = test::random_vector(n, 11, -2, 2);
    auto b = away_from_kink(a, test::random_vector(n, 12, -2, 2));
    const auto w = test::random_vector(n, 13);
    std::vector<double> y(n), sum(n), g(n);
    cpu::add_act_forward(act, n, a.data(), b.data(), y.data(), sum.data());
    cpu::add_act_backward(act, n, add_act_needs_sum(act) ? sum.data() : nullptr, y.data(), w.data(), g.data());
    for (size_t i = 0; i < n; ++i) CHECK(sum[i] == a[i] + b[i]);
    auto loss = [&] {
      std::vector<double> out(n);
      cpu::add_act_forward<double>(act, n, a.data(), b.data(), out.data(), nullptr);
      return test::dot(out, w);
    };
    // da = db = g: check g against perturbations of either input
    test::check_gradient(std::string(activation_name(act)) + " da", a, loss, g);
    test::check_gradient(std::string(activation_name(act)) + " db", b, loss, g);
  }
}

TEST_CASE("add_act op: gradcheck of both inputs, every activation, odd shape (double)") {
  const Shape shape{2, 3, 5, 7};
  const auto av = test::random_vector(210, 21, -2, 2);
  const auto bv = away_from_kink(av, test::random_vector(210, 22, -2, 2));
  for (Activation act : kAll) {
    CAPTURE(activation_name(act));
    require_pass(gradcheck([act](const std::vector<Tensor>& in) { return ops::add_act(in[0], in[1], act); },
                           {from64(av, shape), from64(bv, shape)}));
    // only one input requiring a gradient (a frozen shortcut)
    Tensor frozen = Tensor::from_vector(bv, shape);
    require_pass(gradcheck([act](const std::vector<Tensor>& in) { return ops::add_act(in[0], in[1], act); },
                           {from64(av, shape), frozen}));
  }
}

TEST_CASE("add_act op: the shared gradient tensor is safe (x + x, a residual that feeds two users)") {
  const Shape shape{3, 11};
  auto xv = test::random_vector(33, 31, -2, 2);
  for (auto& v : xv)
    if (std::fabs(v) < 0.05) v = 0.3;
  // relu(x + x): dx = 2 [x > 0] w
  Tensor x = from64(xv, shape);
  const auto w = test::random_vector(33, 32);
  ops::add_act(x, x, Activation::relu).backward(Tensor::from_vector(w, shape));
  const auto gx = x.grad().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) CHECK(gx[i] == (xv[i] > 0 ? 2 * w[i] : 0.0));
  // a and b are leaves that also receive gradient from another op; their .grad buffers stay distinct
  const auto bv = away_from_kink(xv, test::random_vector(33, 33, -2, 2));
  require_pass(gradcheck(
      [](const std::vector<Tensor>& in) {
        const Tensor y = ops::add_act(in[0], in[1], Activation::silu);
        return ops::add(ops::mul(y, in[0]), ops::mul_scalar(in[1], 3.0));
      },
      {from64(xv, shape), from64(bv, shape)}));
  Tensor a = from64(xv, shape), b = from64(bv, shape);
  ops::sum(ops::add_act(a, b, Activation::relu)).backward();
  REQUIRE(a.grad().defined());
  REQUIRE(b.grad().defined());
  CHECK(a.grad().raw_data() != b.grad().raw_data());
  ops::sum(ops::mul_scalar(a, 5.0)).backward();  // accumulates into a.grad only
  const auto ga = a.grad().to_vector<double>(), gb = b.grad().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double relu_grad = xv[i] + bv[i] > 0 ? 1.0 : 0.0;
    CHECK(ga[i] == relu_grad + 5.0);
    CHECK(gb[i] == relu_grad);
  }
}

TEST_CASE("add_act op: forward and gradients bit-identical to activation(add(a, b)) in float") {
  const Shape shape{4, 8, 9, 9};  // 2592 elements
  for (Activation act : kAll) {
    CAPTURE(activation_name(act));
    Generator gen(41);
    Tensor a = Tensor::empty(shape), b = Tensor::empty(shape), w = Tensor::empty(shape);
    normal_(a, 0.0, 1.0, gen);
    normal_(b, 0.0, 1.0, gen);
    normal_(w, 0.0, 1.0, gen);
    Tensor a1 = a.clone().requires_grad_(), b1 = b.clone().requires_grad_();
    Tensor a2 = a.clone().requires_grad_(), b2 = b.clone().requires_grad_();
    const Tensor fused = ops::add_act(a1, b1, act);
    const Tensor plain = ops::activation(ops::add(a2, b2), act);
    CHECK(bit_equal(fused.to_vector<float>(), plain.to_vector<float>()));
    fused.backward(w);
    plain.backward(w);
    CHECK(bit_equal(a1.grad().to_vector<float>(), a2.grad().to_vector<float>()));
    CHECK(bit_equal(b1.grad().to_vector<float>(), b2.grad().to_vector<float>()));
  }
  // no gradient: no node, nothing kept
  const Tensor y = ops::add_act(Tensor::ones({5}), Tensor::full({5}, -2.0), Activation::relu);
  CHECK(!y.requires_grad());
  CHECK(y.to_vector<float>() == std::vector<float>(5, 0.0f));
}

TEST_CASE("add_act op: argument checks name the op, both shapes and a hint") {
  CHECK_THROWS_WITH_AS(ops::add_act(Tensor::zeros({2, 3}), Tensor::zeros({3}), Activation::relu),
                       doctest::Contains("add_act: a and b must have the same shape"), Error);
  CHECK_THROWS_WITH_AS(ops::add_act(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}, DType::f64), Activation::relu),
                       doctest::Contains("add_act: dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(ops::add_act(Tensor(), Tensor::zeros({2}), Activation::relu),
                       doctest::Contains("add_act: undefined input"), Error);
  std::vector<float> y(4), dy(4, 1.0f), g(4);
  CHECK_THROWS_WITH_AS(cpu::add_act_backward<float>(Activation::gelu, 4, nullptr, y.data(), dy.data(), g.data()),
                       doctest::Contains("needs the pre-activation"), Error);
  CHECK_THROWS_AS(cpu::add_act_forward<float>(Activation::relu, -1, nullptr, nullptr, nullptr, nullptr), Error);
}
