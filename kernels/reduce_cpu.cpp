// kernels/reduce_cpu.cpp: CPU twin of the reductions (see reduce.h).
//
// reduce_all: the input is cut into fixed chunks of kChunk elements (the cut depends on n only);
// chunks are summed in parallel, each in order, and the chunk sums are added in chunk order, so the
// result is the same for any number of threads. Axis reductions: tasks are (o, block of inner)
// pairs; each walks d = 0..dim-1 in order with a small accumulator row, reading x row by row
// (contiguous inner loops).
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/reduce.h"

namespace fer {

namespace {
constexpr int64_t kParallelMin = 32768;
constexpr int64_t kChunk = 65536;     // reduce_all: elements per partial sum
constexpr int64_t kInnerBlock = 256;  // axis reductions: inner positions per task
}  // namespace

const char* reduce_op_name(ReduceOp r) {
  switch (r) {
    case ReduceOp::sum:
      return "sum";
    case ReduceOp::mean:
      return "mean";
    case ReduceOp::sum_squares:
      return "sum_squares";
  }
  return "?";
}

void check_reduce_all(const char* op, int64_t n, bool nonempty) {
  FER_CHECK(n >= 0, op << ": negative element count n=" << n);
  FER_CHECK(!nonempty || n > 0,
            op << ": needs at least one element (n=0); hint: the mean or max of nothing is undefined");
}

void check_reduce_axis(const char* op, int64_t outer, int64_t dim, int64_t inner, bool nonempty) {
  FER_CHECK(outer >= 0 && dim >= 0 && inner >= 0,
            op << ": negative size in [outer, dim, inner] = [" << outer << ", " << dim << ", " << inner << "]");
  FER_CHECK(!nonempty || dim > 0, op << ": the reduced axis is empty ([outer, dim, inner] = [" << outer << ", " << dim
                                     << ", " << inner << "]); hint: the mean or max of nothing is undefined");
}

void check_index_range(const char* op, int64_t dim, int64_t index_max) {
  FER_CHECK(dim - 1 <= index_max, op << ": an axis of " << dim << " elements needs indices up to " << dim - 1
                                     << ", more than the index type holds (" << index_max
                                     << "); hint: use int64 indices");
}

namespace cpu {

template <typename T>
void reduce_all(ReduceOp r, int64_t n, const T* x, T* out) {
  check_reduce_all("reduce_all", n, r == ReduceOp::mean);
  // Fixed chunks of kChunk elements (the last may be short); the cut depends on n only.
  const int64_t chunks = ceil_div(n, kChunk);
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t i1 = std::min(n, (c + 1) * kChunk);
    double acc = 0;  // x_i or x_i^2, summed in order within the chunk
    for (int64_t i = c * kChunk; i < i1; ++i) acc += red::term(r, x[i]);
    partial[c] = acc;
  }
  // The chunk sums in chunk order: the same additions whatever the number of threads.
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += partial[c];
  out[0] = static_cast<T>(red::finish(r, total, n));
}

template <typename T>
void reduce_all_backward(ReduceOp r, int64_t n, const T* x, const T* dy, T* dx) {
  check_reduce_all("reduce_all_backward", n, r == ReduceOp::mean);
  const bool need_x = r == ReduceOp::sum_squares;  // only d(x^2)/dx depends on x
  const T g = dy[0];                               // the one upstream gradient
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] = red::grad(r, need_x ? x[i] : T(0), g, n);
}

template <typename T>
void reduce_axis(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const T* x, T* y) {
  check_reduce_axis("reduce_axis", outer, dim, inner, r == ReduceOp::mean);
  // Task t = (o, block of up to kInnerBlock inner positions [i0, i1)).
  const int64_t blocks = ceil_div(inner, kInnerBlock);
#pragma omp parallel for schedule(static) if (outer * dim * inner > kParallelMin)
  for (int64_t t = 0; t < outer * blocks; ++t) {
    const int64_t o = t / blocks, i0 = (t % blocks) * kInnerBlock, i1 = std::min(inner, i0 + kInnerBlock);
    // acc[i - i0] accumulates y[o, i] over d = 0, 1, ... (the CUDA thread's order)
    double acc[kInnerBlock];
    std::fill(acc, acc + (i1 - i0), 0.0);
    for (int64_t d = 0; d < dim; ++d) {
      const T* row = x + (o * dim + d) * inner;  // x[o, d, :], contiguous
      for (int64_t i = i0; i < i1; ++i) acc[i - i0] += red::term(r, row[i]);
    }
    for (int64_t i = i0; i < i1; ++i) y[o * inner + i] = static_cast<T>(red::finish(r, acc[i - i0], dim));
  }
}

template <typename T>
void reduce_axis_backward(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const T* x, const T* dy, T* dx) {
  check_reduce_axis("reduce_axis_backward", outer, dim, inner, r == ReduceOp::mean);
  const bool need_x = r == ReduceOp::sum_squares;
#pragma omp parallel for collapse(2) schedule(static) if (outer * dim * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t row = (o * dim + d) * inner;  // x[o, d, :]; its upstream gradient is dy[o, :]
      for (int64_t i = 0; i < inner; ++i)
        dx[row + i] = red::grad(r, need_x ? x[row + i] : T(0), dy[o * inner + i], dim);
    }
  }
}

template <typename T, typename I>
void max_axis(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y, I* idx) {
  check_reduce_axis("max_axis", outer, dim, inner, true);
  check_index_range("max_axis", dim, std::numeric_limits<I>::max());
  const int64_t blocks = ceil_div(inner, kInnerBlock);
#pragma omp parallel for schedule(static) if (outer * dim * inner > kParallelMin)
  for (int64_t t = 0; t < outer * blocks; ++t) {
    const int64_t o = t / blocks, i0 = (t % blocks) * kInnerBlock, i1 = std::min(inner, i0 + kInnerBlock);
    // Running max and its index per inner position, started at d = 0 (dim > 0 is checked).
    T best[kInnerBlock];
    int64_t arg[kInnerBlock];
    const T* first = x + o * dim * inner;  // d = 0
    for (int64_t i = i0; i < i1; ++i) best[i - i0] = first[i], arg[i - i0] = 0;
    for (int64_t d = 1; d < dim; ++d) {
      const T* row = x + (o * dim + d) * inner;
      for (int64_t i = i0; i < i1; ++i) {
        // strictly greater (ties keep the first index), or the first NaN
        if (red::max_beats(row[i], best[i - i0])) best[i - i0] = row[i], arg[i - i0] = d;
      }
    }
    for (int64_t i = i0; i < i1; ++i) {
      if (y) y[o * inner + i] = best[i - i0];
      if (idx) idx[o * inner + i] = static_cast<I>(arg[i - i0]);
    }
  }
}

template <typename T, typename I>
void max_axis_backward(int64_t outer, int64_t dim, int64_t inner, const I* idx, const T* dy, T* dx) {
  check_reduce_axis("max_axis_backward", outer, dim, inner, true);
#pragma omp parallel for collapse(2) schedule(static) if (outer * dim * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t row = (o * dim + d) * inner;
      // Only the element that won the max moved y; every other one gets 0.
      for (int64_t i = 0; i < inner; ++i) dx[row + i] = idx[o * inner + i] == d ? dy[o * inner + i] : T(0);
    }
  }
}

// x [rows, k] is [outer = rows, dim = k, inner = 1].
template <typename T, typename I>
void argmax_rows(int64_t rows, int64_t k, const T* x, I* idx) {
  max_axis<T, I>(rows, k, 1, x, nullptr, idx);
}

// Explicit instantiations: float (training on the CPU) and double (gradient checks).
#define FER_INSTANTIATE_REDUCE(T)                                                  \
  template void reduce_all<T>(ReduceOp, int64_t, const T*, T*);                    \
  template void reduce_all_backward<T>(ReduceOp, int64_t, const T*, const T*, T*); \
  template void reduce_axis<T>(ReduceOp, int64_t, int64_t, int64_t, const T*, T*); \
  template void reduce_axis_backward<T>(ReduceOp, int64_t, int64_t, int64_t, const T*, const T*, T*);
#define FER_INSTANTIATE_MAX(T, I)                                                           \
  template void max_axis<T, I>(int64_t, int64_t, int64_t, const T*, T*, I*);                \
  template void max_axis_backward<T, I>(int64_t, int64_t, int64_t, const I*, const T*, T*); \
  template void argmax_rows<T, I>(int64_t, int64_t, const T*, I*);
FER_INSTANTIATE_REDUCE(float)
FER_INSTANTIATE_REDUCE(double)
FER_INSTANTIATE_MAX(float, int32_t)
FER_INSTANTIATE_MAX(float, int64_t)
FER_INSTANTIATE_MAX(double, int32_t)
FER_INSTANTIATE_MAX(double, int64_t)
#undef FER_INSTANTIATE_MAX
#undef FER_INSTANTIATE_REDUCE

}  // namespace cpu
}  // namespace fer
