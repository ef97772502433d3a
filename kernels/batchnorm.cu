// kernels/batchnorm.cu: batch normalisation on CUDA (see batchnorm.h for the math).
// Parallelisation: one block of 256 threads per channel. Each thread walks the channel's M values
// with stride 256 (for a fixed n, consecutive threads read consecutive addresses), accumulating in
// double; the block then reduces with a fixed shared-memory tree, so sums are deterministic. The
// elementwise passes (y, dx) reuse the same walk. Statistics in double like the CPU twin, so both
// agree to float rounding.
#include <cuda_runtime.h>

#include "kernels/batchnorm.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

constexpr int kBnThreads = 256;

// Fixed-tree block sum of two doubles; every thread gets both totals. All threads must call.
__device__ void block_sum2(double& a, double& b, double* sa, double* sb) {
  const int t = threadIdx.x;
  sa[t] = a;
  sb[t] = b;
  __syncthreads();
  for (int half = kBnThreads / 2; half > 0; half >>= 1) {
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

// Index of the j-th value of channel c (j in [0, M)).
__device__ __forceinline__ int64_t bn_index(int64_t j, int64_t c, int64_t channels, int64_t spatial) {
  const int64_t n = j / spatial, i = j - n * spatial;
  return (n * channels + c) * spatial + i;
}

__global__ void bn_forward_train_kernel(int64_t channels, int64_t spatial, int64_t m, const float* __restrict__ x,
                                        const float* gamma, const float* beta, double eps, double momentum,
                                        float* running_mean, float* running_var, float* __restrict__ y,
                                        float* save_mean, float* save_invstd) {
  __shared__ double sa[kBnThreads], sb[kBnThreads];
  const int64_t c = blockIdx.x;
  double sum = 0, unused = 0;
  for (int64_t j = threadIdx.x; j < m; j += kBnThreads) sum += x[bn_index(j, c, channels, spatial)];
  block_sum2(sum, unused, sa, sb);
  const double mean = sum / static_cast<double>(m);
  double sq = 0;
  unused = 0;
  for (int64_t j = threadIdx.x; j < m; j += kBnThreads) {
    const double dev = x[bn_index(j, c, channels, spatial)] - mean;
    sq += dev * dev;
  }
  block_sum2(sq, unused, sa, sb);
  const double var = sq / static_cast<double>(m);
  const double invstd = 1.0 / sqrt(var + eps);
  const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
  for (int64_t j = threadIdx.x; j < m; j += kBnThreads) {
    const int64_t k = bn_index(j, c, channels, spatial);
    y[k] = static_cast<float>((x[k] - mean) * invstd * g + b);
  }
  if (threadIdx.x == 0) {
    if (save_mean) save_mean[c] = static_cast<float>(mean);
    if (save_invstd) save_invstd[c] = static_cast<float>(invstd);
    const double md = static_cast<double>(m);
    if (running_mean) running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
    if (running_var)
      running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * var * md / (md - 1.0));
  }
}

__global__ void bn_forward_eval_kernel(int64_t channels, int64_t spatial, int64_t m, const float* __restrict__ x,
                                       const float* gamma, const float* beta, const float* running_mean,
                                       const float* running_var, double eps, float* __restrict__ y) {
  const int64_t c = blockIdx.x;
  const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
  const double mean = running_mean[c];
  const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
  for (int64_t j = threadIdx.x; j < m; j += kBnThreads) {
    const int64_t k = bn_index(j, c, channels, spatial);
    y[k] = static_cast<float>((x[k] - mean) * invstd * g + b);
  }
}

// training = true: mean/invstd are the saved batch statistics and dx has the two extra terms.
__global__ void bn_backward_kernel(int64_t channels, int64_t spatial, int64_t m, bool training,
                                   const float* __restrict__ x, const float* __restrict__ dy, const float* gamma,
                                   const float* mean_in, const float* stat_in, double eps, float* __restrict__ dx,
                                   float* dgamma, float* dbeta) {
  __shared__ double sa[kBnThreads], sb[kBnThreads];
  const int64_t c = blockIdx.x;
  const double mean = mean_in[c];
  const double invstd = training ? static_cast<double>(stat_in[c]) : 1.0 / sqrt(static_cast<double>(stat_in[c]) + eps);
  double sum_dy = 0, sum_dy_xhat = 0;
  for (int64_t j = threadIdx.x; j < m; j += kBnThreads) {
    const int64_t k = bn_index(j, c, channels, spatial);
    const double g = dy[k];
    sum_dy += g;
    sum_dy_xhat += g * (x[k] - mean) * invstd;
  }
  block_sum2(sum_dy, sum_dy_xhat, sa, sb);
  if (threadIdx.x == 0) {
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
  }
  if (!dx) return;
  const double md = static_cast<double>(m);
  const double gm = gamma ? gamma[c] : 1.0;
  for (int64_t j = threadIdx.x; j < m; j += kBnThreads) {
    const int64_t k = bn_index(j, c, channels, spatial);
    if (training) {
      const double xhat = (x[k] - mean) * invstd;
      dx[k] = static_cast<float>(gm * invstd / md * (md * dy[k] - sum_dy - xhat * sum_dy_xhat));
    } else {
      dx[k] = static_cast<float>(gm * invstd * dy[k]);
    }
  }
}

}  // namespace

void batchnorm2d_forward_train(const BatchNormDims& d, const float* x, const float* gamma, const float* beta,
                               double eps, double momentum, float* running_mean, float* running_var, float* y,
                               float* save_mean, float* save_invstd, cuda_stream stream) {
  check_batchnorm("cuda::batchnorm2d_forward_train", d, true);
  bn_forward_train_kernel<<<static_cast<unsigned>(d.c), kBnThreads, 0, stream>>>(
      d.c, d.spatial(), d.m(), x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean, save_invstd);
  FER_LAUNCH_CHECK();
}

void batchnorm2d_forward_eval(const BatchNormDims& d, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, double eps, float* y,
                              cuda_stream stream) {
  check_batchnorm("cuda::batchnorm2d_forward_eval", d, false);
  FER_CHECK(running_mean && running_var, "cuda::batchnorm2d_forward_eval: needs running statistics");
  bn_forward_eval_kernel<<<static_cast<unsigned>(d.c), kBnThreads, 0, stream>>>(d.c, d.spatial(), d.m(), x, gamma, beta,
                                                                                running_mean, running_var, eps, y);
  FER_LAUNCH_CHECK();
}

void batchnorm2d_backward_train(const BatchNormDims& d, const float* x, const float* dy, const float* gamma,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, cuda_stream stream) {
  check_batchnorm("cuda::batchnorm2d_backward_train", d, true);
  bn_backward_kernel<<<static_cast<unsigned>(d.c), kBnThreads, 0, stream>>>(
      d.c, d.spatial(), d.m(), true, x, dy, gamma, save_mean, save_invstd, 0.0, dx, dgamma, dbeta);
  FER_LAUNCH_CHECK();
}

void batchnorm2d_backward_eval(const BatchNormDims& d, const float* x, const float* dy, const float* gamma,
                               const float* running_mean, const float* running_var, double eps, float* dx,
                               float* dgamma, float* dbeta, cuda_stream stream) {
  check_batchnorm("cuda::batchnorm2d_backward_eval", d, false);
  bn_backward_kernel<<<static_cast<unsigned>(d.c), kBnThreads, 0, stream>>>(
      d.c, d.spatial(), d.m(), false, x, dy, gamma, running_mean, running_var, eps, dx, dgamma, dbeta);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
