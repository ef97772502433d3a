// kernels/activation.h: pointwise activations, forward and backward.
//
//   relu     y = max(x, 0)                  dy/dx = [x > 0]
//   sigmoid  y = 1 / (1 + e^-x)             dy/dx = y (1 - y)
//   silu     y = x * sigmoid(x)             dy/dx = s + x s (1 - s),      s = sigmoid(x)
//   gelu     y = x * Phi(x) (erf form)      dy/dx = Phi(x) + x phi(x),    Phi(x) = (1 + erf(x/sqrt2))/2
//
// Shapes: any; n elements, contiguous. forward writes y (=); backward writes dx (=) from x, y, dy
// (either x or y may be the one the formula needs; both are passed so every activation has the
// same signature). In-place (y == x, dx == dy) is allowed.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

enum class Activation { relu, sigmoid, silu, gelu };

const char* activation_name(Activation a);

namespace act {
// Per-element formulas shared by the CPU twin and the CUDA kernel.
using std::erf;
using std::exp;
template <typename T>
FER_HD T sigmoid(T x) {
  return T(1) / (T(1) + exp(-x));
}
template <typename T>
FER_HD T forward(Activation a, T x) {
  switch (a) {
    case Activation::relu: return x > T(0) ? x : T(0);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::silu: return x * sigmoid(x);
    default: return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
  }
}
template <typename T>
FER_HD T backward(Activation a, T x, T y, T dy) {
  switch (a) {
    case Activation::relu: return x > T(0) ? dy : T(0);
    case Activation::sigmoid: return dy * y * (T(1) - y);
    case Activation::silu: {
      const T s = sigmoid(x);
      return dy * (s + x * s * (T(1) - s));
    }
    default: {
      const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
      const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
      return dy * (cdf + x * pdf);
    }
  }
}
}  // namespace act

namespace cpu {
template <typename T>
void activation_forward(Activation a, int64_t n, const T* x, T* y);
template <typename T>
void activation_backward(Activation a, int64_t n, const T* x, const T* y, const T* dy, T* dx);
}  // namespace cpu

namespace cuda {
void activation_forward(Activation a, int64_t n, const float* x, float* y, cuda_stream stream);
void activation_backward(Activation a, int64_t n, const float* x, const float* y, const float* dy, float* dx,
                         cuda_stream stream);
}  // namespace cuda

}  // namespace fer
