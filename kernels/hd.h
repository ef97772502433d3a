// kernels/hd.h: FER_HD marks small math functions usable from CPU code and CUDA kernels alike,
// so the CPU twin and the CUDA kernel evaluate the very same per-element formula.
#pragma once

#if defined(__CUDACC__)
#define FER_HD __host__ __device__ __forceinline__
#else
#define FER_HD inline
#endif
