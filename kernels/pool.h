// kernels/pool.h: 2-D max pooling, average pooling and global average pooling, forward and backward.
//
// Shapes (NCHW, contiguous): x [N,C,H,W], y [N,C,OH,OW]; a window (oh, ow) covers the input rows
// hs = oh*sh - ph .. hs+kh-1 and columns ws = ow*sw - pw .. ws+kw-1, clipped to the input.
//
//   maxpool  y[oh,ow] = max over the window of x;    A[oh,ow] = argmax (index ih*W+iw in the plane)
//            dx[i] = sum over windows (oh,ow) with A[oh,ow] == i of dy[oh,ow]
//   avgpool  y[oh,ow] = (1/D[oh,ow]) * sum over the window of x
//            dx[i] = sum over windows (oh,ow) that contain i of dy[oh,ow] / D[oh,ow]
//            D = count_include_pad ? window size clipped to [-p, H+p) : window size clipped to [0, H)
//   global   y[n,c] = (1/HW) sum_i x[n,c,i]            dx[n,c,i] = dy[n,c] / HW
//
// Output size (PyTorch's pooling_output_shape, dilation 1):
//   OH = floor((H + 2p - k + (ceil_mode ? s-1 : 0)) / s) + 1, and in ceil mode, when the last window
//   would start at or after H + p (entirely in the right padding), OH -= 1. Requires p <= k/2 and OH >= 1.
//   This guarantees every window holds at least one real input element.
//
// Max pooling: padded positions count as -inf (never selected). Ties: the first maximum in row-major
// window order wins (strict >). NaN: a NaN in the window is selected and propagates (PyTorch rule
// `v > best || isnan(v)`, so with several NaNs the last one is the argmax).
//
// Both backwards are GATHERS: each input element walks only the windows that can contain it and sums
// their contributions in row-major window order. No scatter, no atomics, deterministic, and the CPU
// and CUDA code sum in the same order. (With non-overlapping windows, stride >= kernel, the CPU max
// pooling backward writes T(0) + dy at each argmax instead: the same values, one pass over dy.)
// See kernels/notes/pool.md.
//
// Semantics: every output is written (=), never accumulated: y and argmax by forward, dx by backward
// (dx elements that no window routes to are written 0).
// Index dtype: argmax is int32 (H*W must be < 2^31).
// CUDA: one thread per output element (forward) or per input element (backward), grid-stride;
// global average pool: one warp per (n,c) row with a fixed shuffle tree.
#pragma once

#include <cstdint>
#include <limits>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

// floor(a / b) for b > 0 and any sign of a (C++ '/' truncates toward zero).
FER_HD int64_t pool_floor_div(int64_t a, int64_t b) { return (a >= 0) ? a / b : -((-a + b - 1) / b); }

// Output length along one axis (see the formula above). May return < 1 for an invalid config;
// check_pool2d() rejects that.
FER_HD int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  int64_t out = pool_floor_div(in + 2 * p - k + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;  // the last window must start inside input or left pad
  return out;
}

// The geometry of one pooling layer. Square helper: pool2d_dims() below.
struct Pool2dDims {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input shape
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_h = 0, pad_w = 0;
  bool ceil_mode = false;

  FER_HD int64_t out_h() const { return pool_out_size(h, kernel_h, stride_h, pad_h, ceil_mode); }
  FER_HD int64_t out_w() const { return pool_out_size(w, kernel_w, stride_w, pad_w, ceil_mode); }
  int64_t x_size() const { return n * c * h * w; }
  int64_t y_size() const { return n * c * out_h() * out_w(); }
};

inline Pool2dDims pool2d_dims(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kernel, int64_t stride,
                              int64_t pad = 0, bool ceil_mode = false) {
  Pool2dDims d;
  d.n = n, d.c = c, d.h = h, d.w = w;
  d.kernel_h = d.kernel_w = kernel;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = pad;
  d.ceil_mode = ceil_mode;
  return d;
}

// Throws fer::Error (naming `op` and the geometry) unless d is a valid PyTorch pooling config.
// Called by the CPU and CUDA entry points alike.
void check_pool2d(const char* op, const Pool2dDims& d);

namespace pool {
// Per-element helpers shared by the CPU twin and the CUDA kernels, so both run the same arithmetic
// in the same order.

// The window of output row `o` along one axis, clipped to the input: [*lo, *hi).
FER_HD void window(int64_t o, int64_t k, int64_t s, int64_t p, int64_t in, int64_t* lo, int64_t* hi) {
  const int64_t start = o * s - p;
  *lo = start < 0 ? 0 : start;
  *hi = start + k < in ? start + k : in;
}

// The output rows whose windows contain input row `i` along one axis: [*lo, *hi).
// Window o covers o*s-p .. o*s-p+k-1, so it contains i  <=>  (i+p-k+1)/s <= o <= (i+p)/s.
FER_HD void windows_containing(int64_t i, int64_t k, int64_t s, int64_t p, int64_t out, int64_t* lo,
                               int64_t* hi) {
  *lo = (i + p < k) ? 0 : (i + p - k) / s + 1;  // ceil((i+p-k+1)/s), clamped at 0
  const int64_t last = (i + p) / s;               // floor, i+p >= 0
  *hi = last + 1 < out ? last + 1 : out;
}

// Max and argmax (plane index) of plane[h0:h1, w0:w1]; first maximum wins, NaN propagates.
template <typename T>
FER_HD void max_window(const T* plane, int64_t W, int64_t h0, int64_t h1, int64_t w0, int64_t w1, T* ymax,
                       int32_t* arg) {
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_i = h0 * W + w0;  // an all -inf window reports its first element
  for (int64_t ih = h0; ih < h1; ++ih) {
    for (int64_t iw = w0; iw < w1; ++iw) {
      const T v = plane[ih * W + iw];
      if (v > best || v != v) {  // v != v: NaN is selected (PyTorch)
        best = v;
        best_i = ih * W + iw;
      }
    }
  }
  *ymax = best;
  *arg = static_cast<int32_t>(best_i);
}

// Divisor of average-pooling window (oh, ow) (PyTorch's rule, no divisor override).
FER_HD int64_t avg_divisor(const Pool2dDims& d, int64_t oh, int64_t ow, bool count_include_pad) {
  const int64_t hs = oh * d.stride_h - d.pad_h, ws = ow * d.stride_w - d.pad_w;
  if (count_include_pad) {  // window clipped to the padded input [-p, H+p)
    const int64_t he = hs + d.kernel_h < d.h + d.pad_h ? hs + d.kernel_h : d.h + d.pad_h;
    const int64_t we = ws + d.kernel_w < d.w + d.pad_w ? ws + d.kernel_w : d.w + d.pad_w;
    return (he - hs) * (we - ws);
  }
  int64_t h0, h1, w0, w1;
  window(oh, d.kernel_h, d.stride_h, d.pad_h, d.h, &h0, &h1);
  window(ow, d.kernel_w, d.stride_w, d.pad_w, d.w, &w0, &w1);
  return (h1 - h0) * (w1 - w0);
}
}  // namespace pool

namespace cpu {
// y [N,C,OH,OW] =, argmax [N,C,OH,OW] = (int32 index into the H*W plane of that (n,c)).
template <typename T>
void maxpool2d_forward(const Pool2dDims& d, const T* x, T* y, int32_t* argmax);
// dx [N,C,H,W] = routed dy (gather over the windows whose argmax is that element).
template <typename T>
void maxpool2d_backward(const Pool2dDims& d, const T* dy, const int32_t* argmax, T* dx);

template <typename T>
void avgpool2d_forward(const Pool2dDims& d, bool count_include_pad, const T* x, T* y);
template <typename T>
void avgpool2d_backward(const Pool2dDims& d, bool count_include_pad, const T* dy, T* dx);

// x [N,C,HW] -> y [N,C] = mean; backward dx [N,C,HW] = dy / HW.
template <typename T>
void global_avgpool_forward(int64_t n, int64_t c, int64_t hw, const T* x, T* y);
template <typename T>
void global_avgpool_backward(int64_t n, int64_t c, int64_t hw, const T* dy, T* dx);
}  // namespace cpu

namespace cuda {
void maxpool2d_forward(const Pool2dDims& d, const float* x, float* y, int32_t* argmax, cuda_stream stream);
void maxpool2d_backward(const Pool2dDims& d, const float* dy, const int32_t* argmax, float* dx,
                        cuda_stream stream);
void avgpool2d_forward(const Pool2dDims& d, bool count_include_pad, const float* x, float* y, cuda_stream stream);
void avgpool2d_backward(const Pool2dDims& d, bool count_include_pad, const float* dy, float* dx,
                        cuda_stream stream);
void global_avgpool_forward(int64_t n, int64_t c, int64_t hw, const float* x, float* y, cuda_stream stream);
void global_avgpool_backward(int64_t n, int64_t c, int64_t hw, const float* dy, float* dx, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
