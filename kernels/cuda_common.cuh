// kernels/cuda_common.cuh: CUDA-side checks and helpers, included by every kernels/*.cu file.
//
// FER_CUDA_CHECK(expr)    a cudaError_t-returning call; throws fer::Error with the call, the
//                         error string, file:line and a hint (wrong architecture, no device, OOM).
// FER_CUBLAS_CHECK(expr)  the same for cuBLAS status codes.
// FER_LAUNCH_CHECK()      after every <<<...>>> launch: catches launch errors at once; with the
//                         environment variable FER_DEBUG_SYNC=1 it also synchronizes, so an
//                         asynchronous fault is reported at the kernel that caused it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/common.h"
#include "kernels/device.h"

namespace fer::cuda::detail {
[[noreturn]] void cuda_failed(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void cublas_failed(cublasStatus_t st, const char* expr, const char* file, int line);
void launch_check(const char* file, int line);
}  // namespace fer::cuda::detail

#define FER_CUDA_CHECK(expr)                                                          \
  do {                                                                                \
    cudaError_t fer_err_ = (expr);                                                    \
    if (fer_err_ != cudaSuccess) ::fer::cuda::detail::cuda_failed(fer_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define FER_CUBLAS_CHECK(expr)                                                        \
  do {                                                                                \
    cublasStatus_t fer_st_ = (expr);                                                  \
    if (fer_st_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::fer::cuda::detail::cublas_failed(fer_st_, #expr, __FILE__, __LINE__);         \
  } while (0)

#define FER_LAUNCH_CHECK() ::fer::cuda::detail::launch_check(__FILE__, __LINE__)

namespace fer::cuda {

// Threads per block for simple elementwise kernels, and the grid that covers n elements.
constexpr int kBlock = 256;
inline unsigned grid_for(int64_t n, int block = kBlock) {
  const int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

inline cudaStream_t to_cuda(cuda_stream s) { return reinterpret_cast<cudaStream_t>(s); }

}  // namespace fer::cuda

// Grid-stride loop over [0, n): correct for any grid size.
#define FER_CUDA_KERNEL_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)
