// tensor/ops_softmax.cpp: softmax / log-softmax over one dimension, and the masking-block
// refinement y = x * (1 + M) (kernels/softmax.h, kernels/masking.h).
//
// Any dimension d of a contiguous tensor is seen as (outer, dim, inner): outer = prod(shape[:d]),
// inner = prod(shape[d+1:]); the kernels reduce along `dim` with stride `inner`.
#include "kernels/masking.h"
#include "kernels/softmax.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

struct AxisView {
  int64_t outer = 1, dim = 1, inner = 1;
};

AxisView axis_view(const Tensor& x, int64_t d, const char* op) {
  const int64_t n = x.ndim();
  const int64_t axis = d < 0 ? d + n : d;
  FER_CHECK(axis >= 0 && axis < n, op << ": dim " << d << " out of range for " << describe(x));
  AxisView v;
  for (int64_t i = 0; i < axis; ++i) v.outer *= x.size(i);
  v.dim = x.size(axis);
  for (int64_t i = axis + 1; i < n; ++i) v.inner *= x.size(i);
  return v;
}

struct SoftmaxBackward final : Node {
  bool log = false;
  AxisView v;
  Tensor y;  // the forward output (both backward formulas use it)
  const char* name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
    run_kernel(
        name(), y,
        [&](auto tag) {
          using T = decltype(tag);
          if (log) cpu::log_softmax_backward<T>(v.outer, v.dim, v.inner, y.data<T>(), dy.data<T>(), dx.data<T>());
          else cpu::softmax_backward<T>(v.outer, v.dim, v.inner, y.data<T>(), dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) {
          if (log) cuda::log_softmax_backward(v.outer, v.dim, v.inner, y.data<float>(), dy.data<float>(), dx.data<float>(), s);
          else cuda::softmax_backward(v.outer, v.dim, v.inner, y.data<float>(), dy.data<float>(), dx.data<float>(), s);
        });
    return {dx};
  }
  void release() override { y = Tensor(); }
};

Tensor softmax_impl(const Tensor& x, int64_t d, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_cuda_float(op, x);
  const AxisView v = axis_view(x, d, op);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        if (log) cpu::log_softmax_forward<T>(v.outer, v.dim, v.inner, x.data<T>(), y.data<T>());
        else cpu::softmax_forward<T>(v.outer, v.dim, v.inner, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) {
        if (log) cuda::log_softmax_forward(v.outer, v.dim, v.inner, x.data<float>(), y.data<float>(), s);
        else cuda::softmax_forward(v.outer, v.dim, v.inner, x.data<float>(), y.data<float>(), s);
      });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SoftmaxBackward>();
    node->log = log;
    node->v = v;
    node->y = y.detach();
    attach_node(y, node, {&x});
  }
  if (op_recording()) record_op(op, {x}, y, {{"dim", {double(d < 0 ? d + x.ndim() : d)}}});
  return y;
}

struct MaskBackward final : Node {
  MaskKind kind;
  int64_t n = 0, c = 0, hw = 0;
  Tensor x, z;  // the backward recomputes M from z
  const char* name() const override { return "MaskApplyBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = next[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
    Tensor dz = next[1] ? Tensor::empty(z.shape(), z.dtype(), z.device()) : Tensor();
    auto ptr = [](Tensor& t, auto tag) { return t.defined() ? t.data<decltype(tag)>() : nullptr; };
    run_kernel(
        name(), x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::masking_backward<T>(kind, n, c, hw, x.data<T>(), z.data<T>(), dy.data<T>(), ptr(dx, tag), ptr(dz, tag));
        },
        [&](cuda_stream s) {
          cuda::masking_backward(kind, n, c, hw, x.data<float>(), z.data<float>(), dy.data<float>(), ptr(dx, 0.f),
                                 ptr(dz, 0.f), s);
        });
    return {dx, dz};
  }
  void release() override { x = z = Tensor(); }
};

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

Tensor mask_apply(const Tensor& x, const Tensor& z, MaskKind kind) {
  FER_CHECK(x.ndim() == 4 && z.shape() == x.shape(),
            "mask_apply: features and mask logits must both be [N, C, H, W] of the same shape, got "
                << describe(x) << " and " << describe(z));
  check_same_device("mask_apply", x, z);
  check_cuda_float("mask_apply", x);
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  run_kernel(
      "mask_apply", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::masking_forward<T>(kind, n, c, hw, x.data<T>(), z.data<T>(), y.data<T>(), nullptr);
      },
      [&](cuda_stream s) {
        cuda::masking_forward(kind, n, c, hw, x.data<float>(), z.data<float>(), y.data<float>(), nullptr, s);
      });
  if (any_requires_grad({&x, &z})) {
    auto node = std::make_shared<MaskBackward>();
    node->kind = kind;
    node->n = n;
    node->c = c;
    node->hw = hw;
    node->x = x.detach();
    node->z = z.detach();
    attach_node(y, node, {&x, &z});
  }
  if (op_recording()) record_op("mask_apply", {x, z}, y, {{"kind", {double(static_cast<int>(kind))}}});
  return y;
}

}  // namespace fer::ops
