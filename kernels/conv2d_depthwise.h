// kernels/conv2d_depthwise.h: the direct path for convolutions in which every output channel reads
// ONE input channel (Cin / groups == 1): depthwise convolutions (groups = Cin, EfficientNet's MBConv
// blocks, any channel multiplier m = Cout / Cin) and, on CUDA, the 1-channel first layer of the 48x48
// models (Cin = 1). The conv2d entry points of both backends (kernels/conv2d.h) take it when
// takes_direct_path(d) (CPU) / takes_direct_path_cuda(d) (CUDA).
//
// With one input channel per group the im2col matrices are [kh*kw, P] and each GEMM has Og = m
// output rows: one im2col + GEMM launch per channel (1152 of them in EfficientNet-B0's widest layer)
// for a few multiply-adds each, or, for Cin = 1, a 9-deep GEMM behind a 9x copy of the image. The
// direct loops do the same arithmetic in one pass. Output channel o reads input channel g(o) = o / m:
//
//   forward   y[n,o,i,j]  = b[o] + sum_{p,q} w[o,p,q] x[n,g(o),i*sh-ph+p, j*sw-pw+q]   (taps in (p,q) order,
//                                                                                     padding skipped)
//   dx        dx[n,c,h,v] = sum_{o: g(o) = c} sum_{p,q: (h+ph-p)/sh = i, (v+pw-q)/sw = j exact, in range}
//                               w[o,p,q] dy[n,o,i,j]       (o ascending, then a gather in (p,q) order)
//   dw        dw[o,p,q]   = sum_{n,i,j} dy[n,o,i,j] x[n,g(o),i*sh-ph+p, j*sw-pw+q]      ((n,i,j) order)
//   db        db[o]       = sum_{n,i,j} dy[n,o,i,j]                                     ((n,i,j) order)
//
// The forward and dw sums run in the order of the reference loop nests (conv2d_*_reference), so on
// the CPU they give the reference's bits; dx is a gather (the reference scatters), equal to rounding.
// Semantics as kernels/conv2d.h: every output is written (=).
// CPU: OpenMP over (n, o) planes (forward), (n, c) planes (dx) and output channels (dw, db).
// CUDA: one thread per output element (forward) / input element (dx) through the shared per-element
// functions below; dw and db one block per (channel, tap) / channel with a fixed shared-memory tree:
// deterministic run to run, equal to the CPU up to rounding (float sums in another order).
// No workspace. Derivation: kernels/notes/conv2d.md (the Cg = 1 case of section 2).
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"

namespace fer {

// Every output channel reads one input channel: Cin / groups == 1 (depthwise with any multiplier, or
// a single input channel).
inline bool one_input_channel_per_group(const Conv2dDims& d) { return d.c_in == d.groups; }
// Depthwise proper: groups == Cin == Cout > 1.
inline bool is_depthwise(const Conv2dDims& d) { return d.groups > 1 && d.groups == d.c_in && d.groups == d.c_out; }
// Where each backend takes the direct path. The CPU: depthwise convolutions with any multiplier
// (groups = Cin > 1); a 1-channel input stays on im2col + OpenBLAS, as fast there over a step
// (kernels/notes/conv2d.md). CUDA:
// also the 1-channel first layer, where the direct kernel avoids a 9x im2col copy and a 9-deep GEMM.
inline bool takes_direct_path(const Conv2dDims& d) { return d.groups > 1 && one_input_channel_per_group(d); }
inline bool takes_direct_path_cuda(const Conv2dDims& d) { return one_input_channel_per_group(d); }

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
