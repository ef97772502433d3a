// kernels/cast.cu: dtype conversions on the GPU (see cast.h). One thread per element
// (grid-stride); the per-element code is the shared cast:: functions, so float <-> bf16 and the
// integer conversions give the same bits as the CPU twin. u8_to_float may differ from the CPU
// twin by 1 ulp where nvcc fuses scale*x + shift into one FMA.
#include "kernels/cast.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

// One thread per element; each applies the cast:: function shared with the CPU twin.
__global__ void u8_to_float_kernel(int64_t n, const uint8_t* x, float scale, float shift, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = cast::u8_affine(x[i], scale, shift);
  }
}

__global__ void float_to_bf16_kernel(int64_t n, const float* x, uint16_t* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = cast::float_to_bf16(x[i]);
  }
}

__global__ void bf16_to_float_kernel(int64_t n, const uint16_t* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = cast::bf16_to_float(x[i]);
  }
}

// Integer widening is exact; narrowing keeps the low bits (two's complement), as documented.
template <typename Src, typename Dst>
__global__ void convert_kernel(int64_t n, const Src* x, Dst* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = static_cast<Dst>(x[i]);
  }
}

}  // namespace

void u8_to_float(int64_t n, const uint8_t* x, float scale, float shift, float* y, cuda_stream stream) {
  if (n == 0) return;
  u8_to_float_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, x, scale, shift, y);
  FER_LAUNCH_CHECK();
}

void float_to_bf16(int64_t n, const float* x, uint16_t* y, cuda_stream stream) {
  if (n == 0) return;
  float_to_bf16_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, x, y);
  FER_LAUNCH_CHECK();
}

void bf16_to_float(int64_t n, const uint16_t* x, float* y, cuda_stream stream) {
  if (n == 0) return;
  bf16_to_float_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, x, y);
  FER_LAUNCH_CHECK();
}

template <typename Src, typename Dst>
void convert(int64_t n, const Src* x, Dst* y, cuda_stream stream) {
  if (n == 0) return;
  convert_kernel<Src, Dst><<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, x, y);
  FER_LAUNCH_CHECK();
}

// The supported pairs (cast.h).
template void convert<int32_t, int64_t>(int64_t, const int32_t*, int64_t*, cuda_stream);
template void convert<int64_t, int32_t>(int64_t, const int64_t*, int32_t*, cuda_stream);

}  // namespace fer::cuda
