// tensor/ops.h: differentiable tensor operations.
//
// Each op checks its arguments (naming the op, the shapes and a hint), picks the CPU or CUDA kernel
// from kernels/, and, when an input requires a gradient, records a node whose backward() sits next
// to the forward in the op's .cpp file (tensor/ops_<family>.cpp).
// CPU ops accept f32 and f64 (gradient checks); CUDA ops take f32.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "tensor/tensor.h"

namespace fer::ops {

// ---- activations (ops_activation.cpp) ---------------------------------------------------------
Tensor activation(const Tensor& x, Activation kind);
inline Tensor relu(const Tensor& x) { return activation(x, Activation::relu); }
inline Tensor sigmoid(const Tensor& x) { return activation(x, Activation::sigmoid); }
inline Tensor silu(const Tensor& x) { return activation(x, Activation::silu); }
inline Tensor gelu(const Tensor& x) { return activation(x, Activation::gelu); }

// ---- matrix products (ops_linear.cpp) -----------------------------------------------------------
// y[..., out] = x[..., in] · w[out, in]^T + b[out]   (b may be undefined)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// c[B, M, N] = a[B, M, K] · b[B, K, N]  (trans flags transpose the last two dims of a / b)
Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- shape (ops_shape.cpp) ----------------------------------------------------------------------
// reshape/flatten are Tensor methods (views with autograd).

}  // namespace fer::ops
