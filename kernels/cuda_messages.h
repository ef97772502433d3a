// kernels/cuda_messages.h: the words of CUDA resource failures, as plain C++ (built and unit-tested
// without CUDA; kernels/device.cu and tensor/allocator.cpp call them with the runtime's numbers).
//
//   cuda_oom_message(requested, free, total, held)  out of GPU memory: what was asked, what is
//       free, what fer itself holds, and a smaller --batch-size to try (half the current one when
//       known), e.g. "CUDA out of memory: requested 1.50 GiB (1610612736 bytes), 512.00 MiB of
//       79.19 GiB free, fer's tensors hold 78.00 GiB; hint: reduce --batch-size (try 32), ..."
//   cuda_failure_hint(kind, device_sm, built_archs)  how to fix a missing driver / device or a GPU
//       this build has no kernels for.
#pragma once

#include <cstdint>
#include <string>

namespace fer::cuda {

// Bytes in binary units with two decimals: "512 B", "1.50 KiB", "2.00 MiB", "79.19 GiB".
std::string format_bytes(uint64_t bytes);

// `held_bytes` < 0: unknown (not printed). `batch_size` <= 0: unknown (the hint says "halve it").
std::string cuda_oom_message(uint64_t requested_bytes, uint64_t free_bytes, uint64_t total_bytes,
                             int64_t held_bytes = -1, int64_t batch_size = 0);

enum class CudaFailure {
  no_device,            // cudaErrorNoDevice: the driver sees no GPU
  insufficient_driver,  // cudaErrorInsufficientDriver: no driver, or older than the CUDA runtime
  no_kernel_image,      // cudaErrorNoKernelImageForDevice / InvalidDeviceFunction: wrong architecture
  out_of_memory,        // cudaErrorMemoryAllocation
  other,
};

// `device_sm`: the GPU's compute capability as 10*major+minor (0 when unknown); `built_archs`:
// the architectures this build has kernels for (fer::kCudaArchitectures, "" when unknown).
std::string cuda_failure_hint(CudaFailure kind, int device_sm = 0, const std::string& built_archs = "");

// The hint for the batch-size suggestion of the OOM message: the largest power of two below
// `batch_size` (at least 1), "halve it" style; 0 when batch_size <= 1 (nothing smaller to try).
int64_t smaller_batch_size(int64_t batch_size);

}  // namespace fer::cuda
