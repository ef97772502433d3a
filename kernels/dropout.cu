// kernels/dropout.cu: inverted dropout and drop-path on the GPU (see dropout.h for the math).
//
// One thread per element, grid-stride. Thread i draws its own Philox number from
// (seed, stream, offset + i) with the shared dropout::keep(), so the mask equals the CPU twin's
// bit for bit whatever the grid. Drop-path: the thread of element i recomputes the decision of its
// sample s = i / sample_size (a Philox call is cheap next to the memory traffic), and the thread of
// the first element of each sample writes mask[s].
// y = x * (1/(1-p)) is one float multiply with the same scale as the CPU, so y matches exactly too.
#include "kernels/cuda_common.cuh"
#include "kernels/dropout.h"

namespace fer::cuda {

// offset_base: see dropout.h (null outside captured graphs); read once per thread, when the kernel runs.
__device__ uint64_t effective_offset(uint64_t offset, const uint64_t* offset_base) {
  return offset_base ? offset + *offset_base : offset;
}

__global__ void dropout_forward_kernel(int64_t n, float p, float scale, uint64_t seed, uint64_t stream_id,
                                       uint64_t offset, const uint64_t* offset_base, const float* x, float* y,
                                       uint8_t* mask) {
  offset = effective_offset(offset, offset_base);
  FER_CUDA_KERNEL_LOOP(i, n) {
    const bool keep = dropout::keep(seed, stream_id, offset + static_cast<uint64_t>(i), p);
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.f;
  }
}

__global__ void dropout_backward_kernel(int64_t n, float scale, const float* dy, const uint8_t* mask, float* dx) {
  FER_CUDA_KERNEL_LOOP(i, n) { dx[i] = mask[i] ? dy[i] * scale : 0.f; }
}

__global__ void droppath_forward_kernel(int64_t n_samples, int64_t sample_size, float p, float scale,
                                        uint64_t seed, uint64_t stream_id, uint64_t offset,
                                        const uint64_t* offset_base, const float* x, float* y, uint8_t* mask) {
  offset = effective_offset(offset, offset_base);
  FER_CUDA_KERNEL_LOOP(i, n_samples * sample_size) {
    const int64_t s = i / sample_size;
    const bool keep = dropout::keep(seed, stream_id, offset + static_cast<uint64_t>(s), p);
    if (i % sample_size == 0) mask[s] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.f;
  }
}

// Drop-path with sample_size == 0: no element threads exist, but the mask is still defined.
__global__ void droppath_mask_kernel(int64_t n_samples, float p, uint64_t seed, uint64_t stream_id,
                                     uint64_t offset, const uint64_t* offset_base, uint8_t* mask) {
  offset = effective_offset(offset, offset_base);
  FER_CUDA_KERNEL_LOOP(s, n_samples) { mask[s] = dropout::keep(seed, stream_id, offset + uint64_t(s), p) ? 1 : 0; }
}

__global__ void droppath_backward_kernel(int64_t n_samples, int64_t sample_size, float scale, const float* dy,
                                         const uint8_t* mask, float* dx) {
  FER_CUDA_KERNEL_LOOP(i, n_samples * sample_size) { dx[i] = mask[i / sample_size] ? dy[i] * scale : 0.f; }
}

void dropout_forward(int64_t n, float p, uint64_t seed, uint64_t stream_id, uint64_t offset, const float* x,
                     float* y, uint8_t* mask, cuda_stream stream, const uint64_t* offset_base) {
  check_dropout("cuda::dropout_forward", n, p);
  if (n == 0) return;
  dropout_forward_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, p, dropout::scale<float>(p), seed,
                                                                       stream_id, offset, offset_base, x, y, mask);
  FER_LAUNCH_CHECK();
}

void dropout_backward(int64_t n, float p, const float* dy, const uint8_t* mask, float* dx, cuda_stream stream) {
  check_dropout("cuda::dropout_backward", n, p);
  if (n == 0) return;
  dropout_backward_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, dropout::scale<float>(p), dy, mask, dx);
  FER_LAUNCH_CHECK();
}

void droppath_forward(int64_t n_samples, int64_t sample_size, float p, uint64_t seed, uint64_t stream_id,
                      uint64_t offset, const float* x, float* y, uint8_t* mask, cuda_stream stream,
                      const uint64_t* offset_base) {
  check_dropout("cuda::droppath_forward", n_samples, p);
  FER_CHECK(sample_size >= 0, "cuda::droppath_forward: sample_size " << sample_size << " must be >= 0");
  if (n_samples == 0) return;
  if (sample_size == 0) {
    droppath_mask_kernel<<<grid_for(n_samples), kBlock, 0, to_cuda(stream)>>>(n_samples, p, seed, stream_id,
                                                                               offset, offset_base, mask);
    FER_LAUNCH_CHECK();
    return;
  }
  droppath_forward_kernel<<<grid_for(n_samples * sample_size), kBlock, 0, to_cuda(stream)>>>(
      n_samples, sample_size, p, dropout::scale<float>(p), seed, stream_id, offset, offset_base, x, y, mask);
  FER_LAUNCH_CHECK();
}

void droppath_backward(int64_t n_samples, int64_t sample_size, float p, const float* dy, const uint8_t* mask,
                       float* dx, cuda_stream stream) {
  check_dropout("cuda::droppath_backward", n_samples, p);
  FER_CHECK(sample_size >= 0, "cuda::droppath_backward: sample_size " << sample_size << " must be >= 0");
  if (n_samples == 0 || sample_size == 0) return;
  droppath_backward_kernel<<<grid_for(n_samples * sample_size), kBlock, 0, to_cuda(stream)>>>(
      n_samples, sample_size, dropout::scale<float>(p), dy, mask, dx);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
