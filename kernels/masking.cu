// kernels/masking.cu: the fused masking block on the GPU (math in masking.h).
//
// softmax kind: one thread per (image n, pixel p), grid-stride over N*H*W. The thread walks the
//   C channels of its pixel (stride H*W): max, sum of exp, then the outputs; for the backward a
//   third pass forms dot = sum_c dy x M before dx and dz are written. Threads of a warp handle
//   consecutive pixels, so each channel step is one coalesced load per warp. No reduction crosses
//   threads, so the result is deterministic and matches the CPU loop up to expf rounding.
// sigmoid kind: one thread per element (grid-stride), the formula of the CPU twin.
#include "kernels/activation.h"
#include "kernels/cuda_common.cuh"
#include "kernels/masking.h"

namespace fer::cuda {

namespace {

// Max and 1/sum exp(z - max) over the c channels of one pixel (zp points at channel 0).
__device__ __forceinline__ void pixel_softmax_stats(int64_t c, int64_t hw, const float* zp, float* m, float* inv_s) {
  float mx = -INFINITY;
  for (int64_t ch = 0; ch < c; ++ch) mx = fmaxf(mx, zp[ch * hw]);
  float s = 0.f;
  for (int64_t ch = 0; ch < c; ++ch) s += expf(zp[ch * hw] - mx);
  *m = mx;
  *inv_s = 1.f / s;
}

// y = x (1 + M), M = channel softmax of z at this thread's pixel.
__global__ void masking_softmax_forward_kernel(int64_t n, int64_t c, int64_t hw, const float* x, const float* z,
                                               float* y, float* m_out) {
  FER_CUDA_KERNEL_LOOP(t, n * hw) {
    const int64_t img = t / hw, p = t % hw;
    const int64_t off = img * c * hw + p;  // element of channel ch: off + ch*hw
    float m, inv_s;
    pixel_softmax_stats(c, hw, z + off, &m, &inv_s);
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t e = off + ch * hw;
      const float M = expf(z[e] - m) * inv_s;
      if (m_out) m_out[e] = M;
      y[e] = x[e] * (1.f + M);
    }
  }
}

// dx = dy (1 + M), dz = M (g - <g, M>) with g = dy x; the dot is over this pixel's channels.
__global__ void masking_softmax_backward_kernel(int64_t n, int64_t c, int64_t hw, const float* x, const float* z,
                                                const float* dy, float* dx, float* dz) {
  FER_CUDA_KERNEL_LOOP(t, n * hw) {
    const int64_t img = t / hw, p = t % hw;
    const int64_t off = img * c * hw + p;
    float m, inv_s;
    pixel_softmax_stats(c, hw, z + off, &m, &inv_s);
    float dot = 0.f;  // sum_c g_c M_c, g = dy * x
    if (dz) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t e = off + ch * hw;
        dot += dy[e] * x[e] * (expf(z[e] - m) * inv_s);
      }
    }
    for (int64_t ch = 0; ch < c; ++ch) {  // M recomputed (cheaper than storing it)
      const int64_t e = off + ch * hw;
      const float M = expf(z[e] - m) * inv_s;
      if (dx) dx[e] = dy[e] * (1.f + M);
      if (dz) dz[e] = M * (dy[e] * x[e] - dot);
    }
  }
}

// sigmoid kind: elementwise, the same act::sigmoid as the CPU twin.
__global__ void masking_sigmoid_forward_kernel(int64_t count, const float* x, const float* z, float* y,
                                               float* m_out) {
  FER_CUDA_KERNEL_LOOP(e, count) {
    const float M = act::sigmoid(z[e]);
    if (m_out) m_out[e] = M;
    y[e] = x[e] * (1.f + M);
  }
}

// dx = dy (1 + M), dz = g M (1 - M).
__global__ void masking_sigmoid_backward_kernel(int64_t count, const float* x, const float* z, const float* dy,
                                                float* dx, float* dz) {
  FER_CUDA_KERNEL_LOOP(e, count) {
    const float M = act::sigmoid(z[e]);
    if (dx) dx[e] = dy[e] * (1.f + M);
    if (dz) dz[e] = dy[e] * x[e] * M * (1.f - M);
  }
}

}  // namespace

// Host launchers: softmax kind -> one thread per (image, pixel); sigmoid kind -> per element.
void masking_forward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const float* x, const float* z, float* y,
                     float* m_out, cuda_stream stream) {
  check_masking_args("cuda::masking_forward", n, c, hw);
  if (n * c * hw == 0) return;
  const cudaStream_t s = to_cuda(stream);
  if (kind == MaskKind::softmax) {
    masking_softmax_forward_kernel<<<grid_for(n * hw), kBlock, 0, s>>>(n, c, hw, x, z, y, m_out);
  } else {
    masking_sigmoid_forward_kernel<<<grid_for(n * c * hw), kBlock, 0, s>>>(n * c * hw, x, z, y, m_out);
  }
  FER_LAUNCH_CHECK();
}

void masking_backward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const float* x, const float* z,
                      const float* dy, float* dx, float* dz, cuda_stream stream) {
  check_masking_args("cuda::masking_backward", n, c, hw);
  if (n * c * hw == 0 || (dx == nullptr && dz == nullptr)) return;
  const cudaStream_t s = to_cuda(stream);
  if (kind == MaskKind::softmax) {
    masking_softmax_backward_kernel<<<grid_for(n * hw), kBlock, 0, s>>>(n, c, hw, x, z, dy, dx, dz);
  } else {
    masking_sigmoid_backward_kernel<<<grid_for(n * c * hw), kBlock, 0, s>>>(n * c * hw, x, z, dy, dx, dz);
  }
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
