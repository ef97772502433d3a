// kernels/conv2d_depthwise.h: the direct path for depthwise convolutions (groups = Cin = Cout, one
// filter per channel: EfficientNet's MBConv blocks), taken by the conv2d entry points of both
// backends (kernels/conv2d.h) whenever is_depthwise(d).
//
// With one input channel per output channel the im2col matrices are [kh*kw, P] and each GEMM has a
// single output row: one im2col + GEMM launch per channel (1152 of them in EfficientNet-B0's widest
// layer) for a few multiply-adds each. The direct loops do the same arithmetic in one pass:
//
//   forward   y[n,c,i,j]  = b[c] + sum_{p,q} w[c,p,q] x[n,c,i*sh-ph+p, j*sw-pw+q]          (taps in (p,q) order,
//                                                                                         padding skipped)
//   dx        dx[n,c,h,v] = sum_{p,q: (h+ph-p)/sh = i, (v+pw-q)/sw = j exact, in range} w[c,p,q] dy[n,c,i,j]
//                           (a gather in (p,q) order, as conv::col2im_value)
//   dw        dw[c,p,q]   = sum_{n,i,j} dy[n,c,i,j] x[n,c,i*sh-ph+p, j*sw-pw+q]            ((n,i,j) order)
//   db        db[c]       = sum_{n,i,j} dy[n,c,i,j]                                           ((n,i,j) order)
//
// The forward and dw sums run in the order of the reference loop nests (conv2d_*_reference), so on
// the CPU they give the reference's bits; dx is the gather (the reference scatters, so dx agrees
// with it up to rounding). Semantics as kernels/conv2d.h: every output is written (=).
// CPU: OpenMP over (n, c) planes (forward, dx) and over channels (dw, db); deterministic.
// CUDA: one thread per output element (forward) / input element (dx) through the shared per-element
// functions below; dw and db one block per (channel, tap) / channel with a fixed shared-memory tree:
// deterministic run to run, equal to the CPU up to rounding (float sums in another order).
// No workspace. Derivation: kernels/notes/conv2d.md (a depthwise conv is the G = C case).
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"

namespace fer {

// groups == Cin == Cout (channel multiplier 1) and at least 2 channels (a 1-channel conv is an
// ordinary conv).
inline bool is_depthwise(const Conv2dDims& d) { return d.groups > 1 && d.groups == d.c_in && d.groups == d.c_out; }

namespace depthwise {
// y at (i, j) of one plane: x0 is the (n, c) input plane [H, W], w0 the channel's [kh, kw] filter.
template <typename T>
FER_HD T forward_value(const Conv2dDims& d, const T* x0, const T* w0, T init, int64_t i, int64_t j) {
  T sum = init;
  for (int64_t p = 0; p < d.kernel_h; ++p) {
    const int64_t h = i * d.stride_h - d.pad_h + p;
    if (h < 0 || h >= d.h_in) continue;
    for (int64_t q = 0; q < d.kernel_w; ++q) {
      const int64_t v = j * d.stride_w - d.pad_w + q;
      if (v < 0 || v >= d.w_in) continue;
      sum += w0[p * d.kernel_w + q] * x0[h * d.w_in + v];
    }
  }
  return sum;
}

// dx at (h, v) of one plane: dy0 the (n, c) output-gradient plane [Ho, Wo].
template <typename T>
FER_HD T input_grad_value(const Conv2dDims& d, const T* dy0, const T* w0, int64_t h, int64_t v) {
  const int64_t Ho = d.h_out(), Wo = d.w_out();
  T sum = T(0);
  for (int64_t p = 0; p < d.kernel_h; ++p) {
    const int64_t ti = h + d.pad_h - p;
    if (ti < 0 || ti % d.stride_h != 0) continue;
    const int64_t i = ti / d.stride_h;
    if (i >= Ho) continue;
    for (int64_t q = 0; q < d.kernel_w; ++q) {
      const int64_t tj = v + d.pad_w - q;
      if (tj < 0 || tj % d.stride_w != 0) continue;
      const int64_t j = tj / d.stride_w;
      if (j >= Wo) continue;
      sum += w0[p * d.kernel_w + q] * dy0[i * Wo + j];
    }
  }
  return sum;
}
}  // namespace depthwise

namespace cpu {
template <typename T>
void depthwise_conv2d_forward(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void depthwise_conv2d_backward_input(const Conv2dDims& d, const T* dy, const T* w, T* dx);
// dw and dbias may each be null (skipped).
template <typename T>
void depthwise_conv2d_backward_weight(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias);
}  // namespace cpu

namespace cuda {
void depthwise_conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y,
                              cuda_stream stream);
void depthwise_conv2d_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx,
                                     cuda_stream stream);
void depthwise_conv2d_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* dbias,
                                      cuda_stream stream);
}  // namespace cuda

}  // namespace fer
