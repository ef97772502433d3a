// kernels/dropout.h: inverted dropout and drop-path (stochastic depth), forward and backward.
//
//   dropout    keep_i = [u_i >= p],  u_i = philox::uniform(seed, stream, offset + i)   (i in [0, n))
//              y_i = keep_i ? x_i / (1-p) : 0          dx_i = keep_i ? dy_i / (1-p) : 0
//   drop-path  one draw per sample: keep_s = [u_s >= p], u_s = philox::uniform(seed, stream, offset + s)
//              y[s,:] = keep_s ? x[s,:] / (1-p) : 0     dx[s,:] = keep_s ? dy[s,:] / (1-p) : 0
// The op is linear in x with a fixed 0/scale diagonal, so the backward is the same diagonal applied
// to dy (read back from the saved mask). Inverted scaling keeps E[y] = x, so evaluation needs no
// rescale: at evaluation time the layer simply is not applied.
//
// Shapes: dropout: x, y, dy, dx, mask [n] (any layout, contiguous). drop-path: x, y, dy, dx
// [n_samples, sample_size] (sample s is the contiguous block of sample_size elements, e.g. C*H*W of
// an NCHW tensor), mask [n_samples].
// Semantics: y, mask, dx are written (=). mask is uint8: 1 = kept, 0 = dropped. In-place (y == x,
// dx == dy) is allowed.
// Randomness: the decision for element i (sample s) depends only on (seed, stream, offset + i) through
// the counter-based Philox of kernels/philox.h, compared in float (p is a float) - so the CPU twin and
// the CUDA kernel produce bit-identical masks, independent of threads and launch geometry. The caller
// advances `offset` by n (n_samples) after each call so consecutive calls draw fresh numbers.
// offset_base (optional): a uint64 in memory (device memory on CUDA) added to `offset` when the kernel
// runs. A captured CUDA graph freezes `offset`; with the step's start written to *offset_base before
// each replay, replay k draws what an uncaptured step k would (tensor/rng.h, capture).
// Edge cases: p = 0 keeps everything (u >= 0 always) with scale 1 (identity); p = 1 drops everything
// (u < 1 always) and the scale is defined as 0, so no 1/0 is ever formed. p must be in [0, 1].
// Dropped elements are written as exact zeros (a select, not a multiply), even where x or dy is NaN.
// CUDA: one thread per element, grid-stride.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"
#include "kernels/philox.h"

namespace fer {

// Throws fer::Error unless 0 <= p <= 1 (and n >= 0); `op` names the caller.
void check_dropout(const char* op, int64_t n, float p);

namespace dropout {
// The keep decision shared by both backends: uniform in [0,1) with 24 random bits vs p, in float.
FER_HD bool keep(uint64_t seed, uint64_t stream, uint64_t counter, float p) {
  return philox::uniform(seed, stream, counter) >= p;
}
// 1/(1-p) for p < 1, and 0 for p == 1 (every element is dropped; no division by zero).
template <typename T>
FER_HD T scale(float p) {
  return p < 1.0f ? T(1) / (T(1) - T(p)) : T(0);
}
}  // namespace dropout

namespace cpu {
template <typename T>
void dropout_forward(int64_t n, float p, uint64_t seed, uint64_t stream, uint64_t offset, const T* x, T* y,
                     uint8_t* mask, const uint64_t* offset_base = nullptr);
template <typename T>
void dropout_backward(int64_t n, float p, const T* dy, const uint8_t* mask, T* dx);

template <typename T>
void droppath_forward(int64_t n_samples, int64_t sample_size, float p, uint64_t seed, uint64_t stream,
                      uint64_t offset, const T* x, T* y, uint8_t* mask, const uint64_t* offset_base = nullptr);
template <typename T>
void droppath_backward(int64_t n_samples, int64_t sample_size, float p, const T* dy, const uint8_t* mask, T* dx);
}  // namespace cpu

namespace cuda {
void dropout_forward(int64_t n, float p, uint64_t seed, uint64_t stream_id, uint64_t offset, const float* x,
                     float* y, uint8_t* mask, cuda_stream stream, const uint64_t* offset_base = nullptr);
void dropout_backward(int64_t n, float p, const float* dy, const uint8_t* mask, float* dx, cuda_stream stream);

void droppath_forward(int64_t n_samples, int64_t sample_size, float p, uint64_t seed, uint64_t stream_id,
                      uint64_t offset, const float* x, float* y, uint8_t* mask, cuda_stream stream,
                      const uint64_t* offset_base = nullptr);
void droppath_backward(int64_t n_samples, int64_t sample_size, float p, const float* dy, const uint8_t* mask,
                       float* dx, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
