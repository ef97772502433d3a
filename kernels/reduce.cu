// kernels/reduce.cu: reductions on the GPU (see reduce.h).
//
// reduce_all, two passes, no atomics:
//   pass 1: B = reduce_all_blocks(n) blocks of 256 threads; thread t of block b sums (in double)
//           x[b*256 + t + k*B*256], k = 0, 1, ...; the block adds its 256 sums with a fixed tree
//           and writes partial[b] to the workspace.
//   pass 2: one block of 256 threads sums the B partials the same way and writes out[0].
// B depends on n only, so the summation tree, and with it the result, is the same on every run.
// Axis reductions and max/argmax: one thread per output (o, i), looping d = 0..dim-1 in order with
// a double accumulator, exactly the CPU twin's order: the results are bit-identical to it.
// Neighbouring threads read neighbouring i, so the loads are coalesced when inner > 1.
#include <limits>

#include "kernels/cuda_common.cuh"
#include "kernels/reduce.h"

namespace fer::cuda {

namespace {

constexpr int kReduceBlock = 256;       // threads per block in both passes (a power of two)
constexpr int64_t kPerThread = 16;      // pass 1 aims at >= 16 elements per thread
constexpr int64_t kMaxPartials = 1024;  // at most this many pass-1 blocks

// Sum of v over the block by a fixed tree; every thread gets the total. sh has kReduceBlock slots.
__device__ double block_sum(double v, double* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  // Halve the active threads each step; thread t adds its partner t + s. Fixed pairs, fixed order.
  for (int s = kReduceBlock / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] += sh[t + s];
    __syncthreads();
  }
  const double total = sh[0];
  __syncthreads();  // sh may be reused after return
  return total;
}

__global__ void reduce_all_partials_kernel(ReduceOp r, int64_t n, const float* x, double* partial) {
  __shared__ double sh[kReduceBlock];
  // Grid-stride over x with the grid size fixed by n: thread (b, t) always sums the same elements.
  double acc = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kReduceBlock;
  for (int64_t i = blockIdx.x * int64_t(kReduceBlock) + threadIdx.x; i < n; i += step) acc += red::term(r, x[i]);
  const double total = block_sum(acc, sh);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void reduce_all_final_kernel(ReduceOp r, int64_t n, int64_t blocks, const double* partial, float* out) {
  __shared__ double sh[kReduceBlock];
  double acc = 0;  // up to 1024 partials: thread t adds partials t, t+256, ...
  for (int64_t b = threadIdx.x; b < blocks; b += kReduceBlock) acc += partial[b];
  const double total = block_sum(acc, sh);
  if (threadIdx.x == 0) out[0] = static_cast<float>(red::finish(r, total, n));
}

__global__ void reduce_all_backward_kernel(ReduceOp r, int64_t n, const float* x, const float* dy, float* dx) {
  const bool need_x = r == ReduceOp::sum_squares;
  // dy[0] is read on the device, so no host sync is needed between forward and backward.
  FER_CUDA_KERNEL_LOOP(i, n) {
    dx[i] = red::grad(r, need_x ? x[i] : 0.f, dy[0], n);
  }
}

// Thread j = o*inner + i reduces x[o, :, i].
__global__ void reduce_axis_kernel(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j - o * inner;
    const float* col = x + o * dim * inner + i;  // x[o, d, i] = col[d * inner]
    double acc = 0;
    for (int64_t d = 0; d < dim; ++d) acc += red::term(r, col[d * inner]);
    y[j] = static_cast<float>(red::finish(r, acc, dim));
  }
}

// Thread e = (o*dim + d)*inner + i writes dx[o, d, i].
__global__ void reduce_axis_backward_kernel(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const float* x,
                                            const float* dy, float* dx) {
  const bool need_x = r == ReduceOp::sum_squares;
  FER_CUDA_KERNEL_LOOP(e, outer * dim * inner) {
    const int64_t i = e % inner, o = e / (dim * inner);
    dx[e] = red::grad(r, need_x ? x[e] : 0.f, dy[o * inner + i], dim);
  }
}

template <typename I>
__global__ void max_axis_kernel(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, I* idx) {
  FER_CUDA_KERNEL_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j - o * inner;
    const float* col = x + o * dim * inner + i;  // x[o, d, i] = col[d * inner]
    // Same scan as the CPU twin: start at d = 0, replace on strictly greater or first NaN.
    float best = col[0];
    int64_t arg = 0;
    for (int64_t d = 1; d < dim; ++d) {
      const float v = col[d * inner];
      if (red::max_beats(v, best)) best = v, arg = d;
    }
    if (y) y[j] = best;
    if (idx) idx[j] = static_cast<I>(arg);
  }
}

template <typename I>
__global__ void max_axis_backward_kernel(int64_t outer, int64_t dim, int64_t inner, const I* idx, const float* dy,
                                         float* dx) {
  FER_CUDA_KERNEL_LOOP(e, outer * dim * inner) {
    const int64_t i = e % inner, d = (e / inner) % dim, o = e / (dim * inner);
    const int64_t j = o * inner + i;  // the output (o, i) this element belongs to
    dx[e] = idx[j] == d ? dy[j] : 0.f;
  }
}

}  // namespace

int64_t reduce_all_blocks(int64_t n) {
  const int64_t b = ceil_div(n, kReduceBlock * kPerThread);
  return b < 1 ? 1 : (b > kMaxPartials ? kMaxPartials : b);
}

size_t reduce_all_workspace_bytes(int64_t n) {
  return static_cast<size_t>(reduce_all_blocks(n)) * sizeof(double);
}

void reduce_all(ReduceOp r, int64_t n, const float* x, float* out, void* workspace, cuda_stream stream) {
  check_reduce_all("reduce_all", n, r == ReduceOp::mean);
  FER_CHECK(workspace != nullptr, "reduce_all: workspace is null; hint: pass reduce_all_workspace_bytes(n) = "
                                      << reduce_all_workspace_bytes(n) << " bytes of device memory");
  // Pass 1 writes `blocks` partial sums into the workspace; pass 2 (one block) adds them.
  const int64_t blocks = reduce_all_blocks(n);
  double* partial = static_cast<double*>(workspace);
  reduce_all_partials_kernel<<<static_cast<unsigned>(blocks), kReduceBlock, 0, to_cuda(stream)>>>(r, n, x, partial);
  FER_LAUNCH_CHECK();
  reduce_all_final_kernel<<<1, kReduceBlock, 0, to_cuda(stream)>>>(r, n, blocks, partial, out);
  FER_LAUNCH_CHECK();
}

void reduce_all_backward(ReduceOp r, int64_t n, const float* x, const float* dy, float* dx, cuda_stream stream) {
  check_reduce_all("reduce_all_backward", n, r == ReduceOp::mean);
  if (n == 0) return;
  reduce_all_backward_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(r, n, x, dy, dx);
  FER_LAUNCH_CHECK();
}

void reduce_axis(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream) {
  check_reduce_axis("reduce_axis", outer, dim, inner, r == ReduceOp::mean);
  if (outer * inner == 0) return;
  reduce_axis_kernel<<<grid_for(outer * inner), kBlock, 0, to_cuda(stream)>>>(r, outer, dim, inner, x, y);
  FER_LAUNCH_CHECK();
}

void reduce_axis_backward(ReduceOp r, int64_t outer, int64_t dim, int64_t inner, const float* x, const float* dy,
                          float* dx, cuda_stream stream) {
  check_reduce_axis("reduce_axis_backward", outer, dim, inner, r == ReduceOp::mean);
  const int64_t n = outer * dim * inner;
  if (n == 0) return;
  reduce_axis_backward_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(r, outer, dim, inner, x, dy, dx);
  FER_LAUNCH_CHECK();
}

template <typename I>
void max_axis(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, I* idx, cuda_stream stream) {
  check_reduce_axis("max_axis", outer, dim, inner, true);
  check_index_range("max_axis", dim, std::numeric_limits<I>::max());
  if (outer * inner == 0) return;
  max_axis_kernel<I><<<grid_for(outer * inner), kBlock, 0, to_cuda(stream)>>>(outer, dim, inner, x, y, idx);
  FER_LAUNCH_CHECK();
}

template <typename I>
void max_axis_backward(int64_t outer, int64_t dim, int64_t inner, const I* idx, const float* dy, float* dx,
                       cuda_stream stream) {
  check_reduce_axis("max_axis_backward", outer, dim, inner, true);
  const int64_t n = outer * dim * inner;
  if (n == 0) return;
  max_axis_backward_kernel<I><<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(outer, dim, inner, idx, dy, dx);
  FER_LAUNCH_CHECK();
}

template <typename I>
void argmax_rows(int64_t rows, int64_t k, const float* x, I* idx, cuda_stream stream) {
  max_axis<I>(rows, k, 1, x, nullptr, idx, stream);
}

// The index types (reduce.h).
#define FER_INSTANTIATE_MAX(I)                                                                                \
  template void max_axis<I>(int64_t, int64_t, int64_t, const float*, float*, I*, cuda_stream);                \
  template void max_axis_backward<I>(int64_t, int64_t, int64_t, const I*, const float*, float*, cuda_stream); \
  template void argmax_rows<I>(int64_t, int64_t, const float*, I*, cuda_stream);
FER_INSTANTIATE_MAX(int32_t)
FER_INSTANTIATE_MAX(int64_t)
#undef FER_INSTANTIATE_MAX

}  // namespace fer::cuda
