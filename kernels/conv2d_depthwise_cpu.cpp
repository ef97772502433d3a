// kernels/conv2d_depthwise_cpu.cpp: the CPU twin of the direct path for one input channel per group
// (conv2d_depthwise.h).
#include "kernels/conv2d_depthwise.h"

#include <algorithm>

namespace fer::cpu {

namespace {
void check_depthwise(const char* op, const Conv2dDims& d) {
  conv2d_check(op, d);
  FER_CHECK(one_input_channel_per_group(d), op << ": expects one input channel per group (groups = in channels), got in="
                                                << d.c_in << " out=" << d.c_out << " groups=" << d.groups);
}
}  // namespace

namespace {
// The range [j0, j1) of output columns j whose tap column j*s + off lies inside [0, W).
inline void valid_cols(int64_t off, int64_t s, int64_t W, int64_t Wo, int64_t* j0, int64_t* j1) {
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t hi = (W - 1 - off) >= 0 ? (W - 1 - off) / s + 1 : 0;
  hi = std::min(hi, Wo);
  lo = std::min(lo, hi);
  *j0 = lo, *j1 = hi;
}

// dw[o, :, :] (all taps of one output channel) and db[o], each tap's sum over (n, i, j) in that order
// (the reference's), with the taps interleaved: every dy element is read once and feeds kh*kw
// independent accumulators, which keeps the adds pipelined. KS > 0: a KS x KS kernel known at
// compile time (unrolled); KS = 0: any kernel.
template <int KS, typename T>
void weight_grad_channel(const Conv2dDims& d, int64_t o, const T* x, const T* dy, T* dw, T* dbias) {
  const int64_t C = d.c_in, O = d.c_out, m = O / C, H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t kh = KS > 0 ? KS : d.kernel_h, kw = KS > 0 ? KS : d.kernel_w;
  const int64_t sh = d.stride_h, sw = d.stride_w, ph = d.pad_h, pw = d.pad_w;
  constexpr int64_t kMaxTaps = 49;  // 7x7; larger kernels take the per-tap loop below
  T acc[kMaxTaps] = {};
  T bias_acc = T(0);
  for (int64_t n = 0; n < d.n; ++n) {
    const T* x0 = x + (n * C + o / m) * H * W;
    const T* dy0 = dy + (n * O + o) * Ho * Wo;
    for (int64_t i = 0; i < Ho; ++i) {
      const int64_t h0 = i * sh - ph;
      const bool rows_inside = h0 >= 0 && h0 + kh <= H;
      for (int64_t j = 0; j < Wo; ++j) {
        const T g = dy0[i * Wo + j];
        bias_acc += g;
        const int64_t v0 = j * sw - pw;
        if (rows_inside && v0 >= 0 && v0 + kw <= W) {  // every tap inside the image: no checks
          const T* xp = x0 + h0 * W + v0;
          for (int64_t p = 0; p < kh; ++p)
            for (int64_t q = 0; q < kw; ++q) acc[p * kw + q] += g * xp[p * W + q];
        } else {
          for (int64_t p = 0; p < kh; ++p) {
            const int64_t h = h0 + p;
            if (h < 0 || h >= H) continue;
            for (int64_t q = 0; q < kw; ++q) {
              const int64_t v = v0 + q;
              if (v < 0 || v >= W) continue;
              acc[p * kw + q] += g * x0[h * W + v];
            }
          }
        }
      }
    }
  }
  if (dbias) dbias[o] = bias_acc;
  if (dw)
    for (int64_t t = 0; t < kh * kw; ++t) dw[o * kh * kw + t] = acc[t];
}
}  // namespace

// y row by row: each output row starts at the bias and receives one tap (p, q) at a time over its
// valid columns. Every y element thus gets bias + its taps in (p, q) order, padding skipped: the
// reference's sum, bit for bit, with loops over contiguous columns that vectorise.
template <typename T>
void depthwise_conv2d_forward(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y) {
  check_depthwise("depthwise_conv2d_forward", d);
  const int64_t C = d.c_in, O = d.c_out, m = O / C, H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t kh = d.kernel_h, kw = d.kernel_w, sh = d.stride_h, sw = d.stride_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const T* x0 = x + (n * C + o / m) * H * W;  // output channel o reads input channel o / m
      const T* w0 = w + o * kh * kw;
      T* y0 = y + (n * O + o) * Ho * Wo;
      const T init = bias ? bias[o] : T(0);
      for (int64_t i = 0; i < Ho; ++i) {
        T* yr = y0 + i * Wo;
        std::fill(yr, yr + Wo, init);
        for (int64_t p = 0; p < kh; ++p) {
          const int64_t h = i * sh - d.pad_h + p;
          if (h < 0 || h >= H) continue;
          const T* xr = x0 + h * W;
          for (int64_t q = 0; q < kw; ++q) {
            const int64_t off = q - d.pad_w;
            int64_t j0, j1;
            valid_cols(off, sw, W, Wo, &j0, &j1);
            const T wv = w0[p * kw + q];
            if (sw == 1) {
              for (int64_t j = j0; j < j1; ++j) yr[j] += wv * xr[j + off];
            } else {
              for (int64_t j = j0; j < j1; ++j) yr[j] += wv * xr[j * sw + off];
            }
          }
        }
      }
    }
}

// dx plane by plane: zeroed, then every (o, i, p, q) adds w * dy over the row's valid columns (a
// scatter in the forward's pattern; the reference adds the same products in another order).
template <typename T>
void depthwise_conv2d_backward_input(const Conv2dDims& d, const T* dy, const T* w, T* dx) {
  check_depthwise("depthwise_conv2d_backward_input", d);
  const int64_t C = d.c_in, O = d.c_out, m = O / C, H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t kh = d.kernel_h, kw = d.kernel_w, sh = d.stride_h, sw = d.stride_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T* dx0 = dx + (n * C + c) * H * W;
      std::fill(dx0, dx0 + H * W, T(0));
      for (int64_t o = c * m; o < (c + 1) * m; ++o) {  // the m output channels that read channel c
        const T* dy0 = dy + (n * O + o) * Ho * Wo;
        const T* w0 = w + o * kh * kw;
        for (int64_t i = 0; i < Ho; ++i) {
          const T* dyr = dy0 + i * Wo;
          for (int64_t p = 0; p < kh; ++p) {
            const int64_t h = i * sh - d.pad_h + p;
            if (h < 0 || h >= H) continue;
            T* dxr = dx0 + h * W;
            for (int64_t q = 0; q < kw; ++q) {
              const int64_t off = q - d.pad_w;
              int64_t j0, j1;
              valid_cols(off, sw, W, Wo, &j0, &j1);
              const T wv = w0[p * kw + q];
              if (sw == 1) {
                for (int64_t j = j0; j < j1; ++j) dxr[j + off] += wv * dyr[j];
              } else {
                for (int64_t j = j0; j < j1; ++j) dxr[j * sw + off] += wv * dyr[j];
              }
            }
          }
        }
      }
    }
}

template <typename T>
void depthwise_conv2d_backward_weight(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias) {
  check_depthwise("depthwise_conv2d_backward_weight", d);
  if (!dw && !dbias) return;
  const int64_t O = d.c_out, H = d.h_in, W = d.w_in, Ho = d.h_out(), Wo = d.w_out();
  const int64_t kh = d.kernel_h, kw = d.kernel_w;
  if (kh * kw > 49) {  // beyond 7x7: one pass per tap (the reference loop, channel by channel)
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t C = d.c_in, m = O / C;
      if (dbias) {
        T sum = T(0);
        for (int64_t n = 0; n < d.n; ++n)
          for (int64_t k = 0; k < Ho * Wo; ++k) sum += dy[(n * O + o) * Ho * Wo + k];
        dbias[o] = sum;
      }
      for (int64_t p = 0; dw && p < kh; ++p)
        for (int64_t q = 0; q < kw; ++q) {
          T sum = T(0);
          for (int64_t n = 0; n < d.n; ++n)
            for (int64_t i = 0; i < Ho; ++i)
              for (int64_t j = 0; j < Wo; ++j) {
                const int64_t h = i * d.stride_h - d.pad_h + p, v = j * d.stride_w - d.pad_w + q;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                sum += dy[((n * O + o) * Ho + i) * Wo + j] * x[((n * C + o / m) * H + h) * W + v];
              }
          dw[(o * kh + p) * kw + q] = sum;
        }
    }
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    if (kh == 3 && kw == 3)
      weight_grad_channel<3>(d, o, x, dy, dw, dbias);
    else if (kh == 5 && kw == 5)
      weight_grad_channel<5>(d, o, x, dy, dw, dbias);
    else
      weight_grad_channel<0>(d, o, x, dy, dw, dbias);
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
