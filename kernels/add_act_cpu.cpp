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

template <typename T>
void add_act_forward(Activation act, int64_t n, const T* a, const T* b, T* y, T* sum) {
  add_act_check("add_act", act, n, a, b, y);
  if (sum != nullptr) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const T s = a[i] + b[i];
      sum[i] = s;
      y[i] = act::forward(act, s);
    }
  } else {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) y[i] = act::forward(act, a[i] + b[i]);
  }
}

template <typename T>
void add_act_backward(Activation act, int64_t n, const T* sum, const T* y, const T* dy, T* g) {
  add_act_backward_check("add_act backward", act, n, sum, y, dy, g);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) g[i] = add_act_math::grad(act, sum != nullptr ? sum[i] : T(0), y[i], dy[i]);
}

template void add_act_forward<float>(Activation, int64_t, const float*, const float*, float*, float*);
template void add_act_forward<double>(Activation, int64_t, const double*, const double*, double*, double*);
template void add_act_backward<float>(Activation, int64_t, const float*, const float*, const float*, float*);
template void add_act_backward<double>(Activation, int64_t, const double*, const double*, const double*, double*);

}  // namespace cpu
}  // namespace fer
