// kernels/batchnorm.h: batch normalisation over (N, H, W) per channel, forward and backward.
//
// x [N, C, H, W] (a [N, C] input is H = W = 1), M = N*H*W values per channel c:
//   training   mu_c = (1/M) sum x,   var_c = (1/M) sum (x - mu_c)^2   (biased; two passes)
//              invstd_c = 1 / sqrt(var_c + eps),   xhat = (x - mu_c) * invstd_c
//              y = gamma_c * xhat + beta_c
//              running_mean = (1 - momentum) running_mean + momentum mu_c
//              running_var  = (1 - momentum) running_var  + momentum var_c * M / (M - 1)   (unbiased)
//   eval       y = gamma_c * (x - running_mean_c) / sqrt(running_var_c + eps) + beta_c
// Backward (training; mu and invstd depend on x):
//   dbeta_c  = sum dy,   dgamma_c = sum dy * xhat
//   dx = gamma_c * invstd_c / M * (M dy - dbeta_c - xhat * dgamma_c)
// Backward (eval; statistics are constants):  dx = dy * gamma_c * invstd_c, same dgamma/dbeta.
// gamma/beta null = 1/0 (affine=False); running_mean/var null = not tracked; save_mean/save_invstd
// [C] are written by the training forward for the backward. dx, dgamma, dbeta may each be null.
// Training with M == 1 is an error (the variance of one value is 0; PyTorch refuses it too).
// Every output is written (=). Statistics are accumulated in double on both backends, in a fixed
// order (CUDA: one block per channel, fixed shared-memory tree), so results are deterministic.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace fer {

struct BatchNormDims {
  int64_t n = 1, c = 1, h = 1, w = 1;
  int64_t spatial() const { return h * w; }
  int64_t m() const { return n * h * w; }  // values per channel
};

// Throws fer::Error naming `op` for bad sizes, or M == 1 in training.
void check_batchnorm(const char* op, const BatchNormDims& d, bool training);

namespace cpu {
template <typename T>
void batchnorm2d_forward_train(const BatchNormDims& d, const T* x, const T* gamma, const T* beta, double eps,
                               double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd);
template <typename T>
void batchnorm2d_forward_eval(const BatchNormDims& d, const T* x, const T* gamma, const T* beta,
                              const T* running_mean, const T* running_var, double eps, T* y);
template <typename T>
void batchnorm2d_backward_train(const BatchNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                                const T* save_invstd, T* dx, T* dgamma, T* dbeta);
template <typename T>
void batchnorm2d_backward_eval(const BatchNormDims& d, const T* x, const T* dy, const T* gamma,
                               const T* running_mean, const T* running_var, double eps, T* dx, T* dgamma, T* dbeta);
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
