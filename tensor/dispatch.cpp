// tensor/dispatch.cpp: small internal tensor arithmetic used by the autograd engine.
#include "tensor/dispatch.h"

namespace fer {

void axpy_inplace(Tensor& y, const Tensor& x, double alpha) {
  FER_CHECK(y.shape() == x.shape() && y.dtype() == x.dtype() && y.device() == x.device(),
            "axpy: " << describe(x) << " into " << describe(y));
  const int64_t n = y.numel();
  on_device(
      "axpy", y.device(),
      [&] {
        with_floating("axpy", y.dtype(), [&](auto tag) {
          using T = decltype(tag);
          T* py = y.data<T>();
          const T* px = x.data<T>();
          const T a = static_cast<T>(alpha);
          for (int64_t i = 0; i < n; ++i) py[i] += a * px[i];
        });
      },
      [&](cuda_stream) { FER_FAIL("axpy on CUDA: pending the elementwise kernels"); });
}

Tensor scale_by_scalar_tensor(const Tensor& g, const Tensor& s) {
  FER_CHECK(s.numel() == 1, "scale_by_scalar_tensor: the scale must have one element, got " << describe(s));
  if (s.device() == Device::cpu) {
    const double v = s.item();
    if (v == 1.0) return g;
    Tensor out = Tensor::zeros(g.shape(), g.dtype(), g.device());
    axpy_inplace(out, g, v);
    return out;
  }
  FER_FAIL("scale_by_scalar_tensor on CUDA: pending the elementwise kernels");
}

}  // namespace fer
