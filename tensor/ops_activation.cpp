// tensor/ops_activation.cpp: pointwise activations (kernels/activation.h).
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

void activation_forward_into(Activation kind, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  on_device(
      "activation", x.device(),
      [&] {
        with_floating("activation", x.dtype(), [&](auto tag) {
          using T = decltype(tag);
          cpu::activation_forward<T>(kind, n, x.data<T>(), y.data<T>());
        });
      },
      [&](cuda_stream s) { cuda::activation_forward(kind, n, x.data<float>(), y.data<float>(), s); });
}

struct ActivationBackward final : Node {
  Activation kind;
  Tensor x, y;  // saved: input and output (each formula uses one of them)
  const char* name() const override { return "ActivationBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    const int64_t n = x.numel();
    on_device(
        "activation backward", x.device(),
        [&] {
          with_floating("activation backward", x.dtype(), [&](auto tag) {
            using T = decltype(tag);
            cpu::activation_backward<T>(kind, n, x.data<T>(), y.data<T>(), dy.data<T>(), dx.data<T>());
          });
        },
        [&](cuda_stream s) {
          cuda::activation_backward(kind, n, x.data<float>(), y.data<float>(), dy.data<float>(), dx.data<float>(), s);
        });
    return {dx};
  }
  void release() override { x = y = Tensor(); }
};

}  // namespace

Tensor activation(const Tensor& x, Activation kind) {
  check_cuda_float(activation_name(kind), x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  activation_forward_into(kind, x, y);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ActivationBackward>();
    node->kind = kind;
    node->x = x;
    node->y = y.detach();
    attach_node(y, node, {&x});
  }
  if (op_recording()) record_op("activation", {x}, y, {{"kind", {double(static_cast<int>(kind))}}});
  return y;
}

}  // namespace fer::ops
