// kernels/layernorm.h: layer normalisation over the last dimension, forward and backward.
//
// Shapes (row-major, contiguous): x, y, dy, dx [rows, D]; gamma, beta, dgamma, dbeta [D];
// save_mean, save_invstd [rows]. Every row is normalised on its own (same in training and eval).
//
//   forward   mean_r = (1/D) sum_j x_rj       var_r = (1/D) sum_j (x_rj - mean_r)^2   (biased, two-pass)
//             invstd_r = 1/sqrt(var_r + eps)  x_hat = (x - mean_r) invstd_r   y_rj = gamma_j x_hat_rj + beta_j
//   backward  dy_hat_rj = gamma_j dy_rj  (sums over the D values of row r)
//             dx_rj = invstd_r/D (D dy_hat_rj - sum_k dy_hat_rk - x_hat_rj sum_k dy_hat_rk x_hat_rk)
//             dgamma_j = sum_r dy_rj x_hat_rj     dbeta_j = sum_r dy_rj      (sums over rows)
// It is batch norm's formula with the roles of the axes swapped (statistics per row, affine
// parameters per column); derivation in kernels/notes/batchnorm.md section 5.
//
// Nullable pointers: gamma / beta null mean 1 / 0; dx / dgamma / dbeta null mean "not needed".
// save_mean / save_invstd are required. Every output is written (=), never accumulated.
// CPU: double accumulators, OpenMP over rows (forward, dx) and over column blocks (dgamma, dbeta).
// CUDA: one block per row with a fixed shuffle tree; dgamma/dbeta with one thread column per j and a
// fixed shared-memory tree over 16 row lanes. Deterministic, no atomics.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace fer {

struct LayerNormDims {
  int64_t rows = 1, dim = 1;
};

// Throws fer::Error (naming `op`) unless rows >= 1 and dim >= 1. Called by both backends.
void check_layernorm(const char* op, const LayerNormDims& d);

namespace cpu {
// y =, save_mean =, save_invstd =.
template <typename T>
void layernorm_forward(const LayerNormDims& d, const T* x, const T* gamma, const T* beta, double eps, T* y,
                       T* save_mean, T* save_invstd);
// dx =, dgamma =, dbeta = (each may be null).
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
