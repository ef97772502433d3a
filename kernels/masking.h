// kernels/masking.h: the Residual Masking Network's masking block, fused.
//
//   x [N,C,H,W] trunk features, z [N,C,H,W] mask logits (the mask branch's output), NCHW.
//   softmax kind: M_(n,c,p) = exp(z_(n,c,p)) / sum_c' exp(z_(n,c',p))   (over channels, per pixel p)
//   sigmoid kind: M = 1 / (1 + exp(-z))                                  (elementwise)
//   y = x * (1 + M)
// Backward (g = dy * x is the gradient reaching M):
//   dx = dy * (1 + M)
//   softmax: dz_c = M_c (g_c - sum_c' g_c' M_c')     (softmax Jacobian, per pixel)
//   sigmoid: dz   = g M (1 - M)
// Shapes: n = N, c = C, hw = H*W; element (n, c, p) at n*C*HW + c*HW + p.
// Semantics: forward writes y (=) and, when m_out != nullptr, the mask M (=). backward writes dx
// and dz (=); either may be nullptr to skip it. The backward recomputes M from z (cheaper than
// storing it: one more pass over z instead of an [N,C,H,W] buffer). y may alias x; the backward's
// outputs must not alias its inputs.
//
// CPU: tiles of up to 64 pixels, loops over channels contiguous over pixels (as softmax_cpu).
// CUDA: softmax kind -> one thread per (n, p) looping over C (coalesced over p); sigmoid kind ->
// one thread per element. Deterministic. Derivation: kernels/notes/masking.md.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace fer {

enum class MaskKind { softmax, sigmoid };

const char* mask_kind_name(MaskKind kind);

// Shared argument validator (CPU and CUDA entry points).
void check_masking_args(const char* op, int64_t n, int64_t c, int64_t hw);

namespace cpu {

template <typename T>
void masking_forward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const T* x, const T* z, T* y, T* m_out);
template <typename T>
void masking_backward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const T* x, const T* z, const T* dy, T* dx,
                      T* dz);

}  // namespace cpu

namespace cuda {

void masking_forward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const float* x, const float* z, float* y,
                     float* m_out, cuda_stream stream);
void masking_backward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const float* x, const float* z,
                      const float* dy, float* dx, float* dz, cuda_stream stream);

}  // namespace cuda

}  // namespace fer
