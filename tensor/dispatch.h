// tensor/dispatch.h: how a tensor op picks its kernel.
//
//   on_device(op, device, cpu_fn, cuda_fn)   runs cpu_fn() on CPU tensors and cuda_fn(stream) on
//                                            CUDA tensors. In a CPU-only build the CUDA branch is
//                                            a discarded `if constexpr` statement, so no CUDA symbol
//                                            is referenced (no #ifdef needed).
//   with_floating(op, dtype, fn)             calls fn(float{}) or fn(double{}) (CPU kernels are
//                                            templates over both; CUDA kernels are float).
#pragma once

#include <utility>

#include "fer/config.h"
#include "kernels/device.h"
#include "tensor/tensor.h"

namespace fer {

template <typename CpuFn, typename CudaFn>
void on_device(const char* op, Device device, CpuFn&& cpu_fn, CudaFn&& cuda_fn) {
  if (device == Device::cuda) {
    if constexpr (kCudaBuilt) {
      std::forward<CudaFn>(cuda_fn)(cuda::default_stream());
      return;
    } else {
      FER_FAIL(op << ": CUDA tensor in a build without CUDA; hint: use --device cpu");
    }
  }
  std::forward<CpuFn>(cpu_fn)();
}

template <typename Fn>
void with_floating(const char* op, DType dtype, Fn&& fn) {
  if (dtype == DType::f32) fn(float{});
  else if (dtype == DType::f64) fn(double{});
  else FER_FAIL(op << ": unsupported dtype " << dtype_name(dtype) << "; expected f32 (or f64 on the CPU)");
}

// The common case: `like` decides the device and the floating type; cpu_fn is a generic lambda
// called with float{} or double{}, cuda_fn receives the stream.
template <typename CpuFn, typename CudaFn>
void run_kernel(const char* op, const Tensor& like, CpuFn&& cpu_fn, CudaFn&& cuda_fn) {
  on_device(
      op, like.device(), [&] { with_floating(op, like.dtype(), cpu_fn); }, std::forward<CudaFn>(cuda_fn));
}

// CUDA kernels take float only; f64 is a CPU (gradient-check) dtype.
inline void check_cuda_float(const char* op, const Tensor& t) {
  FER_CHECK(!t.is_cuda() || t.dtype() == DType::f32,
            op << ": CUDA ops take f32 tensors, got " << describe(t) << "; hint: f64 is for CPU gradient checks");
}

// y += alpha * x (same shape, dtype, device); no autograd.
void axpy_inplace(Tensor& y, const Tensor& x, double alpha);
// g * s for a one-element tensor s (the upstream gradient of a scalar loss); returns g itself when
// s is known to be 1 on the host. No autograd.
Tensor scale_by_scalar_tensor(const Tensor& g, const Tensor& s);

}  // namespace fer
