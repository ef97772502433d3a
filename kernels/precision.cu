// kernels/precision.cu: the operand rounding on the GPU (see precision.h). One thread per element
// (grid-stride); the per-element code is precision::round_tf32 / round_bf16, shared with the CPU
// twin, so the rounded bits agree exactly. The rounded copies then go through the existing fp32
// kernels (cuBLAS in CUBLAS_PEDANTIC_MATH mode, kernels/device.cu): the products of rounded operands
// are exact in fp32, so cuBLAS never rounds them differently.
#include "kernels/cuda_common.cuh"
#include "kernels/precision.h"

namespace fer::cuda {

namespace {

__global__ void round_tf32_kernel(int64_t n, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = precision::round_tf32(x[i]);
  }
}

__global__ void round_bf16_kernel(int64_t n, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = precision::round_bf16(x[i]);
  }
}

}  // namespace

void round_to_precision(MathPrecision p, int64_t n, const float* x, float* y, cuda_stream stream) {
  FER_CHECK(n >= 0, "cuda::round_to_precision: negative size " << n);
  if (n == 0) return;
  if (p == MathPrecision::tf32) {
    round_tf32_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, x, y);
  } else if (p == MathPrecision::bf16) {
    round_bf16_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, x, y);
  } else {
    if (x != y)
      FER_CUDA_CHECK(
          cudaMemcpyAsync(y, x, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice, to_cuda(stream)));
    return;
  }
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
