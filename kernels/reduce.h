// kernels/reduce.h: reductions over all elements and over one axis; max with argmax.
//
//   reduce_all   out = sum_i x_i | (1/n) sum_i x_i | sum_i x_i^2          (ReduceOp::sum|mean|sum_squares)
//                backward: dx_i = dy | dy/n | 2 x_i dy
//   reduce_axis  x viewed as [outer, dim, inner]: y[o,i] = the same reduction over d of x[o,d,i]
//                backward: dx[o,d,i] = dy[o,i] | dy[o,i]/dim | 2 x[o,d,i] dy[o,i]
//   max_axis     y[o,i] = max_d x[o,d,i], idx[o,i] = the first d attaining it (a NaN counts as the
//                largest value, so a NaN row gives NaN and the index of its first NaN)
//                backward: dx[o,d,i] = dy[o,i] if d == idx[o,i] else 0
//   argmax_rows  idx[r] = argmax_k x[r,k] for x [rows, k] (max_axis with inner = 1)
//
// Accumulation: sums and sums of squares accumulate in double on both backends, also for float
// input (a float accumulator over 10^6 elements loses ~3 decimal digits; double loses none that
// matter), then round once to T. The CPU twin sums in a fixed order that does not depend on the
// thread count (fixed chunks whose partial sums are added in chunk order), the CUDA version in a
// fixed two-pass tree: each backend is deterministic run to run. Axis reductions visit d in order
// 0..dim-1 on both backends, so for them CPU and CUDA give the very same bits.
// Semantics: every output is written (=). Index outputs are int32_t (the tensor layer's i32 for
// argmax) or int64_t (the default). n, outer, dim, inner >= 0;
// mean needs n > 0 (dim > 0); max needs dim > 0.
// Workspace: cuda::reduce_all needs reduce_all_workspace_bytes(n) bytes of device memory (the
// per-block partial sums), so it never allocates and can be captured in a CUDA graph.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

enum class ReduceOp { sum, mean, sum_squares };
const char* reduce_op_name(ReduceOp r);

// Argument checks shared by both backends (throw fer::Error naming the op and the sizes).
// nonempty: the op needs at least one element (mean, max).
void check_reduce_all(const char* op, int64_t n, bool nonempty);
void check_reduce_axis(const char* op, int64_t outer, int64_t dim, int64_t inner, bool nonempty);
// An index type that cannot hold dim - 1 is an error (int32 indices need dim <= 2^31).
void check_index_range(const char* op, int64_t dim, int64_t index_max);

namespace red {
// The term summed for element x, and the finishing step, shared by both backends.
template <typename T>
FER_HD double term(ReduceOp r, T x) {
  const double v = static_cast<double>(x);
  return r == ReduceOp::sum_squares ? v * v : v;
}
FER_HD double finish(ReduceOp r, double sum, int64_t count) {
  return r == ReduceOp::mean ? sum / static_cast<double>(count) : sum;
}
// d(reduction)/dx times dy
template <typename T>
FER_HD T grad(ReduceOp r, T x, T dy, int64_t count) {
  if (r == ReduceOp::mean) return dy / static_cast<T>(count);
  if (r == ReduceOp::sum_squares) return T(2) * x * dy;
  return dy;
}
// "v beats best" for max: larger, or the first NaN (NaN propagates like torch.max).
template <typename T>
FER_HD bool max_beats(T v, T best) {
  return v > best || (v != v && best == best);
}
}  // namespace red

namespace cpu {

// out[0] = reduction of x[0..n) (=)
template <typename T>
void reduce_all(ReduceOp r, int64_t n, const T* x, T* out);
// dx[i] = grad(r, x[i], dy[0]) (=); x is read only for sum_squares (may be null otherwise)
template <typename T>
void reduce_all_backward(ReduceOp r, int64_t n, const T* x, const T* dy, T* dx);
// y [outer, inner] = reduction over dim of x [outer, dim, inner] (=)
template <typename T>
void reduce_axis(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const T* x, T* y);
// dx [outer, dim, inner] from dy [outer, inner] (=); x read only for sum_squares
template <typename T>
void reduce_axis_backward(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const T* x, const T* dy, T* dx);
// y, idx [outer, inner] (=); either may be null (name I explicitly when idx is nullptr)
template <typename T, typename I = int64_t>
void max_axis(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y, I* idx);
// dx [outer, dim, inner] = dy scattered to the argmax positions, zero elsewhere (=)
template <typename T, typename I>
void max_axis_backward(int64_t outer, int64_t dim, int64_t inner, const I* idx, const T* dy, T* dx);
// idx [rows] = argmax over each row of x [rows, k] (=)
template <typename T, typename I>
void argmax_rows(int64_t rows, int64_t k, const T* x, I* idx);

}  // namespace cpu

namespace cuda {

// Number of first-pass blocks (= partial sums) reduce_all uses for n elements; depends on n only.
int64_t reduce_all_blocks(int64_t n);
size_t reduce_all_workspace_bytes(int64_t n);

void reduce_all(ReduceOp r, int64_t n, const float* x, float* out, void* workspace, cuda_stream stream);
// dy is a device pointer to one float (no host sync)
void reduce_all_backward(ReduceOp r, int64_t n, const float* x, const float* dy, float* dx, cuda_stream stream);
void reduce_axis(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream);
void reduce_axis_backward(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const float* x, const float* dy,
                          float* dx, cuda_stream stream);
template <typename I = int64_t>
void max_axis(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, I* idx, cuda_stream stream);
template <typename I>
void max_axis_backward(int64_t outer, int64_t dim, int64_t inner, const I* idx, const float* dy, float* dx,
                       cuda_stream stream);
template <typename I>
void argmax_rows(int64_t rows, int64_t k, const float* x, I* idx, cuda_stream stream);

}  // namespace cuda

}  // namespace fer
