// kernels/layernorm.cu: layer normalisation on the GPU (see layernorm.h for the math).
//
// Parallelization:
//   forward, dx   one block of kRowThreads threads per row (grid-stride over rows). Thread t walks
//                 columns t, t+kRowThreads, ... (coalesced), the row sums go through smx::block_sum
//                 (a fixed shuffle tree), and the row statistics never leave the block.
//   dgamma/dbeta  sums over rows for each column j: blocks of 32 columns x kLanes row lanes; lane l
//                 sums rows l, l+kLanes, ... in order for its column (a warp reads 32 consecutive
//                 floats of one row), then lane 0 adds the kLanes partials from shared memory in
//                 lane order. Fixed order everywhere: deterministic, no atomics, no workspace.
// Versus the CPU twin: float partial sums combined in a tree instead of double sequential sums;
// the results agree to rounding (tolerances in tests/cuda/test_norm_parity.cpp).
#include <cmath>

#include "kernels/cuda_common.cuh"
#include "kernels/layernorm.h"
#include "kernels/softmax_reduce.cuh"

namespace fer::cuda {

namespace {

constexpr int kRowThreads = 256;  // a multiple of 32 (smx::block_sum)
constexpr int kLanes = 16;        // row lanes of the dgamma/dbeta kernel: blocks of 32 x 16 threads

unsigned row_grid(int64_t rows) {
  return static_cast<unsigned>(rows < 65535 * 16 ? rows : 65535 * 16);
}

__global__ void ln_forward_kernel(LayerNormDims d, const float* x, const float* gamma, const float* beta, float eps,
                                  float* y, float* save_mean, float* save_invstd) {
  __shared__ float scratch[32];
  const int64_t D = d.dim;
  for (int64_t r = blockIdx.x; r < d.rows; r += gridDim.x) {  // uniform across the block
    const float* xr = x + r * D;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) s += xr[j];
    const float mean = smx::block_sum(s, scratch) / float(D);
    float q = 0.f;  // two-pass variance
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      const float t = xr[j] - mean;
      q += t * t;
    }
    const float invstd = 1.f / sqrtf(smx::block_sum(q, scratch) / float(D) + eps);
    float* yr = y + r * D;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      const float g = gamma ? gamma[j] : 1.f, b = beta ? beta[j] : 0.f;
      yr[j] = (xr[j] - mean) * invstd * g + b;
    }
    if (threadIdx.x == 0) {
      save_mean[r] = mean;
      save_invstd[r] = invstd;
    }
  }
}

__global__ void ln_backward_dx_kernel(LayerNormDims d, const float* x, const float* dy, const float* gamma,
                                      const float* save_mean, const float* save_invstd, float* dx) {
  __shared__ float scratch[32];
  const int64_t D = d.dim;
  for (int64_t r = blockIdx.x; r < d.rows; r += gridDim.x) {
    const float* xr = x + r * D;
    const float* dyr = dy + r * D;
    const float mean = save_mean[r], invstd = save_invstd[r];
    float s1 = 0.f, s2 = 0.f;  // sum dy_hat, sum dy_hat x_hat
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      const float dyh = dyr[j] * (gamma ? gamma[j] : 1.f);
      s1 += dyh;
      s2 += dyh * ((xr[j] - mean) * invstd);
    }
    const float m1 = smx::block_sum(s1, scratch) / float(D);
    const float m2 = smx::block_sum(s2, scratch) / float(D);
    float* dxr = dx + r * D;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      const float dyh = dyr[j] * (gamma ? gamma[j] : 1.f);
      const float xh = (xr[j] - mean) * invstd;
      dxr[j] = invstd * (dyh - m1 - xh * m2);
    }
  }
}

__global__ void ln_backward_params_kernel(LayerNormDims d, const float* x, const float* dy, const float* save_mean,
                                          const float* save_invstd, float* dgamma, float* dbeta) {
  __shared__ float sg[kLanes][32], sb[kLanes][32];  // one partial per (row lane, column)
  const int tx = threadIdx.x % 32, lane = threadIdx.x / 32;
  const int64_t D = d.dim;
  for (int64_t j0 = blockIdx.x * int64_t(32); j0 < D; j0 += int64_t(gridDim.x) * 32) {  // uniform per block
    const int64_t j = j0 + tx;
    float g = 0.f, b = 0.f;
    if (j < D) {
      for (int64_t r = lane; r < d.rows; r += kLanes) {  // rows in order within a lane
        const float v = dy[r * D + j];
        b += v;
        g += v * ((x[r * D + j] - save_mean[r]) * save_invstd[r]);
      }
    }
    sg[lane][tx] = g;
    sb[lane][tx] = b;
    __syncthreads();
    if (lane == 0 && j < D) {
      float tg = 0.f, tb = 0.f;
      for (int l = 0; l < kLanes; ++l) {  // lane order: fixed
        tg += sg[l][tx];
        tb += sb[l][tx];
      }
      if (dgamma) dgamma[j] = tg;
      if (dbeta) dbeta[j] = tb;
    }
    __syncthreads();  // shared memory is reused by the next column tile
  }
}

}  // namespace

void layernorm_forward(const LayerNormDims& d, const float* x, const float* gamma, const float* beta, double eps,
                       float* y, float* save_mean, float* save_invstd, cuda_stream stream) {
  const char* op = "cuda::layernorm_forward";
  check_layernorm(op, d);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  ln_forward_kernel<<<row_grid(d.rows), kRowThreads, 0, to_cuda(stream)>>>(d, x, gamma, beta, float(eps), y, save_mean,
                                                                           save_invstd);
  FER_LAUNCH_CHECK();
}

void layernorm_backward(const LayerNormDims& d, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                        cuda_stream stream) {
  const char* op = "cuda::layernorm_backward";
  check_layernorm(op, d);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  if (dx) {
    ln_backward_dx_kernel<<<row_grid(d.rows), kRowThreads, 0, to_cuda(stream)>>>(d, x, dy, gamma, save_mean,
                                                                                 save_invstd, dx);
    FER_LAUNCH_CHECK();
  }
  if (dgamma || dbeta) {
    const int64_t tiles = (d.dim + 31) / 32;
    ln_backward_params_kernel<<<static_cast<unsigned>(tiles < 65535 ? tiles : 65535), 32 * kLanes, 0,
                                to_cuda(stream)>>>(d, x, dy, save_mean, save_invstd, dgamma, dbeta);
    FER_LAUNCH_CHECK();
  }
}

}  // namespace fer::cuda
