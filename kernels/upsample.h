// kernels/upsample.h: 2-D up-sampling, bilinear (align_corners=False) and nearest, forward and backward.
//
// Shapes (NCHW, contiguous): x [N,C,H,W] -> y [N,C,OH,OW], any OH, OW >= 1 (an integer scale factor s
// is OH = s*H, OW = s*W: upsample2d_dims_scale()). Down-sampling (OH < H) follows the same formulas.
//
//   bilinear (PyTorch, align_corners=False: half-pixel centres, clamped at 0)
//     src(o) = max(0, scale*(o + 0.5) - 0.5),  scale = H/OH (computed in T, as PyTorch's in/out)
//     i0 = floor(src), i1 = min(i0 + 1, H - 1), l1 = src - i0, l0 = 1 - l1      (same along w)
//     y[oh,ow] = lh0*(lw0*x[i0,j0] + lw1*x[i0,j1]) + lh1*(lw0*x[i1,j0] + lw1*x[i1,j1])
//     dx[ih,iw] = sum_{oh,ow} a_h(oh,ih) a_w(ow,iw) dy[oh,ow],  a_h(oh,ih) = lh0[ih==i0(oh)] + lh1[ih==i1(oh)]
//   nearest (PyTorch 'nearest', exact integer form)
//     src(o) = floor(o * H / OH);   y[oh,ow] = x[src(oh), src(ow)]
//     dx[ih,iw] = sum of dy[oh,ow] over the oh with src(oh) == ih and ow with src(ow) == iw
//
// Both backwards are GATHERS (one writer per dx element, no atomics, deterministic): input row i is
// touched only by the output rows of a small range, found by integer arithmetic (dst_range helpers)
// and filtered with the very tap function the forward uses. See kernels/notes/pool.md.
// Semantics: y and dx are written (=), never accumulated.
// Nearest: for an integer factor (and x2 in particular) this is exactly PyTorch's result; for general
// ratios PyTorch computes floor(o * float(H/OH)), which can differ from the exact floor at rare
// boundaries; fer uses the exact integer form on both backends.
// CUDA: one thread per output element (forward) or per input element (backward), grid-stride.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

struct Upsample2dDims {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input shape
  int64_t out_h = 2, out_w = 2;        // output plane
  int64_t x_size() const { return n * c * h * w; }
  int64_t y_size() const { return n * c * out_h * out_w; }
};

inline Upsample2dDims upsample2d_dims(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w) {
  Upsample2dDims d;
  d.n = n, d.c = c, d.h = h, d.w = w, d.out_h = out_h, d.out_w = out_w;
  return d;
}
// Integer scale factor: OH = scale*H, OW = scale*W (scale = 2 for the attention-gate grid).
inline Upsample2dDims upsample2d_dims_scale(int64_t n, int64_t c, int64_t h, int64_t w, int64_t scale) {
  return upsample2d_dims(n, c, h, w, h * scale, w * scale);
}

// Throws fer::Error (naming `op` and the shapes) unless every size is >= 1.
void check_upsample2d(const char* op, const Upsample2dDims& d);

namespace upsample {
// Products rounded on their own (no fused multiply-add on the GPU), so the source coordinate of the
// CPU twin and of the CUDA kernel are the same number and pick the same taps.
FER_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FER_HD double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

FER_HD int64_t floor_div(int64_t a, int64_t b) { return (a >= 0) ? a / b : -((-a + b - 1) / b); }

// Bilinear taps of output index `o` along an axis of input length `in`: value = l0*x[i0] + l1*x[i1].
template <typename T>
FER_HD void bilinear_taps(int64_t o, int64_t in, T scale, int64_t* i0, int64_t* i1, T* l0, T* l1) {
  T src = mul_rn(scale, T(o) + T(0.5)) - T(0.5);  // half-pixel centres
  if (src < T(0)) src = T(0);                      // clamp (PyTorch: negative source -> 0)
  int64_t i = static_cast<int64_t>(src);
  if (i > in - 1) i = in - 1;  // cannot happen for in/out scales; kept as a guard
  *i0 = i;
  *i1 = i < in - 1 ? i + 1 : i;
  *l1 = src - T(i);
  *l0 = T(1) - *l1;
}

// Output indices [*lo, *hi) whose bilinear taps can touch input index i. The exact source floor is
// floor((in*(2o+1) - out) / (2 out)); rounding of the float coordinate moves it by at most 1, so every
// o whose exact floor lies in [i-2, i+1] is included (a superset; the caller filters with the taps).
FER_HD void bilinear_dst_range(int64_t i, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  const int64_t a = floor_div(2 * out * (i - 2) + out - in, 2 * in);
  const int64_t b = floor_div(2 * out * (i + 2) + out - in, 2 * in) + 1;
  *lo = a < 0 ? 0 : a;
  *hi = b < out ? b : out;
}

// Weight of input index i in output index o's interpolation (0 when o does not touch i).
template <typename T>
FER_HD T bilinear_weight(int64_t o, int64_t i, int64_t in, T scale) {
  int64_t i0, i1;
  T l0, l1;
  bilinear_taps(o, in, scale, &i0, &i1, &l0, &l1);
  return (i0 == i ? l0 : T(0)) + (i1 == i ? l1 : T(0));  // both when i0 == i1 == in-1 (sum is 1)
}

// Nearest: source of output index o, and the output indices [*lo, *hi) whose source is i
// (floor(o*in/out) == i  <=>  i*out <= o*in < (i+1)*out).
FER_HD int64_t nearest_src(int64_t o, int64_t in, int64_t out) { return o * in / out; }
FER_HD void nearest_dst_range(int64_t i, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  *lo = (i * out + in - 1) / in;
  const int64_t b = ((i + 1) * out + in - 1) / in;
  *hi = b < out ? b : out;
}
}  // namespace upsample

namespace cpu {
template <typename T>
void upsample_bilinear2d_forward(const Upsample2dDims& d, const T* x, T* y);
template <typename T>
void upsample_bilinear2d_backward(const Upsample2dDims& d, const T* dy, T* dx);
template <typename T>
void upsample_nearest2d_forward(const Upsample2dDims& d, const T* x, T* y);
template <typename T>
void upsample_nearest2d_backward(const Upsample2dDims& d, const T* dy, T* dx);
}  // namespace cpu

namespace cuda {
void upsample_bilinear2d_forward(const Upsample2dDims& d, const float* x, float* y, cuda_stream stream);
void upsample_bilinear2d_backward(const Upsample2dDims& d, const float* dy, float* dx, cuda_stream stream);
void upsample_nearest2d_forward(const Upsample2dDims& d, const float* x, float* y, cuda_stream stream);
void upsample_nearest2d_backward(const Upsample2dDims& d, const float* dy, float* dx, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
