// kernels/layernorm.cu: layer normalisation on CUDA (see layernorm.h for the math).
// Forward and dx: one block of 256 threads per row, strided over the row, double accumulators,
// fixed shared-memory tree. dgamma/dbeta: one thread per column summing the rows in order.
#include <cuda_runtime.h>

#include "kernels/cuda_common.cuh"
#include "kernels/layernorm.h"

namespace fer::cuda {

namespace {

constexpr int kLnThreads = 256;

__device__ void ln_block_sum2(double& a, double& b, double* sa, double* sb) {
  const int t = threadIdx.x;
  sa[t] = a;
  sb[t] = b;
  __syncthreads();
  for (int half = kLnThreads / 2; half > 0; half >>= 1) {
    if (t < half) {
      sa[t] += sa[t + half];
      sb[t] += sb[t + half];
    }
    __syncthreads();
  }
  a = sa[0];
  b = sb[0];
  __syncthreads();
}

__global__ void ln_forward_kernel(int64_t dim, const float* __restrict__ x, const float* gamma, const float* beta,
                                  double eps, float* __restrict__ y, float* save_mean, float* save_invstd) {
  __shared__ double sa[kLnThreads], sb[kLnThreads];
  const int64_t r = blockIdx.x;
  const float* xr = x + r * dim;
  double sum = 0, unused = 0;
  for (int64_t j = threadIdx.x; j < dim; j += kLnThreads) sum += xr[j];
  ln_block_sum2(sum, unused, sa, sb);
  const double mean = sum / static_cast<double>(dim);
  double sq = 0;
  unused = 0;
  for (int64_t j = threadIdx.x; j < dim; j += kLnThreads) {
    const double dev = xr[j] - mean;
    sq += dev * dev;
  }
  ln_block_sum2(sq, unused, sa, sb);
  const double invstd = 1.0 / sqrt(sq / static_cast<double>(dim) + eps);
  for (int64_t j = threadIdx.x; j < dim; j += kLnThreads) {
    const double xhat = (xr[j] - mean) * invstd;
    y[r * dim + j] = static_cast<float>(xhat * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0));
  }
  if (threadIdx.x == 0) {
    if (save_mean) save_mean[r] = static_cast<float>(mean);
    if (save_invstd) save_invstd[r] = static_cast<float>(invstd);
  }
}

__global__ void ln_backward_dx_kernel(int64_t dim, const float* __restrict__ x, const float* __restrict__ dy,
                                      const float* gamma, const float* save_mean, const float* save_invstd,
                                      float* __restrict__ dx) {
  __shared__ double sa[kLnThreads], sb[kLnThreads];
  const int64_t r = blockIdx.x;
  const double mean = save_mean[r], invstd = save_invstd[r];
  double sum_g = 0, sum_g_xhat = 0;
  for (int64_t j = threadIdx.x; j < dim; j += kLnThreads) {
    const double g = static_cast<double>(dy[r * dim + j]) * (gamma ? gamma[j] : 1.0);
    sum_g += g;
    sum_g_xhat += g * (x[r * dim + j] - mean) * invstd;
  }
  ln_block_sum2(sum_g, sum_g_xhat, sa, sb);
  const double n = static_cast<double>(dim);
  for (int64_t j = threadIdx.x; j < dim; j += kLnThreads) {
    const double g = static_cast<double>(dy[r * dim + j]) * (gamma ? gamma[j] : 1.0);
    const double xhat = (x[r * dim + j] - mean) * invstd;
    dx[r * dim + j] = static_cast<float>(invstd / n * (n * g - sum_g - xhat * sum_g_xhat));
  }
}

__global__ void ln_backward_params_kernel(int64_t rows, int64_t dim, const float* __restrict__ x,
                                          const float* __restrict__ dy, const float* save_mean,
                                          const float* save_invstd, float* dgamma, float* dbeta) {
  FER_CUDA_KERNEL_LOOP(j, dim) {
    double sg = 0, sb = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const double g = dy[r * dim + j];
      sb += g;
      sg += g * (x[r * dim + j] - static_cast<double>(save_mean[r])) * save_invstd[r];
    }
    if (dgamma) dgamma[j] = static_cast<float>(sg);
    if (dbeta) dbeta[j] = static_cast<float>(sb);
  }
}

}  // namespace

void layernorm_forward(const LayerNormDims& d, const float* x, const float* gamma, const float* beta, double eps,
                       float* y, float* save_mean, float* save_invstd, cuda_stream stream) {
  check_layernorm("cuda::layernorm_forward", d);
  if (d.rows == 0) return;
  ln_forward_kernel<<<static_cast<unsigned>(d.rows), kLnThreads, 0, stream>>>(d.dim, x, gamma, beta, eps, y, save_mean,
                                                                              save_invstd);
  FER_LAUNCH_CHECK();
}

void layernorm_backward(const LayerNormDims& d, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                        cuda_stream stream) {
  check_layernorm("cuda::layernorm_backward", d);
  if (d.rows == 0) return;
  if (dx) {
    ln_backward_dx_kernel<<<static_cast<unsigned>(d.rows), kLnThreads, 0, stream>>>(d.dim, x, dy, gamma, save_mean,
                                                                                    save_invstd, dx);
    FER_LAUNCH_CHECK();
  }
  if (dgamma || dbeta) {
    ln_backward_params_kernel<<<grid_for(d.dim), kBlock, 0, stream>>>(d.rows, d.dim, x, dy, save_mean, save_invstd,
                                                                      dgamma, dbeta);
    FER_LAUNCH_CHECK();
  }
}

}  // namespace fer::cuda
