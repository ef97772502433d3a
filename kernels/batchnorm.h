// kernels/batchnorm.h: 2-D batch normalisation (per channel over N, H, W), forward and backward.
//
// Shapes (NCHW, contiguous): x, y, dy, dx [N,C,H,W] ([N,C] is H = W = 1); gamma, beta, running
// stats, save_mean, save_invstd, dgamma, dbeta [C]. M = N*H*W values per channel.
//
//   training  mean_c = (1/M) sum x            var_c = (1/M) sum (x - mean_c)^2   (biased, two-pass)
//             invstd_c = 1/sqrt(var_c + eps)  x_hat = (x - mean_c) invstd_c     y = gamma_c x_hat + beta_c
//             running_mean = (1-momentum) running_mean + momentum mean_c
//             running_var  = (1-momentum) running_var  + momentum var_c M/(M-1)   (UNBIASED, PyTorch)
//   eval      y = gamma_c (x - running_mean_c) / sqrt(running_var_c + eps) + beta_c
//   backward (dy_hat = gamma dy; sums over the M values of channel c):
//     training  dbeta = sum dy    dgamma = sum dy x_hat
//               dx = invstd/M (M dy_hat - sum dy_hat - x_hat sum dy_hat x_hat)
//                  = gamma invstd (dy - dbeta/M - x_hat dgamma/M)     (the form both backends evaluate)
//     eval      dbeta = sum dy    dgamma = sum dy x_hat (x_hat from the running stats)
//               dx = gamma dy / sqrt(running_var + eps)               (the statistics are constants)
// Derivation: kernels/notes/batchnorm.md.
//
// Nullable pointers: gamma / beta null mean 1 / 0 (affine = false); running_mean / running_var null
// in training mean "do not track" (both or neither); dx / dgamma / dbeta null mean "not needed".
// save_mean / save_invstd are required in training (the backward reads them).
// Semantics: every output is written (=), never accumulated; running stats are updated in place.
// Errors: M == 1 in training (the variance of one value is 0/0 in the unbiased update), as PyTorch's
// "Expected more than 1 value per channel when training".
// CPU: statistics in double accumulators, OpenMP over channels. CUDA: one block per channel, fixed
// shuffle trees (kernels/softmax_reduce.cuh); deterministic, no atomics.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

struct BatchNormDims {
  int64_t n = 1, c = 1, h = 1, w = 1;
  FER_HD int64_t hw() const { return h * w; }
  FER_HD int64_t m() const { return n * h * w; }  // values per channel
  FER_HD int64_t size() const { return n * c * h * w; }
};

// Throws fer::Error (naming `op` and the shape) unless all sizes are >= 1, and, when `training`,
// M = N*H*W > 1. Called by the CPU and CUDA entry points alike.
void check_batchnorm(const char* op, const BatchNormDims& d, bool training);

namespace cpu {
// y =, save_mean =, save_invstd =; running_mean/var updated in place (when not null).
template <typename T>
void batchnorm2d_forward_train(const BatchNormDims& d, const T* x, const T* gamma, const T* beta, double eps,
                               double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd);
template <typename T>
void batchnorm2d_forward_eval(const BatchNormDims& d, const T* x, const T* gamma, const T* beta, const T* running_mean,
                              const T* running_var, double eps, T* y);
// dx =, dgamma =, dbeta = (each may be null).
template <typename T>
void batchnorm2d_backward_train(const BatchNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                                const T* save_invstd, T* dx, T* dgamma, T* dbeta);
template <typename T>
void batchnorm2d_backward_eval(const BatchNormDims& d, const T* x, const T* dy, const T* gamma, const T* running_mean,
                               const T* running_var, double eps, T* dx, T* dgamma, T* dbeta);
}  // namespace cpu

namespace cuda {
void batchnorm2d_forward_train(const BatchNormDims& d, const float* x, const float* gamma, const float* beta,
                               double eps, double momentum, float* running_mean, float* running_var, float* y,
                               float* save_mean, float* save_invstd, cuda_stream stream);
void batchnorm2d_forward_eval(const BatchNormDims& d, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, double eps, float* y,
                              cuda_stream stream);
void batchnorm2d_backward_train(const BatchNormDims& d, const float* x, const float* dy, const float* gamma,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, cuda_stream stream);
void batchnorm2d_backward_eval(const BatchNormDims& d, const float* x, const float* dy, const float* gamma,
                               const float* running_mean, const float* running_var, double eps, float* dx,
                               float* dgamma, float* dbeta, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
