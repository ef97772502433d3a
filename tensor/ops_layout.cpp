// tensor/ops_layout.cpp: concat, slice, permute and row gathering (kernels/layout.h).
//
// Along a dimension d a tensor is [outer, len, inner]; concat copies each input's slab into the
// output at its offset, and its backward copies the slabs of the gradient back out; slice is the
// reverse pair. permute's backward is the inverse permutation of the gradient.
#include <numeric>

#include "kernels/layout.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

int64_t norm_dim(const char* op, const Tensor& x, int64_t d) {
  const int64_t n = x.ndim(), axis = d < 0 ? d + n : d;
  FER_CHECK(axis >= 0 && axis < n, op << ": dim " << d << " out of range for " << describe(x));
  return axis;
}

void outer_inner(const Shape& s, int64_t axis, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < axis; ++i) *outer *= s[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) *inner *= s[i];
}

// dst[outer, dst_dim, inner] at dst_offset <- src[outer, src_dim, inner] from src_offset, len rows.
void slab(int64_t outer, int64_t len, int64_t inner, const Tensor& src, int64_t src_dim, int64_t src_offset,
          Tensor& dst, int64_t dst_dim, int64_t dst_offset) {
  run_kernel(
      "copy_slab", dst,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::copy_slab<T>(outer, len, inner, src.data<T>(), src_dim, src_offset, dst.data<T>(), dst_dim, dst_offset);
      },
      [&](cuda_stream s) {
        cuda::copy_slab(outer, len, inner, src.data<float>(), src_dim, src_offset, dst.data<float>(), dst_dim,
                        dst_offset, s);
      });
}

struct ConcatBackward final : Node {
  int64_t axis = 0, outer = 1, inner = 1, total = 0;
  std::vector<Shape> shapes;
  std::vector<int64_t> offsets;
  const char* name() const override { return "ConcatBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    std::vector<Tensor> grads(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (!next[i]) continue;
      const int64_t len = shapes[i][static_cast<size_t>(axis)];
      grads[i] = Tensor::empty(shapes[i], dy.dtype(), dy.device());
      slab(outer, len, inner, dy, total, offsets[i], grads[i], len, 0);
    }
    return grads;
  }
};

struct SliceBackward final : Node {
  int64_t outer = 1, inner = 1, dim = 0, start = 0, len = 0;
  Shape shape;
  const char* name() const override { return "SliceBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::zeros(shape, dy.dtype(), dy.device());
    slab(outer, len, inner, dy, len, 0, dx, dim, start);
    return {dx};
  }
};

Tensor permute_data(const Tensor& x, const std::vector<int>& perm) {
  const PermutePlan plan = make_permute(x.shape(), perm);
  Shape out(x.shape().size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = x.shape()[static_cast<size_t>(perm[i])];
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  run_kernel(
      "permute", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::permute<T>(plan, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) { cuda::permute(plan, x.data<float>(), y.data<float>(), s); });
  return y;
}

struct PermuteBackward final : Node {
  std::vector<int> inverse;
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {permute_data(dy, inverse)}; }
};

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  FER_CHECK(!xs.empty(), "concat: no tensors given");
  const Tensor& first = xs.front();
  const int64_t axis = norm_dim("concat", first, dim);
  check_cuda_float("concat", first);
  Shape out = first.shape();
  int64_t total = 0;
  std::vector<int64_t> offsets;
  for (const Tensor& x : xs) {
    FER_CHECK(x.ndim() == first.ndim() && x.dtype() == first.dtype() && x.device() == first.device(),
              "concat: " << describe(x) << " does not match " << describe(first));
    for (int64_t i = 0; i < x.ndim(); ++i)
      FER_CHECK(i == axis || x.size(i) == first.size(i), "concat along dim " << axis << ": shapes "
                                                                                << shape_str(first.shape()) << " and "
                                                                                << shape_str(x.shape()) << " differ in dim " << i);
    offsets.push_back(total);
    total += x.size(axis);
  }
  out[static_cast<size_t>(axis)] = total;
  int64_t outer, inner;
  outer_inner(out, axis, &outer, &inner);
  Tensor y = Tensor::empty(out, first.dtype(), first.device());
  for (size_t i = 0; i < xs.size(); ++i) slab(outer, xs[i].size(axis), inner, xs[i], xs[i].size(axis), 0, y, total, offsets[i]);
  bool grad = false;
  for (const Tensor& x : xs) grad = grad || any_requires_grad({&x});
  if (grad) {
    auto node = std::make_shared<ConcatBackward>();
    node->axis = axis;
    node->outer = outer;
    node->inner = inner;
    node->total = total;
    node->offsets = offsets;
    for (const Tensor& x : xs) node->shapes.push_back(x.shape());
    attach_node(y, node, xs);
  }
  if (op_recording()) record_op("concat", xs, y, {{"dim", {double(axis)}}});
  return y;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  const int64_t axis = norm_dim("slice", x, dim);
  check_cuda_float("slice", x);
  const int64_t size = x.size(axis);
  FER_CHECK(0 <= start && start <= end && end <= size,
            "slice: [" << start << ", " << end << ") out of range for dim " << axis << " of " << describe(x));
  Shape out = x.shape();
  out[static_cast<size_t>(axis)] = end - start;
  int64_t outer, inner;
  outer_inner(x.shape(), axis, &outer, &inner);
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  slab(outer, end - start, inner, x, size, start, y, end - start, 0);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SliceBackward>();
    node->outer = outer;
    node->inner = inner;
    node->dim = size;
    node->start = start;
    node->len = end - start;
    node->shape = x.shape();
    attach_node(y, node, {&x});
  }
  if (op_recording())
    record_op("slice", {x}, y, {{"dim", {double(axis)}}, {"start", {double(start)}}, {"end", {double(end)}}});
  return y;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  check_cuda_float("permute", x);
  FER_CHECK(static_cast<int64_t>(dims.size()) == x.ndim(),
            "permute: " << dims.size() << " dims given for " << describe(x));
  std::vector<int> perm;
  for (int64_t d : dims) perm.push_back(static_cast<int>(d < 0 ? d + x.ndim() : d));
  Tensor y = permute_data(x, perm);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<PermuteBackward>();
    node->inverse = inverse_permutation(perm);
    attach_node(y, node, {&x});
  }
  if (op_recording()) record_op("permute", {x}, y, {{"perm", std::vector<double>(perm.begin(), perm.end())}});
  return y;
}

Tensor index_select_rows(const Tensor& x, const Tensor& indices) {
  FER_CHECK(!any_requires_grad({&x}), "index_select_rows: has no backward (it gathers data rows); "
                                      "hint: call it under NoGradGuard or on detached tensors");
  FER_CHECK(x.ndim() >= 1 && indices.ndim() == 1, "index_select_rows: expected x [rows, ...] and 1-D indices, got "
                                                       << describe(x) << " and " << describe(indices));
  FER_CHECK(indices.dtype() == DType::i32 || indices.dtype() == DType::i64,
            "index_select_rows: indices must be i32 or i64, got " << describe(indices));
  check_same_device("index_select_rows", x, indices);
  const int64_t rows = x.size(0), n = indices.size(0), row = rows ? x.numel() / rows : 0;
  Shape out = x.shape();
  out[0] = n;
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  auto typed = [&](auto tag_value, auto tag_index) {
    using T = decltype(tag_value);
    using I = decltype(tag_index);
    on_device(
        "index_select_rows", x.device(),
        [&] { cpu::gather_rows<T, I>(n, row, x.data<T>(), rows, indices.data<I>(), y.data<T>()); },
        [&](cuda_stream s) {
          if constexpr (std::is_same_v<T, double>) FER_FAIL("index_select_rows: f64 is CPU-only");
          else cuda::gather_rows<T, I>(n, row, x.data<T>(), rows, indices.data<I>(), y.data<T>(), s);
        });
  };
  auto with_index = [&](auto tag_value) {
    if (indices.dtype() == DType::i32) typed(tag_value, int32_t{});
    else typed(tag_value, int64_t{});
  };
  switch (x.dtype()) {
    case DType::f32: with_index(float{}); break;
    case DType::f64: with_index(double{}); break;
    case DType::u8: with_index(uint8_t{}); break;
    case DType::i32: with_index(int32_t{}); break;
    case DType::i64: with_index(int64_t{}); break;
    default: FER_FAIL("index_select_rows: unsupported dtype " << dtype_name(x.dtype()));
  }
  return y;
}

}  // namespace fer::ops
