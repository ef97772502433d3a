// tensor/ops_add_act.cpp: fused residual add + activation (kernels/add_act.h).
//
// y = f(a + b) in one pass; the backward forms g = dy * f'(a + b) once and hands the same tensor to
// both inputs. That is safe: run_backward sums a second contribution into a clone (never in place),
// and AccumulateGrad clones the first gradient a leaf receives. The node keeps y only for relu and
// sigmoid (f' is a function of y), and the pre-activation s = a + b as well for silu and gelu.
#include "kernels/add_act.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

struct AddActBackward final : Node {
  Activation kind = Activation::relu;
  Tensor y, sum;  // saved: the output, and a + b when add_act_needs_sum(kind)
  const char* name() const override { return "AddActBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor g = Tensor::empty(y.shape(), y.dtype(), y.device());
    const int64_t n = y.numel();
    auto p = [](const Tensor& t, auto tag) { return t.defined() ? t.data<decltype(tag)>() : nullptr; };
    run_kernel(
        "add_act backward", y,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::add_act_backward<T>(kind, n, p(sum, tag), y.data<T>(), dy.data<T>(), g.data<T>());
        },
        [&](cuda_stream s) {
          cuda::add_act_backward(kind, n, p(sum, 0.f), y.data<float>(), dy.data<float>(), g.data<float>(), s);
        });
    // d(a+b)/da = d(a+b)/db = 1: the same tensor for both edges (see the file comment).
    return {next[0] ? g : Tensor(), next[1] ? g : Tensor()};
  }
  void release() override { y = sum = Tensor(); }
};

}  // namespace

Tensor add_act(const Tensor& a, const Tensor& b, Activation act) {
  FER_CHECK(a.defined() && b.defined(), "add_act: undefined input (a "
                                            << (a.defined() ? "defined" : "undefined") << ", b "
                                            << (b.defined() ? "defined" : "undefined") << ")");
  check_same_device("add_act", a, b);
  FER_CHECK(a.dtype() == b.dtype(), "add_act: dtype mismatch, a " << describe(a) << ", b " << describe(b));
  FER_CHECK(a.shape() == b.shape(), "add_act: a and b must have the same shape, got a "
                                        << describe(a) << ", b " << describe(b)
                                        << "; hint: add_act does not broadcast, use activation(add(a, b)) for that");
  check_cuda_float("add_act", a);
  const bool grad = any_requires_grad({&a, &b});
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  Tensor sum = grad && add_act_needs_sum(act) ? Tensor::empty(a.shape(), a.dtype(), a.device()) : Tensor();
  const int64_t n = a.numel();
  auto p = [](const Tensor& t, auto tag) { return t.defined() ? t.data<decltype(tag)>() : nullptr; };
  run_kernel(
      "add_act", a,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::add_act_forward<T>(act, n, a.data<T>(), b.data<T>(), y.data<T>(), p(sum, tag));
      },
      [&](cuda_stream s) {
        cuda::add_act_forward(act, n, a.data<float>(), b.data<float>(), y.data<float>(), p(sum, 0.f), s);
      });
  if (grad) {
    auto node = std::make_shared<AddActBackward>();
    node->kind = act;
    node->y = y.detach();
    node->sum = sum;
    attach_node(y, node, {&a, &b});
  }
  if (op_recording()) record_op("add_act", {a, b}, y, {{"kind", {double(static_cast<int>(act))}}});
  return y;
}

}  // namespace fer::ops
