// kernels/softmax.h: softmax and log-softmax along one axis of a contiguous tensor.
//
//   softmax      y_k = exp(x_k - m) / sum_j exp(x_j - m),   m = max_j x_j  (stable form; m cancels)
//   log_softmax  y_k = (x_k - m) - log sum_j exp(x_j - m)   (x_k - m first: exact for large m)
//   backward (J = dy/dx is diag(y) - y y^T for softmax, I - 1 softmax^T for log_softmax):
//     softmax      dx_k = y_k (dy_k - sum_j dy_j y_j)
//     log_softmax  dx_k = dy_k - exp(y_k) sum_j dy_j
//
// Layout: the tensor is viewed as (outer, dim, inner), contiguous; element (o, k, i) sits at
//   o*dim*inner + k*inner + i, and the softmax runs over k for every (o, i). Examples:
//     class softmax  [N,K]        outer=N,       dim=K, inner=1
//     channel softmax NCHW        outer=N,       dim=C, inner=H*W   (the RMN mask)
//     attention, last dim [B,T,T] outer=B*T,     dim=T, inner=1
//
// Semantics: forward writes y (=); backward writes dx (=) from the forward OUTPUT y and dy (the
// input x is not needed). In-place is allowed (y == x; dx == dy). A row of all -inf gives NaN
// (as in PyTorch); NaN in a row propagates to the whole row.
//
// CPU: tiles of up to 64 consecutive i for one o, three passes over k (max, sum, write) that run
// contiguously over i; OpenMP over the tiles. CUDA: inner == 1 -> one warp per row with shuffle
// reductions; inner > 1 -> one thread per (o, i) looping over k, so neighbouring threads read
// neighbouring addresses (coalesced). Both are deterministic (fixed reduction order).
// Derivations: kernels/notes/softmax.md.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace fer {

// Shared argument validator (CPU and CUDA entry points): sizes >= 0, dim >= 1 when there is
// anything to do. `op` names the caller in the message.
void check_softmax_args(const char* op, int64_t outer, int64_t dim, int64_t inner);

namespace cpu {

template <typename T>
void softmax_forward(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y);
template <typename T>
void softmax_backward(int64_t outer, int64_t dim, int64_t inner, const T* y, const T* dy, T* dx);
template <typename T>
void log_softmax_forward(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y);
template <typename T>
void log_softmax_backward(int64_t outer, int64_t dim, int64_t inner, const T* y, const T* dy, T* dx);

}  // namespace cpu

namespace cuda {

void softmax_forward(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream);
void softmax_backward(int64_t outer, int64_t dim, int64_t inner, const float* y, const float* dy, float* dx,
                      cuda_stream stream);
void log_softmax_forward(int64_t outer, int64_t dim, int64_t inner, const float* x, float* y, cuda_stream stream);
void log_softmax_backward(int64_t outer, int64_t dim, int64_t inner, const float* y, const float* dy, float* dx,
                          cuda_stream stream);

}  // namespace cuda

}  // namespace fer
