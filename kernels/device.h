// kernels/device.h: the CUDA runtime as the rest of fer sees it (no CUDA headers needed).
//
// Everything here is defined in kernels/device.cu, which is compiled only when the CUDA backend
// is built (fer::kCudaBuilt). Callers outside kernels/ guard calls with `if constexpr (kCudaBuilt)`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/common.h"

struct cublasContext;

namespace fer::cuda {

// Number of usable CUDA devices; 0 when there is no device or no driver (any error counts as
// "no device": without a GPU, cudaGetDeviceCount reports "driver version is insufficient").
int device_count();
// Why device_count() is 0, in words ("" when a device exists).
std::string no_device_reason();
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB, driver 13.0)" for device `dev`.
std::string device_description(int dev = 0);
// Compute capability as 10*major+minor (90 for H100).
int compute_capability(int dev = 0);

// The stream all of fer's kernels run on (one non-blocking stream per process).
cuda_stream default_stream();
// cuBLAS handle bound to default_stream(), with deterministic settings and a fixed workspace.
cublasContext* cublas_handle();
// The handle bound to `stream`, its fixed workspace kept (cublasSetStream alone would reset it).
cublasContext* cublas_use_stream(cuda_stream stream);

// Raw memory. Allocation failures throw fer::Error naming the requested and free bytes
// (kernels/cuda_messages.h); `held_bytes` (fer's live tensors, < 0 unknown) is named too.
void* device_malloc(size_t bytes, int64_t held_bytes = -1);
void device_free(void* ptr);
// For destructors: frees without throwing. A failure (e.g. the sticky error of an earlier faulting
// kernel) is printed to stderr and left for the next checked call to report; returns false then.
bool device_free_nothrow(void* ptr) noexcept;
void memcpy_h2d(void* dst, const void* src, size_t bytes, cuda_stream stream);
void memcpy_d2h(void* dst, const void* src, size_t bytes, cuda_stream stream);  // synchronizes
void memcpy_d2d(void* dst, const void* src, size_t bytes, cuda_stream stream);
void memset_device(void* dst, int byte, size_t bytes, cuda_stream stream);
// Fill `count` floats with one value (used to pre-fill outputs with NaN in parity tests).
void fill_float(float* dst, float value, size_t count, cuda_stream stream);
void stream_synchronize(cuda_stream stream);
// Free / total device memory in bytes.
void memory_info(size_t* free_bytes, size_t* total_bytes);

// CUDA graphs: the kernels a stream receives between begin_capture and end_capture are recorded,
// not run, and the instantiated graph replays them with one launch. Capture uses the relaxed mode
// (the allocator may call cudaMalloc meanwhile); anything that synchronises the stream or copies
// from pageable host memory during a capture fails it, and end_capture reports the error.
// FER_DEBUG_SYNC (a device synchronise after each launch) cannot be captured: begin_capture refuses.
void begin_capture(cuda_stream stream);
// Ends the capture and instantiates the graph; returns its executable handle.
void* end_capture(cuda_stream stream);
// Ends a capture after an error, discarding what was recorded (safe to call when none is active).
void abort_capture(cuda_stream stream);
void graph_launch(void* graph_exec, cuda_stream stream);
void graph_destroy(void* graph_exec);
// Number of nodes (kernels, copies, memsets) of an instantiated graph's source graph, for messages;
// recorded by end_capture.
int64_t graph_node_count(void* graph_exec);

}  // namespace fer::cuda
