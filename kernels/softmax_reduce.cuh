// kernels/softmax_reduce.cuh: deterministic warp and block reductions shared by the softmax and
// loss kernels (softmax.cu, loss.cu) and others that reduce over a row.
//
// Every reduction is a fixed tree: a value's position in the tree depends only on the thread
// index, never on timing, so results are bit-identical run to run (no atomics anywhere).
// The xor-butterfly leaves the same total in every lane: at each step lanes l and l^off add the
// same two numbers (a+b == b+a exactly in IEEE arithmetic).
#pragma once

#include <cuda_runtime.h>

namespace fer::cuda::smx {

constexpr unsigned kFullMask = 0xffffffffu;

// A quiet NaN (used to poison results of rows whose label is out of range).
__device__ __forceinline__ float nan_f() { return __int_as_float(0x7fc00000); }

// Sum / max over the 32 lanes of a warp; every lane gets the result. All 32 lanes must call.
__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, off));
  return v;
}

// Sum over all threads of the block; every thread gets the result. blockDim.x must be a
// multiple of 32 (at most 1024) and every thread of the block must call (it synchronizes).
// `scratch` is __shared__ float[32]; it may be reused right after the call returns.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.f;
  if (warp == 0) total = warp_sum(lane < nwarps ? scratch[lane] : 0.f);  // warp partials in warp order
  __syncthreads();  // every warp has read scratch before thread 0 overwrites scratch[0]
  if (threadIdx.x == 0) scratch[0] = total;
  __syncthreads();
  total = scratch[0];
  __syncthreads();  // everyone has read scratch[0] before the caller may reuse scratch
  return total;
}

}  // namespace fer::cuda::smx
