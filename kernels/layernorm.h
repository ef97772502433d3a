// kernels/layernorm.h: layer normalisation over the last dimension, forward and backward.
//
// x [rows, D]: per row r   mu_r = (1/D) sum_j x_rj,  var_r = (1/D) sum_j (x_rj - mu_r)^2 (biased)
//              invstd_r = 1 / sqrt(var_r + eps),  xhat = (x - mu_r) invstd_r,  y = gamma_j xhat + beta_j
// Backward, with g = dy * gamma (per element):
//   dx_rj = invstd_r / D * (D g_rj - sum_j g_rj - xhat_rj sum_j g_rj xhat_rj)
//   dgamma_j = sum_r dy_rj xhat_rj,   dbeta_j = sum_r dy_rj
// gamma/beta null = 1/0. save_mean/save_invstd [rows] are written by the forward. dx, dgamma, dbeta
// may each be null. Outputs are written (=). Sums in double, fixed order (CUDA: one block per row
// with a fixed tree; dgamma/dbeta one thread per column summing rows in order): deterministic.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace fer {

struct LayerNormDims {
  int64_t rows = 1, dim = 1;
};

void check_layernorm(const char* op, const LayerNormDims& d);

namespace cpu {
template <typename T>
void layernorm_forward(const LayerNormDims& d, const T* x, const T* gamma, const T* beta, double eps, T* y,
                       T* save_mean, T* save_invstd);
template <typename T>
void layernorm_backward(const LayerNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta);
}  // namespace cpu

namespace cuda {
void layernorm_forward(const LayerNormDims& d, const float* x, const float* gamma, const float* beta, double eps,
                       float* y, float* save_mean, float* save_invstd, cuda_stream stream);
void layernorm_backward(const LayerNormDims& d, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                        cuda_stream stream);
}  // namespace cuda

}  // namespace fer
