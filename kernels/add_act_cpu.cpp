// kernels/add_act_cpu.cpp: CPU twin of the fused residual add + activation (see add_act.h).
#include "kernels/add_act.h"

namespace fer {

void add_act_check(const char* op, Activation act, int64_t n, const void* a, const void* b, const void* y) {
  FER_CHECK(n >= 0, op << ": negative element count " << n);
  FER_CHECK(n == 0 || (a != nullptr && b != nullptr && y != nullptr),
            op << " (" << activation_name(act) << "): null input or output pointer for " << n << " elements");
}

void add_act_backward_check(const char* op, Activation act, int64_t n, const void* sum, const void* y,
                            const void* dy, const void* g) {
  FER_CHECK(n >= 0, op << ": negative element count " << n);
  FER_CHECK(n == 0 || (y != nullptr && dy != nullptr && g != nullptr),
            op << " (" << activation_name(act) << "): null y, dy or g pointer for " << n << " elements");
  FER_CHECK(n == 0 || sum != nullptr || !add_act_needs_sum(act),
            op << ": " << activation_name(act) << "'s derivative needs the pre-activation a + b, got no sum; hint: "
               << "pass the sum the forward wrote (add_act_needs_sum)");
}

namespace cpu {

namespace {
// The loops are instantiated per activation so that the body has no switch and vectorises.
template <Activation A, typename T>
void forward_loop(int64_t n, const T* a, const T* b, T* y, T* sum) {
  if (sum != nullptr) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const T s = a[i] + b[i];
      sum[i] = s;
      y[i] = act::forward(A, s);
    }
  } else {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) y[i] = act::forward(A, a[i] + b[i]);
  }
}

template <Activation A, typename T>
void backward_loop(int64_t n, const T* sum, const T* y, const T* dy, T* g) {
  if (sum != nullptr) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) g[i] = add_act_math::grad(A, sum[i], y[i], dy[i]);
  } else {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) g[i] = add_act_math::grad(A, T(0), y[i], dy[i]);
  }
}
}  // namespace

template <typename T>
void add_act_forward(Activation act, int64_t n, const T* a, const T* b, T* y, T* sum) {
  add_act_check("add_act", act, n, a, b, y);
  switch (act) {
    case Activation::relu: return forward_loop<Activation::relu>(n, a, b, y, sum);
    case Activation::sigmoid: return forward_loop<Activation::sigmoid>(n, a, b, y, sum);
    case Activation::silu: return forward_loop<Activation::silu>(n, a, b, y, sum);
    case Activation::gelu: return forward_loop<Activation::gelu>(n, a, b, y, sum);
  }
}

template <typename T>
void add_act_backward(Activation act, int64_t n, const T* sum, const T* y, const T* dy, T* g) {
  add_act_backward_check("add_act backward", act, n, sum, y, dy, g);
  switch (act) {
    case Activation::relu: return backward_loop<Activation::relu>(n, sum, y, dy, g);
    case Activation::sigmoid: return backward_loop<Activation::sigmoid>(n, sum, y, dy, g);
    case Activation::silu: return backward_loop<Activation::silu>(n, sum, y, dy, g);
    case Activation::gelu: return backward_loop<Activation::gelu>(n, sum, y, dy, g);
  }
}

template void add_act_forward<float>(Activation, int64_t, const float*, const float*, float*, float*);
template void add_act_forward<double>(Activation, int64_t, const double*, const double*, double*, double*);
template void add_act_backward<float>(Activation, int64_t, const float*, const float*, const float*, float*);
template void add_act_backward<double>(Activation, int64_t, const double*, const double*, const double*, double*);

}  // namespace cpu
}  // namespace fer
