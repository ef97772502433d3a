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

template <typename T>
void activation_forward(Activation a, int64_t n, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = act::forward(a, x[i]);
}

template <typename T>
void activation_backward(Activation a, int64_t n, const T* x, const T* y, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dx[i] = act::backward(a, x[i], y[i], dy[i]);
}

template void activation_forward<float>(Activation, int64_t, const float*, float*);
template void activation_forward<double>(Activation, int64_t, const double*, double*);
template void activation_backward<float>(Activation, int64_t, const float*, const float*, const float*, float*);
template void activation_backward<double>(Activation, int64_t, const double*, const double*, const double*,
                                          double*);

}  // namespace cpu
}  // namespace fer
