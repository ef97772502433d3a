// kernels/batchnorm.cu: 2-D batch normalisation on the GPU (see batchnorm.h for the math).
//
// Parallelization: one block of kThreads threads per channel (grid-stride over channels). The M =
// N*H*W values of channel c are walked by a flat index j in [0, M): plane n = j / HW, offset
// i = j % HW, address (n*C + c)*HW + i, so neighbouring threads read neighbouring addresses within
// a plane. Each thread sums its strided share sequentially, then smx::block_sum combines the
// partials with a fixed shuffle tree (kernels/softmax_reduce.cuh): the same bits on every run, no
// atomics. A channel's statistics never leave the block, so forward-train is one kernel that
// makes three passes (mean, variance of deviations, write y), and backward is one kernel with two
// passes (sum dy and sum dy x_hat together, then dx).
// Versus the CPU twin: float accumulators in a tree instead of double accumulators in sequence, so
// results agree to rounding (the parity test states the tolerances); the formulas are the same.
// The eval forward is elementwise: one thread per element, grid-stride.
#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/cuda_common.cuh"
#include "kernels/softmax_reduce.cuh"

namespace fer::cuda {

namespace {

constexpr int kThreads = 512;  // per channel block; a multiple of 32 (smx::block_sum)

// Address of the j-th value (0 <= j < M) of channel c.
__device__ __forceinline__ int64_t bn_index(const BatchNormDims& d, int64_t hw, int64_t c, int64_t j) {
  return ((j / hw) * d.c + c) * hw + j % hw;
}

unsigned channel_grid(int64_t c) {
  return static_cast<unsigned>(c < 65535 ? c : 65535);
}

__global__ void bn_forward_train_kernel(BatchNormDims d, const float* x, const float* gamma, const float* beta,
                                        float eps, float momentum, float unbias, float* running_mean,
                                        float* running_var, float* y, float* save_mean, float* save_invstd) {
  __shared__ float scratch[32];
  const int64_t hw = d.hw(), M = d.m();
  for (int64_t c = blockIdx.x; c < d.c; c += gridDim.x) {  // uniform across the block
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) s += x[bn_index(d, hw, c, j)];
    const float mean = smx::block_sum(s, scratch) / float(M);
    float q = 0.f;  // second pass: squared deviations from the mean
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const float t = x[bn_index(d, hw, c, j)] - mean;
      q += t * t;
    }
    const float var = smx::block_sum(q, scratch) / float(M);
    const float invstd = 1.f / sqrtf(var + eps);
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const int64_t k = bn_index(d, hw, c, j);
      y[k] = (x[k] - mean) * invstd * g + b;
    }
    if (threadIdx.x == 0) {
      save_mean[c] = mean;
      save_invstd[c] = invstd;
      if (running_mean) {  // unbias = M/(M-1): the running variance tracks the unbiased estimate
        running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.f - momentum) * running_var[c] + momentum * var * unbias;
      }
    }
  }
}

__global__ void bn_forward_eval_kernel(BatchNormDims d, const float* x, const float* gamma, const float* beta,
                                       const float* running_mean, const float* running_var, float eps, float* y) {
  const int64_t hw = d.hw();
  FER_CUDA_KERNEL_LOOP(k, d.size()) {
    const int64_t c = (k / hw) % d.c;
    const float rinv = 1.f / sqrtf(running_var[c] + eps);
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    y[k] = (x[k] - running_mean[c]) * rinv * g + b;
  }
}

// Shared by train and eval backward: mean/invstd are the batch statistics (train) or the running
// ones (eval); `train` selects the dx formula.
__global__ void bn_backward_kernel(BatchNormDims d, const float* x, const float* dy, const float* gamma,
                                   const float* mean_in, const float* var_or_invstd, bool train, float eps, float* dx,
                                   float* dgamma, float* dbeta) {
  __shared__ float scratch[32];
  const int64_t hw = d.hw(), M = d.m();
  for (int64_t c = blockIdx.x; c < d.c; c += gridDim.x) {
    const float mean = mean_in[c];
    const float invstd = train ? var_or_invstd[c] : 1.f / sqrtf(var_or_invstd[c] + eps);
    float sdy = 0.f, sdyx = 0.f;
    if (train || dgamma || dbeta) {  // uniform across the block (kernel arguments)
      for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t k = bn_index(d, hw, c, j);
        sdy += dy[k];
        sdyx += dy[k] * ((x[k] - mean) * invstd);
      }
      sdy = smx::block_sum(sdy, scratch);
      sdyx = smx::block_sum(sdyx, scratch);
      if (threadIdx.x == 0) {
        if (dbeta) dbeta[c] = sdy;
        if (dgamma) dgamma[c] = sdyx;
      }
    }
    if (!dx) continue;
    const float kk = (gamma ? gamma[c] : 1.f) * invstd;
    if (train) {  // dx = gamma invstd (dy - sum dy / M - x_hat sum(dy x_hat) / M)
      const float mdy = sdy / float(M), mdyx = sdyx / float(M);
      for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t k = bn_index(d, hw, c, j);
        const float xh = (x[k] - mean) * invstd;
        dx[k] = kk * (dy[k] - mdy - xh * mdyx);
      }
    } else {  // eval: constant statistics
      for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t k = bn_index(d, hw, c, j);
        dx[k] = kk * dy[k];
      }
    }
  }
}

}  // namespace

void batchnorm2d_forward_train(const BatchNormDims& d, const float* x, const float* gamma, const float* beta,
                               double eps, double momentum, float* running_mean, float* running_var, float* y,
                               float* save_mean, float* save_invstd, cuda_stream stream) {
  const char* op = "cuda::batchnorm2d_forward_train";
  check_batchnorm(op, d, true);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr,
            op << ": save_mean and save_invstd are required in training (the backward reads them)");
  FER_CHECK((running_mean == nullptr) == (running_var == nullptr),
            op << ": pass both running_mean and running_var, or neither");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  const float unbias = static_cast<float>(double(d.m()) / double(d.m() - 1));
  bn_forward_train_kernel<<<channel_grid(d.c), kThreads, 0, to_cuda(stream)>>>(
      d, x, gamma, beta, float(eps), float(momentum), unbias, running_mean, running_var, y, save_mean, save_invstd);
  FER_LAUNCH_CHECK();
}

void batchnorm2d_forward_eval(const BatchNormDims& d, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, double eps, float* y,
                              cuda_stream stream) {
  const char* op = "cuda::batchnorm2d_forward_eval";
  check_batchnorm(op, d, false);
  FER_CHECK(running_mean != nullptr && running_var != nullptr, op << ": eval mode needs running_mean and running_var");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  bn_forward_eval_kernel<<<grid_for(d.size()), kBlock, 0, to_cuda(stream)>>>(d, x, gamma, beta, running_mean,
                                                                             running_var, float(eps), y);
  FER_LAUNCH_CHECK();
}

void batchnorm2d_backward_train(const BatchNormDims& d, const float* x, const float* dy, const float* gamma,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, cuda_stream stream) {
  const char* op = "cuda::batchnorm2d_backward_train";
  check_batchnorm(op, d, true);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  if (!dx && !dgamma && !dbeta) return;
  bn_backward_kernel<<<channel_grid(d.c), kThreads, 0, to_cuda(stream)>>>(d, x, dy, gamma, save_mean, save_invstd, true,
                                                                          0.f, dx, dgamma, dbeta);
  FER_LAUNCH_CHECK();
}

void batchnorm2d_backward_eval(const BatchNormDims& d, const float* x, const float* dy, const float* gamma,
                               const float* running_mean, const float* running_var, double eps, float* dx,
                               float* dgamma, float* dbeta, cuda_stream stream) {
  const char* op = "cuda::batchnorm2d_backward_eval";
  check_batchnorm(op, d, false);
  FER_CHECK(running_mean != nullptr && running_var != nullptr, op << ": eval mode needs running_mean and running_var");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  if (!dx && !dgamma && !dbeta) return;
  bn_backward_kernel<<<channel_grid(d.c), kThreads, 0, to_cuda(stream)>>>(d, x, dy, gamma, running_mean, running_var,
                                                                          false, float(eps), dx, dgamma, dbeta);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
