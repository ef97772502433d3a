// kernels/activation_cpu.cpp: CPU twin of the pointwise activations (see activation.h).
#include "kernels/activation.h"

namespace fer {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::silu: return "silu";
    case Activation::gelu: return "gelu";
  }
  return "?";
}

namespace cpu {

namespace {
// One loop per activation: with the kind a compile-time constant the switch in act::forward folds
// away and the loop vectorises (a per-element switch kept ReLU an order of magnitude slower).
template <Activation A, typename T>
void forward_loop(int64_t n, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = act::forward(A, x[i]);
}

template <Activation A, typename T>
void backward_loop(int64_t n, const T* x, const T* y, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dx[i] = act::backward(A, x[i], y[i], dy[i]);
}
}  // namespace

template <typename T>
void activation_forward(Activation a, int64_t n, const T* x, T* y) {
  switch (a) {
    case Activation::relu: return forward_loop<Activation::relu>(n, x, y);
    case Activation::sigmoid: return forward_loop<Activation::sigmoid>(n, x, y);
    case Activation::silu: return forward_loop<Activation::silu>(n, x, y);
    case Activation::gelu: return forward_loop<Activation::gelu>(n, x, y);
  }
}

template <typename T>
void activation_backward(Activation a, int64_t n, const T* x, const T* y, const T* dy, T* dx) {
  switch (a) {
    case Activation::relu: return backward_loop<Activation::relu>(n, x, y, dy, dx);
    case Activation::sigmoid: return backward_loop<Activation::sigmoid>(n, x, y, dy, dx);
    case Activation::silu: return backward_loop<Activation::silu>(n, x, y, dy, dx);
    case Activation::gelu: return backward_loop<Activation::gelu>(n, x, y, dy, dx);
  }
}

template void activation_forward<float>(Activation, int64_t, const float*, float*);
template void activation_forward<double>(Activation, int64_t, const double*, double*);
template void activation_backward<float>(Activation, int64_t, const float*, const float*, const float*, float*);
template void activation_backward<double>(Activation, int64_t, const double*, const double*, const double*,
                                          double*);

}  // namespace cpu
}  // namespace fer
