// kernels/conv2d_depthwise_cpu.cpp: the CPU twin of the depthwise direct path (conv2d_depthwise.h).
#include "kernels/conv2d_depthwise.h"

#include <algorithm>

namespace fer::cpu {

namespace {
void check_depthwise(const char* op, const Conv2dDims& d) {
  conv2d_check(op, d);
  FER_CHECK(is_depthwise(d), op << ": expects a depthwise convolution (groups = in = out channels), got in="
                                << d.c_in << " out=" << d.c_out << " groups=" << d.groups);
}
}  // namespace

template <typename T>
void depthwise_conv2d_forward(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y) {
  check_depthwise("depthwise_conv2d_forward", d);
  const int64_t C = d.c_in, HW = d.h_in * d.w_in, Ho = d.h_out(), Wo = d.w_out(), K = d.kernel_h * d.kernel_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T* x0 = x + (n * C + c) * HW;
      T* y0 = y + (n * C + c) * Ho * Wo;
      const T init = bias ? bias[c] : T(0);
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) y0[i * Wo + j] = depthwise::forward_value(d, x0, w + c * K, init, i, j);
    }
}

template <typename T>
void depthwise_conv2d_backward_input(const Conv2dDims& d, const T* dy, const T* w, T* dx) {
  check_depthwise("depthwise_conv2d_backward_input", d);
  const int64_t C = d.c_in, H = d.h_in, W = d.w_in, P = d.h_out() * d.w_out(), K = d.kernel_h * d.kernel_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T* dy0 = dy + (n * C + c) * P;
      T* dx0 = dx + (n * C + c) * H * W;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t v = 0; v < W; ++v) dx0[h * W + v] = depthwise::input_grad_value(d, dy0, w + c * K, h, v);
    }
}

template <typename T>
void depthwise_conv2d_backward_weight(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias) {
  check_depthwise("depthwise_conv2d_backward_weight", d);
  const int64_t C = d.c_in, H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t kh = d.kernel_h, kw = d.kernel_w;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    if (dbias) {
      T sum = T(0);
      for (int64_t n = 0; n < d.n; ++n) {
        const T* dy0 = dy + (n * C + c) * Ho * Wo;
        for (int64_t k = 0; k < Ho * Wo; ++k) sum += dy0[k];
      }
      dbias[c] = sum;
    }
    if (!dw) continue;
    for (int64_t p = 0; p < kh; ++p)
      for (int64_t q = 0; q < kw; ++q) {
        T sum = T(0);
        for (int64_t n = 0; n < d.n; ++n) {
          const T* x0 = x + (n * C + c) * H * W;
          const T* dy0 = dy + (n * C + c) * Ho * Wo;
          for (int64_t i = 0; i < Ho; ++i) {
            const int64_t h = i * d.stride_h - d.pad_h + p;
            if (h < 0 || h >= H) continue;
            for (int64_t j = 0; j < Wo; ++j) {
              const int64_t v = j * d.stride_w - d.pad_w + q;
              if (v < 0 || v >= W) continue;
              sum += dy0[i * Wo + j] * x0[h * W + v];
            }
          }
        }
        dw[(c * kh + p) * kw + q] = sum;
      }
  }
}

#define FER_DEPTHWISE_INSTANTIATE(T)                                                                  \
  template void depthwise_conv2d_forward<T>(const Conv2dDims&, const T*, const T*, const T*, T*);     \
  template void depthwise_conv2d_backward_input<T>(const Conv2dDims&, const T*, const T*, T*);        \
  template void depthwise_conv2d_backward_weight<T>(const Conv2dDims&, const T*, const T*, T*, T*);
FER_DEPTHWISE_INSTANTIATE(float)
FER_DEPTHWISE_INSTANTIATE(double)
#undef FER_DEPTHWISE_INSTANTIATE

}  // namespace fer::cpu
