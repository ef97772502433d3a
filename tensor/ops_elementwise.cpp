// tensor/ops_elementwise.cpp: add/sub/mul/div with NumPy broadcasting, scalar ops and sums
// (kernels/elementwise.h, kernels/reduce.h).
//
// Backward of c = a op b under broadcasting: the kernels form the output-shaped terms
//   add: (dc, dc)   sub: (dc, -dc)   mul: (dc*b, dc*a)   div: (dc/b, -dc*a/b^2)
// and each operand's gradient is that term summed over the dims along which the operand was
// broadcast (reduce_sum_to_shape), e.g. a bias (1,C,1,1) receives the sum over N, H and W.
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

Shape result_shape(const BroadcastShape& bs) { return Shape(bs.shape, bs.shape + bs.shape_ndim); }

struct BinaryBackward final : Node {
  BinaryOp op;
  BroadcastShape bs;
  Tensor a, b;       // saved for mul/div
  Shape a_shape, b_shape;
  const char* name() const override {
    switch (op) {
      case BinaryOp::add: return "AddBackward";
      case BinaryOp::sub: return "SubBackward";
      case BinaryOp::mul: return "MulBackward";
      default: return "DivBackward";
    }
  }
  std::vector<Tensor> backward(const Tensor& dc) override {
    const bool need_a = next[0] != nullptr, need_b = next[1] != nullptr;
    const Shape out = dc.shape();
    // Output-shaped terms, then the sums down to each operand's shape.
    Tensor ta = need_a ? Tensor::empty(out, dc.dtype(), dc.device()) : Tensor();
    Tensor tb = need_b ? Tensor::empty(out, dc.dtype(), dc.device()) : Tensor();
    auto p = [](const Tensor& t, auto tag) { return t.defined() ? t.data<decltype(tag)>() : nullptr; };
    run_kernel(
        name(), dc,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::binary_backward<T>(op, bs, p(a, tag), p(b, tag), dc.data<T>(), p(ta, tag), p(tb, tag));
        },
        [&](cuda_stream s) {
          cuda::binary_backward(op, bs, p(a, 0.f), p(b, 0.f), dc.data<float>(), p(ta, 0.f), p(tb, 0.f), s);
        });
    return {need_a ? reduce_to(ta, Operand::a, a_shape) : Tensor(), need_b ? reduce_to(tb, Operand::b, b_shape) : Tensor()};
  }
  Tensor reduce_to(const Tensor& term, Operand which, const Shape& shape) const {
    if (shape_numel(shape) == term.numel()) return term.reshape(shape);
    Tensor g = Tensor::empty(shape, term.dtype(), term.device());
    run_kernel(
        "reduce_sum_to_shape", term,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::reduce_sum_to_shape<T>(bs, which, term.data<T>(), g.data<T>());
        },
        [&](cuda_stream s) { cuda::reduce_sum_to_shape(bs, which, term.data<float>(), g.data<float>(), s); });
    return g;
  }
  void release() override { a = b = Tensor(); }
};

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* opname = binary_op_name(op);
  check_same_device(opname, a, b);
  FER_CHECK(a.dtype() == b.dtype(), opname << ": dtype mismatch, " << describe(a) << " vs " << describe(b));
  check_cuda_float(opname, a);
  const BroadcastShape bs = make_broadcast(a.shape(), b.shape());
  Tensor c = Tensor::empty(result_shape(bs), a.dtype(), a.device());
  run_kernel(
      opname, a,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::binary_forward<T>(op, bs, a.data<T>(), b.data<T>(), c.data<T>());
      },
      [&](cuda_stream s) { cuda::binary_forward(op, bs, a.data<float>(), b.data<float>(), c.data<float>(), s); });
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BinaryBackward>();
    node->op = op;
    node->bs = bs;
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if (op == BinaryOp::mul || op == BinaryOp::div) {
      node->a = a.detach();
      node->b = b.detach();
    }
    attach_node(c, node, {&a, &b});
  }
  return c;
}

// y = alpha * x + beta, the backward is alpha * dy.
struct ScaleShiftBackward final : Node {
  double alpha = 1;
  const char* name() const override { return "ScaleShiftBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    if (alpha == 1.0) return {dy};
    Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
    const int64_t n = dy.numel();
    run_kernel(
        name(), dy,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::scale_shift<T>(n, T(alpha), T(0), dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) { cuda::scale_shift(n, float(alpha), 0.f, dy.data<float>(), dx.data<float>(), s); });
    return {dx};
  }
};

Tensor scale_shift(const Tensor& x, double alpha, double beta) {
  check_cuda_float("scale_shift", x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.numel();
  run_kernel(
      "scale_shift", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::scale_shift<T>(n, T(alpha), T(beta), x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) { cuda::scale_shift(n, float(alpha), float(beta), x.data<float>(), y.data<float>(), s); });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ScaleShiftBackward>();
    node->alpha = alpha;
    attach_node(y, node, {&x});
  }
  return y;
}

// ---- reductions ---------------------------------------------------------------------------------
struct ReduceAllBackward final : Node {
  ReduceOp r;
  Shape shape;
  DType dtype = DType::f32;
  const char* name() const override { return r == ReduceOp::sum ? "SumBackward" : "MeanBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty(shape, dtype, dy.device());
    const int64_t n = dx.numel();
    run_kernel(
        name(), dx,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::reduce_all_backward<T>(r, n, nullptr, dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) { cuda::reduce_all_backward(r, n, nullptr, dy.data<float>(), dx.data<float>(), s); });
    return {dx};
  }
};

Tensor reduce_all(const Tensor& x, ReduceOp r) {
  const char* op = r == ReduceOp::sum ? "sum" : "mean";
  check_cuda_float(op, x);
  const int64_t n = x.numel();
  check_reduce_all(op, n, r == ReduceOp::mean);
  Tensor y = Tensor::empty({}, x.dtype(), x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::reduce_all<T>(r, n, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) {
        Tensor ws = Tensor::empty({static_cast<int64_t>(cuda::reduce_all_workspace_bytes(n))}, DType::u8, x.device());
        cuda::reduce_all(r, n, x.data<float>(), y.data<float>(), ws.raw_data(), s);
      });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ReduceAllBackward>();
    node->r = r;
    node->shape = x.shape();
    node->dtype = x.dtype();
    attach_node(y, node, {&x});
  }
  return y;
}

struct ReduceAxisBackward final : Node {
  ReduceOp r;
  int64_t outer = 1, dim = 1, inner = 1;
  Shape shape;
  DType dtype = DType::f32;
  const char* name() const override { return r == ReduceOp::sum ? "SumDimBackward" : "MeanDimBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty(shape, dtype, dy.device());
    run_kernel(
        name(), dx,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::reduce_axis_backward<T>(r, outer, dim, inner, nullptr, dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) {
          cuda::reduce_axis_backward(r, outer, dim, inner, nullptr, dy.data<float>(), dx.data<float>(), s);
        });
    return {dx};
  }
};

Tensor reduce_axis(const Tensor& x, int64_t d, ReduceOp r) {
  const char* op = r == ReduceOp::sum ? "sum_dim" : "mean_dim";
  check_cuda_float(op, x);
  const int64_t nd = x.ndim(), axis = d < 0 ? d + nd : d;
  FER_CHECK(axis >= 0 && axis < nd, op << ": dim " << d << " out of range for " << describe(x));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.size(i);
  for (int64_t i = axis + 1; i < nd; ++i) inner *= x.size(i);
  const int64_t dim = x.size(axis);
  check_reduce_axis(op, outer, dim, inner, r == ReduceOp::mean);
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + axis);
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::reduce_axis<T>(r, outer, dim, inner, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) { cuda::reduce_axis(r, outer, dim, inner, x.data<float>(), y.data<float>(), s); });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ReduceAxisBackward>();
    node->r = r;
    node->outer = outer;
    node->dim = dim;
    node->inner = inner;
    node->shape = x.shape();
    node->dtype = x.dtype();
    attach_node(y, node, {&x});
  }
  return y;
}

}  // namespace

namespace {
// op(a, b), reported to an op recorder (tensor/op_record.h) under `name`
Tensor recorded_binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor y = binary(op, a, b);
  if (op_recording()) record_op(name, {a, b}, y);
  return y;
}
Tensor recorded_scale_shift(const Tensor& x, double scale, double shift) {
  Tensor y = scale_shift(x, scale, shift);
  if (op_recording()) record_op("scale_shift", {x}, y, {{"scale", {scale}}, {"shift", {shift}}});
  return y;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return recorded_binary("add", BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return recorded_binary("sub", BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return recorded_binary("mul", BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return recorded_binary("div", BinaryOp::div, a, b); }
Tensor add_scalar(const Tensor& x, double s) { return recorded_scale_shift(x, 1.0, s); }
Tensor mul_scalar(const Tensor& x, double s) { return recorded_scale_shift(x, s, 0.0); }
Tensor sum(const Tensor& x) { return reduce_all(x, ReduceOp::sum); }
Tensor mean(const Tensor& x) { return reduce_all(x, ReduceOp::mean); }
Tensor sum_dim(const Tensor& x, int64_t dim) { return reduce_axis(x, dim, ReduceOp::sum); }
Tensor mean_dim(const Tensor& x, int64_t dim) { return reduce_axis(x, dim, ReduceOp::mean); }

}  // namespace fer::ops
