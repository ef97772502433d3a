// kernels/softmax.cu: softmax / log_softmax on the GPU (math and layout in softmax.h).
//
// Two kernels, picked by the layout (same math as the CPU twin, three passes: max, sum, write):
//   inner == 1 (rows: class logits, attention's last dim): one warp per row; the 32 lanes stride
//     over k (coalesced), max and sum go through warp shuffles. 8 rows per 256-thread block,
//     grid-stride over rows.
//   inner > 1 (channel softmax of NCHW): one thread per (o, i), looping over k; threads with
//     consecutive i read consecutive addresses, so every load of the warp is coalesced.
// Results differ from the CPU twin only by the summation order and the device's expf/logf
// rounding (a few ulp); both are deterministic.
#include "kernels/cuda_common.cuh"
#include "kernels/softmax.h"
#include "kernels/softmax_reduce.cuh"

namespace fer::cuda {

namespace {

constexpr int kRowsPerBlock = kBlock / 32;  // one warp per row

// Grid for the warp-per-row kernels: ceil(rows / kRowsPerBlock) blocks (capped; they loop).
unsigned row_grid(int64_t rows) { return grid_for(rows * 32, kBlock); }

// ---- inner == 1: one warp per row -------------------------------------------------------------

template <bool kLog>
__global__ void softmax_rows_forward_kernel(int64_t rows, int64_t dim, const float* x, float* y) {
  const int lane = threadIdx.x & 31;
  const int64_t first = blockIdx.x * int64_t(kRowsPerBlock) + (threadIdx.x >> 5);
  const int64_t stride = int64_t(gridDim.x) * kRowsPerBlock;
  // r is the same for all 32 lanes of a warp, so the shuffles below see the full warp.
  for (int64_t r = first; r < rows; r += stride) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    // pass 1: row max (lanes stride over k, then a butterfly over the warp)
    float m = -INFINITY;
    for (int64_t k = lane; k < dim; k += 32) m = fmaxf(m, xr[k]);
    m = smx::warp_max(m);
    // pass 2: s = sum exp(x - m); pass 3: the outputs
    float s = 0.f;
    for (int64_t k = lane; k < dim; k += 32) s += expf(xr[k] - m);
    s = smx::warp_sum(s);
    if (kLog) {
      const float log_s = logf(s);
      for (int64_t k = lane; k < dim; k += 32) yr[k] = (xr[k] - m) - log_s;
    } else {
      const float inv = 1.f / s;
      for (int64_t k = lane; k < dim; k += 32) yr[k] = expf(xr[k] - m) * inv;
    }
  }
}

template <bool kLog>
__global__ void softmax_rows_backward_kernel(int64_t rows, int64_t dim, const float* y, const float* dy, float* dx) {
  const int lane = threadIdx.x & 31;
  const int64_t first = blockIdx.x * int64_t(kRowsPerBlock) + (threadIdx.x >> 5);
  const int64_t stride = int64_t(gridDim.x) * kRowsPerBlock;
  for (int64_t r = first; r < rows; r += stride) {
    const float* yr = y + r * dim;
    const float* gr = dy + r * dim;
    float* dr = dx + r * dim;
    float dot = 0.f;  // softmax: sum dy*y; log_softmax: sum dy
    for (int64_t k = lane; k < dim; k += 32) dot += kLog ? gr[k] : gr[k] * yr[k];
    dot = smx::warp_sum(dot);
    // softmax: dx = y (dy - dot); log_softmax: dx = dy - exp(y) dot
    for (int64_t k = lane; k < dim; k += 32) dr[k] = kLog ? gr[k] - expf(yr[k]) * dot : yr[k] * (gr[k] - dot);
  }
}

// ---- inner > 1: one thread per (o, i) ---------------------------------------------------------

template <bool kLog>
__global__ void softmax_strided_forward_kernel(int64_t outer, int64_t dim, int64_t inner, const float* x,
                                               float* y) {
  FER_CUDA_KERNEL_LOOP(t, outer * inner) {
    const int64_t o = t / inner, i = t % inner;
    const float* xc = x + o * dim * inner + i;  // element k of this column is xc[k * inner]
    float* yc = y + o * dim * inner + i;
    float m = -INFINITY;
    for (int64_t k = 0; k < dim; ++k) m = fmaxf(m, xc[k * inner]);
    float s = 0.f;
    for (int64_t k = 0; k < dim; ++k) s += expf(xc[k * inner] - m);
    if (kLog) {
      const float log_s = logf(s);
      for (int64_t k = 0; k < dim; ++k) yc[k * inner] = (xc[k * inner] - m) - log_s;
    } else {
      const float inv = 1.f / s;
      for (int64_t k = 0; k < dim; ++k) yc[k * inner] = expf(xc[k * inner] - m) * inv;
    }
  }
}

template <bool kLog>
__global__ void softmax_strided_backward_kernel(int64_t outer, int64_t dim, int64_t inner, const float* y,
                                                const float* dy, float* dx) {
  FER_CUDA_KERNEL_LOOP(t, outer * inner) {
    const int64_t o = t / inner, i = t % inner;
    const int64_t base = o * dim * inner + i;
    float dot = 0.f;
    for (int64_t k = 0; k < dim; ++k) {
      const int64_t e = base + k * inner;
      dot += kLog ? dy[e] : dy[e] * y[e];
    }
    for (int64_t k = 0; k < dim; ++k) {
      const int64_t e = base + k * inner;
      dx[e] = kLog ? dy[e] - expf(y[e]) * dot : y[e] * (dy[e] - dot);
    }
  }
}

// Host side: pick the kernel by layout (nothing to do for an empty tensor).
template <bool kLog>
void launch_forward(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream) {
  if (outer * inner == 0) return;
  const cudaStream_t s = to_cuda(stream);
  if (inner == 1) {
    softmax_rows_forward_kernel<kLog><<<row_grid(outer), kBlock, 0, s>>>(outer, dim, x, y);
  } else {
    softmax_strided_forward_kernel<kLog><<<grid_for(outer * inner), kBlock, 0, s>>>(outer, dim, inner, x, y);
  }
  FER_LAUNCH_CHECK();
}

template <bool kLog>
void launch_backward(int64_t outer, int64_t dim, int64_t inner, const float* y, const float* dy, float* dx,
                     cuda_stream stream) {
  if (outer * inner == 0) return;
  const cudaStream_t s = to_cuda(stream);
  if (inner == 1) {
    softmax_rows_backward_kernel<kLog><<<row_grid(outer), kBlock, 0, s>>>(outer, dim, y, dy, dx);
  } else {
    softmax_strided_backward_kernel<kLog><<<grid_for(outer * inner), kBlock, 0, s>>>(outer, dim, inner, y, dy, dx);
  }
  FER_LAUNCH_CHECK();
}

}  // namespace

void softmax_forward(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream) {
  check_softmax_args("cuda::softmax_forward", outer, dim, inner);
  launch_forward<false>(outer, dim, inner, x, y, stream);
}

void log_softmax_forward(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream) {
  check_softmax_args("cuda::log_softmax_forward", outer, dim, inner);
  launch_forward<true>(outer, dim, inner, x, y, stream);
}

void softmax_backward(int64_t outer, int64_t dim, int64_t inner, const float* y, const float* dy, float* dx,
                      cuda_stream stream) {
  check_softmax_args("cuda::softmax_backward", outer, dim, inner);
  launch_backward<false>(outer, dim, inner, y, dy, dx, stream);
}

void log_softmax_backward(int64_t outer, int64_t dim, int64_t inner, const float* y, const float* dy, float* dx,
                          cuda_stream stream) {
  check_softmax_args("cuda::log_softmax_backward", outer, dim, inner);
  launch_backward<true>(outer, dim, inner, y, dy, dx, stream);
}

}  // namespace fer::cuda
