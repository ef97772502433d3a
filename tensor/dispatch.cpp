// tensor/dispatch.cpp: small internal tensor arithmetic used by the autograd engine.
#include "tensor/dispatch.h"

#include "kernels/elementwise.h"

namespace fer {

void axpy_inplace(Tensor& y, const Tensor& x, double alpha) {
  FER_CHECK(y.shape() == x.shape() && y.dtype() == x.dtype() && y.device() == x.device(),
            "axpy: " << describe(x) << " into " << describe(y));
  const int64_t n = y.numel();
  run_kernel(
      "axpy", y,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::axpy<T>(n, T(alpha), x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) { cuda::axpy(n, float(alpha), x.data<float>(), y.data<float>(), s); });
}

Tensor scale_by_scalar_tensor(const Tensor& g, const Tensor& s) {
  FER_CHECK(s.numel() == 1, "scale_by_scalar_tensor: the scale must have one element, got " << describe(s));
  FER_CHECK(s.device() == g.device() && s.dtype() == g.dtype(),
            "scale_by_scalar_tensor: scale " << describe(s) << " does not match " << describe(g));
  if (s.device() == Device::cpu && s.item() == 1.0) return g;  // the usual case: the loss is the root
  // On the GPU multiply by the device scalar (a broadcast multiply): no host synchronisation.
  const BroadcastShape bs = make_broadcast(g.shape(), Shape{});
  Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
  run_kernel(
      "scale_by_scalar_tensor", g,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::binary_forward<T>(BinaryOp::mul, bs, g.data<T>(), s.data<T>(), out.data<T>());
      },
      [&](cuda_stream st) { cuda::binary_forward(BinaryOp::mul, bs, g.data<float>(), s.data<float>(), out.data<float>(), st); });
  return out;
}

}  // namespace fer
