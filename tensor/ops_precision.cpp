// tensor/ops_precision.cpp: rounded operand copies for the tf32 / bf16 matmul precision
// (kernels/precision.h). The matmul ops (ops_conv.cpp, ops_linear.cpp) call it on each GEMM operand.
#include "kernels/precision.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace fer::ops {

Tensor round_to_precision(const Tensor& x, MathPrecision p) {
  if (p == MathPrecision::fp32 || !x.defined() || x.dtype() != DType::f32) return x;
  Tensor y = Tensor::empty(x.shape(), DType::f32, x.device());
  on_device(
      "round_to_precision", x.device(),
      [&] { cpu::round_to_precision(p, x.numel(), x.data<float>(), y.data<float>()); },
      [&](cuda_stream s) { cuda::round_to_precision(p, x.numel(), x.data<float>(), y.data<float>(), s); });
  return y;
}

}  // namespace fer::ops
