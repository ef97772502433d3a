// kernels/activation.cu: pointwise activations on the GPU. One thread per element (grid-stride),
// the formula is the shared act::forward/backward of activation.h, so it matches the CPU twin
// up to the device's exp/erf rounding (a few ulp).
#include "kernels/activation.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

__global__ void activation_forward_kernel(Activation a, int64_t n, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) { y[i] = act::forward(a, x[i]); }
}

__global__ void activation_backward_kernel(Activation a, int64_t n, const float* x, const float* y, const float* dy,
                                           float* dx) {
  FER_CUDA_KERNEL_LOOP(i, n) { dx[i] = act::backward(a, x[i], y[i], dy[i]); }
}

void activation_forward(Activation a, int64_t n, const float* x, float* y, cuda_stream stream) {
  if (n == 0) return;
  activation_forward_kernel<<<grid_for(n), kBlock, 0, stream>>>(a, n, x, y);
  FER_LAUNCH_CHECK();
}

void activation_backward(Activation a, int64_t n, const float* x, const float* y, const float* dy, float* dx,
                         cuda_stream stream) {
  if (n == 0) return;
  activation_backward_kernel<<<grid_for(n), kBlock, 0, stream>>>(a, n, x, y, dy, dx);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
