// kernels/conv2d_cpu.cpp: the geometry validators and the textbook loop nests of 2-D convolution
// (the oracle the fast im2col path in conv2d_im2col_cpu.cpp and the CUDA kernels are tested against).
//
//   forward   y[n,o,i,j]  = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, g*Cg+c, i*sh-ph+p, j*sw-pw+q]
//   dx        dx[n,g*Cg+c,h,v] += w[o,c,p,q] * dy[n,o,i,j]   for every (o,i,j,c,p,q) with h, v inside
//   dw        dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] * x[n, g*Cg+c, i*sh-ph+p, j*sw-pw+q]
//   db        db[o]       = sum_{n,i,j} dy[n,o,i,j]
// (g = o / Og is the group of output channel o; taps that fall in the zero padding are skipped.)
// Each backward is the forward's loop nest with the roles of the arrays exchanged: the same seven
// indices (n, o, i, j, c, p, q) visit the same (x, w, y) triples.
#include <algorithm>
#include <vector>

#include "kernels/conv2d.h"

namespace fer {

void conv2d_check(const char* op, const Conv2dDims& d) {
  FER_CHECK(d.n >= 1 && d.c_in >= 1 && d.h_in >= 1 && d.w_in >= 1 && d.c_out >= 1,
            op << ": input [N,Cin,H,W] = [" << d.n << "," << d.c_in << "," << d.h_in << "," << d.w_in
               << "] and Cout = " << d.c_out << " must be positive; hint: convolution takes a 4-D NCHW tensor");
  FER_CHECK(d.kernel_h >= 1 && d.kernel_w >= 1 && d.stride_h >= 1 && d.stride_w >= 1,
            op << ": kernel " << d.kernel_h << "x" << d.kernel_w << " and stride " << d.stride_h << "x" << d.stride_w
               << " must be >= 1");
  FER_CHECK(d.pad_h >= 0 && d.pad_w >= 0, op << ": padding " << d.pad_h << "x" << d.pad_w << " must be >= 0");
  FER_CHECK(d.groups >= 1 && d.c_in % d.groups == 0 && d.c_out % d.groups == 0,
            op << ": groups = " << d.groups << " must divide both Cin = " << d.c_in << " and Cout = " << d.c_out
               << "; hint: depthwise convolution uses groups = Cin = Cout");
  FER_CHECK(d.h_in + 2 * d.pad_h >= d.kernel_h && d.w_in + 2 * d.pad_w >= d.kernel_w,
            op << ": kernel " << d.kernel_h << "x" << d.kernel_w << " is larger than the padded input "
               << d.h_in + 2 * d.pad_h << "x" << d.w_in + 2 * d.pad_w << " (input " << d.h_in << "x" << d.w_in
               << ", pad " << d.pad_h << "x" << d.pad_w
               << "); hint: the feature map shrank too much before this layer");
}

void conv_transpose2d_check(const char* op, const ConvTranspose2dDims& d) {
  FER_CHECK(d.n >= 1 && d.c_in >= 1 && d.h_in >= 1 && d.w_in >= 1 && d.c_out >= 1,
            op << ": input [N,Cin,H,W] = [" << d.n << "," << d.c_in << "," << d.h_in << "," << d.w_in
               << "] and Cout = " << d.c_out << " must be positive; hint: transposed convolution takes NCHW");
  FER_CHECK(d.kernel_h >= 1 && d.kernel_w >= 1 && d.stride_h >= 1 && d.stride_w >= 1,
            op << ": kernel " << d.kernel_h << "x" << d.kernel_w << " and stride " << d.stride_h << "x" << d.stride_w
               << " must be >= 1");
  FER_CHECK(d.pad_h >= 0 && d.pad_w >= 0, op << ": padding " << d.pad_h << "x" << d.pad_w << " must be >= 0");
  FER_CHECK(d.groups >= 1 && d.c_in % d.groups == 0 && d.c_out % d.groups == 0,
            op << ": groups = " << d.groups << " must divide both Cin = " << d.c_in << " and Cout = " << d.c_out);
  FER_CHECK(d.h_out() >= 1 && d.w_out() >= 1,
            op << ": output size " << d.h_out() << "x" << d.w_out() << " = (in-1)*stride - 2*pad + kernel for input "
               << d.h_in << "x" << d.w_in << ", kernel " << d.kernel_h << "x" << d.kernel_w << ", stride " << d.stride_h
               << "x" << d.stride_w << ", pad " << d.pad_h << "x" << d.pad_w
               << " is empty; hint: the padding is too large for this kernel");
}

namespace cpu {

template <typename T>
void conv2d_forward_reference(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y) {
  conv2d_check("conv2d_forward_reference", d);
  const int64_t H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, kh = d.kernel_h, kw = d.kernel_w;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t o = 0; o < d.c_out; ++o) {
      const int64_t g = o / Og;  // output channel o reads input channels g*Cg .. g*Cg+Cg-1
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          T sum = bias ? bias[o] : T(0);
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t h = i * d.stride_h - d.pad_h + p, v = j * d.stride_w - d.pad_w + q;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;  // zero padding
                sum += w[((o * Cg + c) * kh + p) * kw + q] * x[((n * d.c_in + g * Cg + c) * H + h) * W + v];
              }
          y[((n * d.c_out + o) * Ho + i) * Wo + j] = sum;
        }
    }
}

template <typename T>
void conv2d_backward_input_reference(const Conv2dDims& d, const T* dy, const T* w, T* dx) {
  conv2d_check("conv2d_backward_input_reference", d);
  const int64_t H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, kh = d.kernel_h, kw = d.kernel_w;
  std::fill(dx, dx + d.x_size(), T(0));
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t o = 0; o < d.c_out; ++o) {
      const int64_t g = o / Og;
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          const T g_out = dy[((n * d.c_out + o) * Ho + i) * Wo + j];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t h = i * d.stride_h - d.pad_h + p, v = j * d.stride_w - d.pad_w + q;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                // the forward added w * x here, so x receives w * dy
                dx[((n * d.c_in + g * Cg + c) * H + h) * W + v] += w[((o * Cg + c) * kh + p) * kw + q] * g_out;
              }
        }
    }
}

template <typename T>
void conv2d_backward_weight_reference(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias) {
  conv2d_check("conv2d_backward_weight_reference", d);
  const int64_t H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, kh = d.kernel_h, kw = d.kernel_w;
  for (int64_t o = 0; o < d.c_out; ++o) {
    const int64_t g = o / Og;
    for (int64_t c = 0; dw && c < Cg; ++c)  // dw may be null: only the bias gradient
      for (int64_t p = 0; p < kh; ++p)
        for (int64_t q = 0; q < kw; ++q) {
          T sum = T(0);  // the forward used w[o,c,p,q] once per (n, i, j): collect x * dy there
          for (int64_t n = 0; n < d.n; ++n)
            for (int64_t i = 0; i < Ho; ++i)
              for (int64_t j = 0; j < Wo; ++j) {
                const int64_t h = i * d.stride_h - d.pad_h + p, v = j * d.stride_w - d.pad_w + q;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                sum += dy[((n * d.c_out + o) * Ho + i) * Wo + j] * x[((n * d.c_in + g * Cg + c) * H + h) * W + v];
              }
          dw[((o * Cg + c) * kh + p) * kw + q] = sum;
        }
    if (dbias) {
      T sum = T(0);
      for (int64_t n = 0; n < d.n; ++n)
        for (int64_t k = 0; k < Ho * Wo; ++k) sum += dy[(n * d.c_out + o) * Ho * Wo + k];
      dbias[o] = sum;
    }
  }
}

#define FER_CONV_REF_INSTANTIATE(T)                                                               \
  template void conv2d_forward_reference<T>(const Conv2dDims&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_input_reference<T>(const Conv2dDims&, const T*, const T*, T*);    \
  template void conv2d_backward_weight_reference<T>(const Conv2dDims&, const T*, const T*, T*, T*);
FER_CONV_REF_INSTANTIATE(float)
FER_CONV_REF_INSTANTIATE(double)
#undef FER_CONV_REF_INSTANTIATE

}  // namespace cpu
}  // namespace fer
