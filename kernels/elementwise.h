// kernels/elementwise.h: binary ops with NumPy broadcasting, their backward, and scalar ops.
//
//   binary    c[i] = a[ia(i)] op b[ib(i)],  op in {add, sub, mul, div}, NumPy broadcasting
//   backward  the out-shaped terms  ga = dc * dc/da,  gb = dc * dc/db:
//               add: ga = dc, gb = dc          sub: ga = dc, gb = -dc
//               mul: ga = dc*b, gb = dc*a      div: ga = dc/b, gb = -(dc*(a/b))/b
//             then da = reduce_sum_to_shape(ga) over the dims where a was broadcast (likewise db):
//             an input element that was read by k outputs gets the sum of those k gradients.
//   scalar    scale_shift y = alpha*x + beta;  binary_scalar y = x op s (or s op x);
//             pow_scalar y = x^p, dx = dy * p * x^(p-1);  fill y = v;  add_n y = x_0 + ... + x_{k-1};
//             axpy y += alpha*x (the one accumulating op: gradient accumulation).
//   counter   add_int64 *p += v: one int64 counter updated where it lives (BatchNorm's
//             num_batches_tracked), so a CUDA training step does not read it back to the host.
//
// Shapes: a and b are contiguous row-major tensors of any rank <= 8; the result has the broadcast
// shape (sizes aligned from the last dim; equal, or one of them 1). make_broadcast() validates the
// pair once and describes it in a BroadcastShape (dims of size 1 dropped, adjacent dims merged where
// both operands allow it, stride 0 on broadcast dims), which every kernel here takes.
// Semantics: every output is written (=), except axpy (+=). c may alias a (or b) only when that
// operand has the full output shape; y may alias x in the unary ops.
// Both backends: CPU twin templated over float/double; CUDA float with a trailing stream.
// See kernels/notes/broadcasting.md for the rules and the derivation of the backward.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

enum class BinaryOp { add, sub, mul, div };
const char* binary_op_name(BinaryOp op);

constexpr int kMaxBroadcastDims = 8;

// How the kernels index the operands. The output is viewed as [outer, mid, inner] (row-major);
// "x_b" means b is the small (broadcast) operand and a has the full output shape, "x_a" the reverse.
//   same          both full:                       ia = ib = i
//   scalar_b      b has one element:               ib = 0
//   inner_b       b is [outer,1,1], e.g. (N,C,1,1): ib = i / inner
//   mid_b         b is [outer,1,inner], (N,1,H,W):  ib = (i / (mid*inner)) * inner + i % inner
//   outer_inner_b b is [1,mid,1], e.g. (1,C,1,1):   ib = (i / inner) % mid
//   generic       anything else: per-dim strides, stride 0 on broadcast dims
enum class BroadcastKind {
  same,
  scalar_a,
  scalar_b,
  inner_a,
  inner_b,
  mid_a,
  mid_b,
  outer_inner_a,
  outer_inner_b,
  generic
};
const char* broadcast_kind_name(BroadcastKind k);

// A validated broadcast of shapes a and b. Plain data: passed by value to CUDA kernels.
struct BroadcastShape {
  // The result shape as the tensor layer sees it (rank = max(rank a, rank b)).
  int shape_ndim = 0;
  int64_t shape[kMaxBroadcastDims] = {};
  // The same iteration space collapsed (size-1 dims dropped, mergeable dims merged); these are the
  // dims the generic path walks. Strides are in elements of a / b, 0 where that operand broadcasts.
  int ndim = 0;
  int64_t out[kMaxBroadcastDims] = {};
  int64_t a_stride[kMaxBroadcastDims] = {};
  int64_t b_stride[kMaxBroadcastDims] = {};
  int64_t numel = 0;    // elements of the result
  int64_t a_numel = 0;  // elements of a
  int64_t b_numel = 0;  // elements of b
  // Fast-path classification and its [outer, mid, inner] view of the output.
  BroadcastKind kind = BroadcastKind::same;
  int64_t outer = 1, mid = 1, inner = 1;
};

// Validates and describes the broadcast of a (rank na) with b (rank nb). Throws fer::Error naming
// both shapes when a dim differs and neither is 1, or when a rank exceeds kMaxBroadcastDims.
BroadcastShape make_broadcast(const int64_t* a_shape, int na, const int64_t* b_shape, int nb);
BroadcastShape make_broadcast(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape);
// The broadcast for summing an `out`-shaped tensor down to `in` (operand a is `in`, b is `out`):
// checks that `in` broadcasts to exactly `out` (error names both shapes otherwise).
BroadcastShape make_reduce_to_shape(const std::vector<int64_t>& out_shape, const std::vector<int64_t>& in_shape);

// Which operand of a BroadcastShape a backward reduction targets.
enum class Operand { a, b };

// "(2,3,4)", for messages.
std::string shape_string(const int64_t* shape, int ndim);

namespace ew {
// Per-element formulas shared by the CPU twin and the CUDA kernels.
template <typename T>
FER_HD T binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    default:
      return a / b;
  }
}
// dc * dc/da
template <typename T>
FER_HD T grad_a(BinaryOp op, T /*a*/, T b, T dc) {
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
      return dc;
    case BinaryOp::mul:
      return dc * b;
    default:
      return dc / b;
  }
}
// dc * dc/db; for div d(a/b)/db = -a/b^2, formed as -(dc*(a/b))/b so b*b cannot overflow.
template <typename T>
FER_HD T grad_b(BinaryOp op, T a, T b, T dc) {
  switch (op) {
    case BinaryOp::add:
      return dc;
    case BinaryOp::sub:
      return -dc;
    case BinaryOp::mul:
      return dc * a;
    default:
      return -(dc * (a / b)) / b;
  }
}
// x^p with exact special cases for the common exponents (x*x, sqrt, 1/x).
using std::pow;
using std::sqrt;
template <typename T>
FER_HD T pow_value(T x, T p) {
  if (p == T(1)) return x;
  if (p == T(2)) return x * x;
  if (p == T(0.5)) return sqrt(x);
  if (p == T(-1)) return T(1) / x;
  return pow(x, p);
}
// d(x^p)/dx = p x^(p-1)
template <typename T>
FER_HD T pow_derivative(T x, T p) {
  if (p == T(1)) return T(1);
  if (p == T(2)) return T(2) * x;
  if (p == T(0.5)) return T(0.5) / sqrt(x);
  if (p == T(-1)) return T(-1) / (x * x);
  return p * pow(x, p - T(1));
}
// Offset of flat output index i in an operand with `stride` over the collapsed dims `out`.
FER_HD int64_t broadcast_offset(const int64_t* out, const int64_t* stride, int ndim, int64_t i) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    const int64_t q = i / out[d];
    off += (i - q * out[d]) * stride[d];
    i = q;
  }
  return off;
}
template <BroadcastKind KIND>
constexpr bool small_is_a() {
  return KIND == BroadcastKind::scalar_a || KIND == BroadcastKind::inner_a || KIND == BroadcastKind::mid_a ||
         KIND == BroadcastKind::outer_inner_a;
}
// Offsets of output element i in a and b for the kind KIND (the table above). The CUDA kernels are
// templated on KIND; the CPU twin walks the same patterns as loop nests, and the unit tests check
// this function itself against a coordinate-by-coordinate reference.
template <BroadcastKind KIND>
FER_HD void operand_offsets(const BroadcastShape& bs, int64_t i, int64_t* ia, int64_t* ib) {
  using K = BroadcastKind;
  if constexpr (KIND == K::same) {
    *ia = i, *ib = i;
  } else if constexpr (KIND == K::generic) {
    *ia = broadcast_offset(bs.out, bs.a_stride, bs.ndim, i);
    *ib = broadcast_offset(bs.out, bs.b_stride, bs.ndim, i);
  } else {
    int64_t s = 0;  // scalar: the one element
    if constexpr (KIND == K::inner_a || KIND == K::inner_b) s = i / bs.inner;
    if constexpr (KIND == K::mid_a || KIND == K::mid_b) s = (i / (bs.mid * bs.inner)) * bs.inner + i % bs.inner;
    if constexpr (KIND == K::outer_inner_a || KIND == K::outer_inner_b) s = (i / bs.inner) % bs.mid;
    if constexpr (small_is_a<KIND>())
      *ia = s, *ib = i;
    else
      *ia = i, *ib = s;
  }
}
}  // namespace ew

// The plan of reduce_sum_to_shape: the output dims split into kept dims (the operand's own dims,
// whose row-major order is the operand's memory order) and reduced dims (where it broadcasts).
// dx[j] = sum over r in [0, red_numel) of dy[kept_offset(j) + red_offset(r)], r in row-major order.
struct ReducePlan {
  int nkept = 0, nred = 0;
  int64_t kept_size[kMaxBroadcastDims] = {}, kept_stride[kMaxBroadcastDims] = {};  // strides in dy
  int64_t red_size[kMaxBroadcastDims] = {}, red_stride[kMaxBroadcastDims] = {};
  int64_t kept_numel = 1, red_numel = 1;
};
ReducePlan make_reduce_plan(const BroadcastShape& bs, Operand which);

namespace cpu {

// c = a op b over the broadcast bs (=).
template <typename T>
void binary_forward(BinaryOp op, const BroadcastShape& bs, const T* a, const T* b, T* c);
// The out-shaped gradient terms ga, gb of c = a op b (=); either may be null. a and b are read
// only where the formula needs them (mul, div), so they may be null for add/sub.
template <typename T>
void binary_backward(BinaryOp op, const BroadcastShape& bs, const T* a, const T* b, const T* dc, T* ga, T* gb);
// dx (the shape of operand `which`) = dy (the output shape) summed over the dims where `which`
// broadcasts (=). Fixed order, double accumulation.
template <typename T>
void reduce_sum_to_shape(const BroadcastShape& bs, Operand which, const T* dy, T* dx);

// y = alpha*x + beta (=)
template <typename T>
void scale_shift(int64_t n, T alpha, T beta, const T* x, T* y);
// y = x op s, or y = s op x when scalar_first (=)
template <typename T>
void binary_scalar(BinaryOp op, int64_t n, const T* x, T s, T* y, bool scalar_first = false);
// y = x^p (=)
template <typename T>
void pow_scalar(int64_t n, T p, const T* x, T* y);
// dx = dy * p * x^(p-1) (=)
template <typename T>
void pow_scalar_backward(int64_t n, T p, const T* x, const T* dy, T* dx);
// y += alpha*x (accumulates)
template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y);
// y = value (=)
template <typename T>
void fill(int64_t n, T value, T* y);
// y = ((x_0 + x_1) + x_2) + ... + x_{k-1}, summed left to right (=); k >= 1. y may alias x_j for
// j < 8 (CUDA adds 8 inputs per pass, so a later input must not be y).
template <typename T>
void add_n(int64_t n, int k, const T* const* xs, T* y);

}  // namespace cpu

namespace cuda {

void binary_forward(BinaryOp op, const BroadcastShape& bs, const float* a, const float* b, float* c,
                    cuda_stream stream);
void binary_backward(BinaryOp op, const BroadcastShape& bs, const float* a, const float* b, const float* dc, float* ga,
                     float* gb, cuda_stream stream);
// Deterministic: one thread (few reduced elements) or one block with a fixed tree (many) per dx element.
void reduce_sum_to_shape(const BroadcastShape& bs, Operand which, const float* dy, float* dx, cuda_stream stream);

void scale_shift(int64_t n, float alpha, float beta, const float* x, float* y, cuda_stream stream);
void binary_scalar(BinaryOp op, int64_t n, const float* x, float s, float* y, bool scalar_first, cuda_stream stream);
void pow_scalar(int64_t n, float p, const float* x, float* y, cuda_stream stream);
void pow_scalar_backward(int64_t n, float p, const float* x, const float* dy, float* dx, cuda_stream stream);
void axpy(int64_t n, float alpha, const float* x, float* y, cuda_stream stream);
void fill(int64_t n, float value, float* y, cuda_stream stream);
void add_int64(int64_t* p, int64_t v, cuda_stream stream);  // *p += v, one thread, no host sync
// xs is a host array of k device pointers. Bit-identical to the CPU twin (same order of float adds).
void add_n(int64_t n, int k, const float* const* xs, float* y, cuda_stream stream);

}  // namespace cuda

}  // namespace fer
