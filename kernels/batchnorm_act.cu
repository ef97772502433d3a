// kernels/batchnorm_act.cu: batch normalisation fused with an activation on the GPU (see
// batchnorm_act.h for the math, kernels/notes/batchnorm_act.md for the derivation).
//
// Parallelization exactly as kernels/batchnorm.cu: one block of kThreads threads per channel
// (grid-stride over channels), the channel's M = N*H*W values walked by a flat index j (plane
// j / HW, offset j % HW), per-thread sequential partial sums combined by smx::block_sum's fixed
// shuffle tree: deterministic, no atomics.
//   forward train  one kernel, three passes (mean, variance of deviations, y = act(z)); z lives
//                  only in a register.
//   forward eval   elementwise, one thread per element, grid-stride.
//   backward       one kernel per call. Pass 1 recomputes z from x and the statistics, forms
//                  dz = act'(z) dy, parks it in dx (the same thread later reads the same element,
//                  so no synchronisation is needed) and sums dz and dz x_hat; pass 2 turns dz into
//                  dx in place (training). Eval: dx = gamma rinv dz is written in pass 1, and the
//                  sums run only when dgamma / dbeta are wanted.
// Versus the CPU twin: float accumulators in a tree instead of double accumulators in sequence, and
// the device's exp for silu/sigmoid: agreement to rounding (tests/cuda/test_batchnorm_act_parity.cpp).
#include <cmath>

#include "kernels/batchnorm_act.h"
#include "kernels/cuda_common.cuh"
#include "kernels/softmax_reduce.cuh"

namespace fer::cuda {

namespace {

constexpr int kThreads = 512;  // per channel block; a multiple of 32 (smx::block_sum)

__device__ __forceinline__ int64_t bn_index(const BatchNormDims& d, int64_t hw, int64_t c, int64_t j) {
  return ((j / hw) * d.c + c) * hw + j % hw;
}

unsigned channel_grid(int64_t c) {
  return static_cast<unsigned>(c < 65535 ? c : 65535);
}

// dz = act'(z) dy; only the sigmoid derivative reads y = act(z).
__device__ __forceinline__ float act_grad(Activation a, float z, float dy) {
  const float y = a == Activation::sigmoid ? act::forward(a, z) : 0.f;
  return act::backward(a, z, y, dy);
}

__global__ void bna_forward_train_kernel(BatchNormDims d, Activation a, const float* x, const float* gamma,
                                         const float* beta, float eps, float momentum, float unbias,
                                         float* running_mean, float* running_var, float* y, float* save_mean,
                                         float* save_invstd) {
  __shared__ float scratch[32];
  const int64_t hw = d.hw(), M = d.m();
  for (int64_t c = blockIdx.x; c < d.c; c += gridDim.x) {  // uniform across the block
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) s += x[bn_index(d, hw, c, j)];
    const float mean = smx::block_sum(s, scratch) / float(M);
    float q = 0.f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const float t = x[bn_index(d, hw, c, j)] - mean;
      q += t * t;
    }
    const float var = smx::block_sum(q, scratch) / float(M);
    const float invstd = 1.f / sqrtf(var + eps);
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const int64_t k = bn_index(d, hw, c, j);
      y[k] = act::forward(a, (x[k] - mean) * invstd * g + b);
    }
    if (threadIdx.x == 0) {
      save_mean[c] = mean;
      save_invstd[c] = invstd;
      if (running_mean) {
        running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.f - momentum) * running_var[c] + momentum * var * unbias;
      }
    }
  }
}

__global__ void bna_forward_eval_kernel(BatchNormDims d, Activation a, const float* x, const float* gamma,
                                        const float* beta, const float* running_mean, const float* running_var,
                                        float eps, float* y) {
  const int64_t hw = d.hw();
  FER_CUDA_KERNEL_LOOP(k, d.size()) {
    const int64_t c = (k / hw) % d.c;
    const float rinv = 1.f / sqrtf(running_var[c] + eps);
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    y[k] = act::forward(a, (x[k] - running_mean[c]) * rinv * g + b);
  }
}

// Shared by train and eval: mean/var_or_invstd are the batch statistics (train: save_mean,
// save_invstd) or the running ones (eval: running_mean, running_var).
__global__ void bna_backward_kernel(BatchNormDims d, Activation a, const float* x, const float* dy, const float* gamma,
                                    const float* beta, const float* mean_in, const float* var_or_invstd, bool train,
                                    float eps, float* dx, float* dgamma, float* dbeta) {
  __shared__ float scratch[32];
  const int64_t hw = d.hw(), M = d.m();
  for (int64_t c = blockIdx.x; c < d.c; c += gridDim.x) {
    const float mean = mean_in[c];
    const float invstd = train ? var_or_invstd[c] : 1.f / sqrtf(var_or_invstd[c] + eps);
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    const float kk = g * invstd;
    const bool sums = train || dgamma || dbeta;  // uniform across the block (kernel arguments)
    float sdz = 0.f, sdzx = 0.f;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const int64_t k = bn_index(d, hw, c, j);
      const float xh = (x[k] - mean) * invstd;
      const float dz = act_grad(a, xh * g + b, dy[k]);
      if (dx) dx[k] = train ? dz : kk * dz;  // train: parked for pass 2
      sdz += dz;
      sdzx += dz * xh;
    }
    if (sums) {
      sdz = smx::block_sum(sdz, scratch);
      sdzx = smx::block_sum(sdzx, scratch);
      if (threadIdx.x == 0) {
        if (dbeta) dbeta[c] = sdz;
        if (dgamma) dgamma[c] = sdzx;
      }
    }
    if (!dx || !train) continue;
    // dx = gamma invstd (dz - sum dz / M - x_hat sum(dz x_hat) / M), in place over the parked dz
    const float mdz = sdz / float(M), mdzx = sdzx / float(M);
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const int64_t k = bn_index(d, hw, c, j);
      const float xh = (x[k] - mean) * invstd;
      dx[k] = kk * (dx[k] - mdz - xh * mdzx);
    }
  }
}

}  // namespace

void batchnorm_act_forward_train(const BatchNormDims& d, Activation a, const float* x, const float* gamma,
                                 const float* beta, double eps, double momentum, float* running_mean,
                                 float* running_var, float* y, float* save_mean, float* save_invstd,
                                 cuda_stream stream) {
  const char* op = "cuda::batchnorm_act_forward_train";
  check_batchnorm(op, d, true);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr,
            op << ": save_mean and save_invstd are required in training (the backward reads them)");
  FER_CHECK((running_mean == nullptr) == (running_var == nullptr),
            op << ": pass both running_mean and running_var, or neither");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  const float unbias = static_cast<float>(double(d.m()) / double(d.m() - 1));
  bna_forward_train_kernel<<<channel_grid(d.c), kThreads, 0, to_cuda(stream)>>>(
      d, a, x, gamma, beta, float(eps), float(momentum), unbias, running_mean, running_var, y, save_mean, save_invstd);
  FER_LAUNCH_CHECK();
}

void batchnorm_act_forward_eval(const BatchNormDims& d, Activation a, const float* x, const float* gamma,
                                const float* beta, const float* running_mean, const float* running_var, double eps,
                                float* y, cuda_stream stream) {
  const char* op = "cuda::batchnorm_act_forward_eval";
  check_batchnorm(op, d, false);
  FER_CHECK(running_mean != nullptr && running_var != nullptr, op << ": eval mode needs running_mean and running_var");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  bna_forward_eval_kernel<<<grid_for(d.size()), kBlock, 0, to_cuda(stream)>>>(d, a, x, gamma, beta, running_mean,
                                                                               running_var, float(eps), y);
  FER_LAUNCH_CHECK();
}

void batchnorm_act_backward_train(const BatchNormDims& d, Activation a, const float* x, const float* dy,
                                  const float* gamma, const float* beta, const float* save_mean,
                                  const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                                  cuda_stream stream) {
  const char* op = "cuda::batchnorm_act_backward_train";
  check_batchnorm(op, d, true);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  if (!dx && !dgamma && !dbeta) return;
  bna_backward_kernel<<<channel_grid(d.c), kThreads, 0, to_cuda(stream)>>>(d, a, x, dy, gamma, beta, save_mean,
                                                                           save_invstd, true, 0.f, dx, dgamma, dbeta);
  FER_LAUNCH_CHECK();
}

void batchnorm_act_backward_eval(const BatchNormDims& d, Activation a, const float* x, const float* dy,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, double eps, float* dx, float* dgamma, float* dbeta,
                                 cuda_stream stream) {
  const char* op = "cuda::batchnorm_act_backward_eval";
  check_batchnorm(op, d, false);
  FER_CHECK(running_mean != nullptr && running_var != nullptr, op << ": eval mode needs running_mean and running_var");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  if (!dx && !dgamma && !dbeta) return;
  bna_backward_kernel<<<channel_grid(d.c), kThreads, 0, to_cuda(stream)>>>(
      d, a, x, dy, gamma, beta, running_mean, running_var, false, float(eps), dx, dgamma, dbeta);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
