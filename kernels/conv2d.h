// kernels/conv2d.h: 2-D convolution and transposed convolution (dilation 1), forward and backward.
//
// Shapes (NCHW, contiguous), G groups, Cg = Cin/G input and Og = Cout/G output channels per group:
//   x [N,Cin,H,W]   w [Cout,Cg,kh,kw]   b [Cout]   y [N,Cout,Ho,Wo],  Ho = (H + 2ph - kh)/sh + 1
//
//   forward   y[n,o,i,j]  = b[o] + sum_{c in group(o), p, q} w[o,c,p,q] * x[n, c, i*sh-ph+p, j*sw-pw+q]
//   dx        dx[n,c,h,v] = sum_{o in group(c), p, q : (h+ph-p)/sh = i, (v+pw-q)/sw = j exact and in range}
//                                w[o,c,p,q] * dy[n,o,i,j]
//   dw        dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] * x[n, c, i*sh-ph+p, j*sw-pw+q]
//   db        db[o]       = sum_{n,i,j} dy[n,o,i,j]                (x outside the image reads 0)
//
// As matrices (im2col): per sample n and group g, col[K = Cg*kh*kw, P = Ho*Wo] holds the patches,
//   Y_g[Og,P] = W_g[Og,K] col       col = W_g^T dY_g  then dx = col2im(col)       dW_g = sum_n dY_g col^T
// The fast kernels stack B samples side by side (col [K, B*P]) so one GEMM serves a chunk of the
// batch. See kernels/notes/conv2d.md.
//
// Transposed convolution (PyTorch ConvTranspose2d, output_padding 0): w [Cin, Cout/G, kh, kw],
//   y [N,Cout,Ho,Wo] with Ho = (H-1)*sh - 2ph + kh. It is the adjoint of the convolution from y's
//   shape to x's shape with the same w (as_conv() below), so
//   forward = conv dx(dy := x) + b,   dx = conv forward(x := dy),   dw = conv dw(x := dy, dy := x),
//   db = per-channel sum of dy.
//
// Semantics: every output is written (=), never accumulated (y, dx, dw, db).
// CPU: templates over float and double. cpu::*_reference are the textbook loop nests (the oracle);
// the others use im2col + GEMM (kernels/gemm.h, OpenBLAS) with OpenMP copies; deterministic.
// CUDA (float): im2col/col2im kernels + cuBLAS through cuda::gemm, in a caller-provided workspace of
// conv2d_workspace_floats(d) floats; bias gradients by a fixed-order block reduction (no atomics).
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"
#include "kernels/precision.h"

namespace fer {

// The geometry of one convolution layer (dilation 1). Square helper: conv2d_dims() below.
struct Conv2dDims {
  int64_t n = 1, c_in = 1, h_in = 1, w_in = 1;  // input x [N, Cin, H, W]
  int64_t c_out = 1;                            // output channels
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t groups = 1;

  FER_HD int64_t h_out() const { return (h_in + 2 * pad_h - kernel_h) / stride_h + 1; }
  FER_HD int64_t w_out() const { return (w_in + 2 * pad_w - kernel_w) / stride_w + 1; }
  int64_t x_size() const { return n * c_in * h_in * w_in; }
  int64_t w_size() const { return c_out * (c_in / groups) * kernel_h * kernel_w; }
  int64_t y_size() const { return n * c_out * h_out() * w_out(); }
  int64_t macs() const { return n * c_out * h_out() * w_out() * (c_in / groups) * kernel_h * kernel_w; }
};

inline Conv2dDims conv2d_dims(int64_t n, int64_t c_in, int64_t h_in, int64_t w_in, int64_t c_out, int64_t kernel,
                              int64_t stride = 1, int64_t pad = 0, int64_t groups = 1) {
  Conv2dDims d;
  d.n = n, d.c_in = c_in, d.h_in = h_in, d.w_in = w_in, d.c_out = c_out;
  d.kernel_h = d.kernel_w = kernel;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = pad;
  d.groups = groups;
  return d;
}

// Throws fer::Error (naming `op` and the geometry) unless d is a valid convolution: positive sizes,
// groups dividing both channel counts, pad >= 0, and an output of at least 1x1.
void conv2d_check(const char* op, const Conv2dDims& d);

// Transposed convolution geometry: x [N, Cin, H, W] -> y [N, Cout, Ho, Wo], w [Cin, Cout/G, kh, kw].
struct ConvTranspose2dDims {
  int64_t n = 1, c_in = 1, h_in = 1, w_in = 1;
  int64_t c_out = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t groups = 1;

  FER_HD int64_t h_out() const { return (h_in - 1) * stride_h - 2 * pad_h + kernel_h; }
  FER_HD int64_t w_out() const { return (w_in - 1) * stride_w - 2 * pad_w + kernel_w; }
  int64_t x_size() const { return n * c_in * h_in * w_in; }
  int64_t w_size() const { return c_in * (c_out / groups) * kernel_h * kernel_w; }
  int64_t y_size() const { return n * c_out * h_out() * w_out(); }
  int64_t macs() const { return n * c_in * h_in * w_in * (c_out / groups) * kernel_h * kernel_w; }

  // The convolution whose input-gradient this op is: input [N, Cout, Ho, Wo] -> output [N, Cin, H, W].
  Conv2dDims as_conv() const {
    Conv2dDims c;
    c.n = n, c.c_in = c_out, c.h_in = h_out(), c.w_in = w_out(), c.c_out = c_in;
    c.kernel_h = kernel_h, c.kernel_w = kernel_w, c.stride_h = stride_h, c.stride_w = stride_w;
    c.pad_h = pad_h, c.pad_w = pad_w, c.groups = groups;
    return c;
  }
};

inline ConvTranspose2dDims conv_transpose2d_dims(int64_t n, int64_t c_in, int64_t h_in, int64_t w_in, int64_t c_out,
                                                 int64_t kernel, int64_t stride = 1, int64_t pad = 0,
                                                 int64_t groups = 1) {
  ConvTranspose2dDims d;
  d.n = n, d.c_in = c_in, d.h_in = h_in, d.w_in = w_in, d.c_out = c_out;
  d.kernel_h = d.kernel_w = kernel;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = pad;
  d.groups = groups;
  return d;
}

// Validator of the transposed geometry (output >= 1x1, groups, pad < kernel ...).
void conv_transpose2d_check(const char* op, const ConvTranspose2dDims& d);

namespace conv {
// Per-element helpers shared by the CPU fast path and the CUDA kernels.

// im2col entry: row r = (c*kh + p)*kw + q of sample column (i, j); 0 in the padding.
template <typename T>
FER_HD T im2col_value(const T* plane0, int64_t H, int64_t W, int64_t c, int64_t p, int64_t q, int64_t i, int64_t j,
                      int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  const int64_t h = i * sh - ph + p, v = j * sw - pw + q;
  return (h >= 0 && h < H && v >= 0 && v < W) ? plane0[(c * H + h) * W + v] : T(0);
}

// col2im as a gather: input pixel (c, h, v) of one sample sums every col entry that read it,
// in (p, q) row-major order. col is [Cg*kh*kw, ld] with the sample's columns starting at col0.
template <typename T>
FER_HD T col2im_value(const T* col0, int64_t ld, int64_t Ho, int64_t Wo, int64_t kh, int64_t kw, int64_t c, int64_t h,
                      int64_t v, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  T sum = T(0);
  for (int64_t p = 0; p < kh; ++p) {
    const int64_t ti = h + ph - p;  // = i*sh for the output row i that reads (h) through tap p
    if (ti < 0 || ti % sh != 0) continue;
    const int64_t i = ti / sh;
    if (i >= Ho) continue;
    for (int64_t q = 0; q < kw; ++q) {
      const int64_t tj = v + pw - q;
      if (tj < 0 || tj % sw != 0) continue;
      const int64_t j = tj / sw;
      if (j >= Wo) continue;
      sum += col0[((c * kh + p) * kw + q) * ld + i * Wo + j];
    }
  }
  return sum;
}
}  // namespace conv

namespace cpu {
// ---- convolution, fast path (im2col + GEMM) --------------------------------------------------------
// y [N,Cout,Ho,Wo] =  (bias may be null)
template <typename T>
void conv2d_forward(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y);
// dx [N,Cin,H,W] =
template <typename T>
void conv2d_backward_input(const Conv2dDims& d, const T* dy, const T* w, T* dx);
// dw [Cout,Cg,kh,kw] =, dbias [Cout] = (either may be null: that gradient is skipped)
template <typename T>
void conv2d_backward_weight(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias);

// ---- convolution, the textbook loop nests (oracle) -------------------------------------------------
template <typename T>
void conv2d_forward_reference(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void conv2d_backward_input_reference(const Conv2dDims& d, const T* dy, const T* w, T* dx);
template <typename T>
void conv2d_backward_weight_reference(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias);

// ---- transposed convolution (through the convolution kernels) --------------------------------------
// y [N,Cout,Ho,Wo] =  (bias may be null)
template <typename T>
void conv_transpose2d_forward(const ConvTranspose2dDims& d, const T* x, const T* w, const T* bias, T* y);
// dx [N,Cin,H,W] =
template <typename T>
void conv_transpose2d_backward_input(const ConvTranspose2dDims& d, const T* dy, const T* w, T* dx);
// dw [Cin,Cout/G,kh,kw] =, dbias [Cout] = (either may be null)
template <typename T>
void conv_transpose2d_backward_weight(const ConvTranspose2dDims& d, const T* x, const T* dy, T* dw, T* dbias);
}  // namespace cpu

namespace cuda {
// Floats of scratch memory the CUDA entry points need for d (im2col columns + a GEMM result tile for
// a chunk of the batch). Pass a buffer of at least this many floats as `workspace`.
// `operands` = tf32 | bf16: the two GEMM operands passed in (x/dy and w, or x and dy) are already
// rounded to that format (kernels/precision.h), so the GEMMs may run on the tensor cores
// (cuda::gemm in kernels/gemm.h); fp32 (the default) is the plain fp32 path.
int64_t conv2d_workspace_floats(const Conv2dDims& d);
int64_t conv_transpose2d_workspace_floats(const ConvTranspose2dDims& d);

void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y, float* workspace,
                    cuda_stream stream, MathPrecision operands = MathPrecision::fp32);
void conv2d_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, float* workspace,
                           cuda_stream stream, MathPrecision operands = MathPrecision::fp32);
void conv2d_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* dbias,
                            float* workspace, cuda_stream stream, MathPrecision operands = MathPrecision::fp32);

void conv_transpose2d_forward(const ConvTranspose2dDims& d, const float* x, const float* w, const float* bias, float* y,
                              float* workspace, cuda_stream stream, MathPrecision operands = MathPrecision::fp32);
void conv_transpose2d_backward_input(const ConvTranspose2dDims& d, const float* dy, const float* w, float* dx,
                                     float* workspace, cuda_stream stream,
                                     MathPrecision operands = MathPrecision::fp32);
void conv_transpose2d_backward_weight(const ConvTranspose2dDims& d, const float* x, const float* dy, float* dw,
                                      float* dbias, float* workspace, cuda_stream stream,
                                      MathPrecision operands = MathPrecision::fp32);
}  // namespace cuda

}  // namespace fer
