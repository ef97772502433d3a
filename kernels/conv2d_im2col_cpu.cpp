// kernels/conv2d_im2col_cpu.cpp: the fast CPU convolution (im2col + GEMM) and the transposed
// convolution on top of it. See conv2d.h for the math and kernels/notes/conv2d.md for the derivation.
//
// Per group g and chunk of B samples (P = Ho*Wo output pixels, K = Cg*kh*kw, Og = Cout/G):
//   col [K, B*P]     im2col: row r = (c*kh + p)*kw + q, column b*P + i*Wo + j holds
//                    x[n0+b, g*Cg+c, i*sh-ph+p, j*sw-pw+q] (0 in the padding)
//   forward          tile[Og, B*P] = W_g[Og,K] col          -> y[n0+b, g*Og+o, :] = tile[o, b*P:] + b[o]
//   backward input   col = W_g^T[K,Og] dY_g[Og, B*P]        -> dx = col2im(col) (sum of the taps)
//   backward weight  dW_g[Og,K] (+)= dY_g[Og, B*P] col^T     (chunks in order: = for the first, += after)
// B is chosen so that col + tile stay within kChunkElems elements: big GEMMs for small feature maps
// (6x6 maps stack many samples), a sample at a time for large ones. The GEMM (OpenBLAS) uses every
// core; the copies (im2col, col2im, tile scatter) are OpenMP loops over independent rows/planes.
// Pointwise convolutions (1x1, stride 1, pad 0) skip im2col: x itself is the column matrix.
// Depthwise convolutions (groups = Cin, any multiplier: takes_direct_path) take the direct loops of
// conv2d_depthwise.h instead.
// Determinism: no reduction is split across threads in our code; dW sums the chunks in order.
#include <algorithm>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv2d_depthwise.h"
#include "kernels/gemm.h"

namespace fer::cpu {

namespace {

constexpr int64_t kChunkElems = int64_t(1) << 22;  // 4M elements of scratch (16 MB float, 32 MB double)

struct Plan {
  int64_t H, W, Ho, Wo, P, Cg, Og, K, kh, kw, B;
  bool pointwise;
};

Plan make_plan(const Conv2dDims& d) {
  Plan pl;
  pl.H = d.h_in, pl.W = d.w_in, pl.Ho = d.h_out(), pl.Wo = d.w_out(), pl.P = pl.Ho * pl.Wo;
  pl.Cg = d.c_in / d.groups, pl.Og = d.c_out / d.groups, pl.kh = d.kernel_h, pl.kw = d.kernel_w;
  pl.K = pl.Cg * pl.kh * pl.kw;
  pl.pointwise = pl.kh == 1 && pl.kw == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h == 0 && d.pad_w == 0;
  pl.B = pl.pointwise ? 1 : std::clamp<int64_t>(kChunkElems / ((pl.K + pl.Og) * pl.P), 1, d.n);
  return pl;
}

// Scratch memory reused across calls on this thread (the autograd engine calls from one thread).
template <typename T>
T* scratch(int64_t elems) {
  thread_local std::vector<T> buf;
  if (static_cast<int64_t>(buf.size()) < elems) buf.resize(static_cast<size_t>(elems));
  return buf.data();
}

// The range [j0, j1) of output columns j whose tap v = j*s + off lands inside [0, W).
inline void valid_cols(int64_t off, int64_t s, int64_t W, int64_t Wo, int64_t* j0, int64_t* j1) {
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t hi = (W - 1 - off) >= 0 ? (W - 1 - off) / s + 1 : 0;
  hi = std::min(hi, Wo);
  lo = std::min(lo, hi);
  *j0 = lo, *j1 = hi;
}

// col[K, B*P] for samples n0 .. n0+B-1 of group g.
template <typename T>
void im2col(const Conv2dDims& d, const Plan& pl, const T* x, int64_t n0, int64_t B, int64_t g, T* col) {
  const int64_t ld = B * pl.P;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < pl.K; ++r) {
      const int64_t c = r / (pl.kh * pl.kw), p = (r / pl.kw) % pl.kh, q = r % pl.kw;
      const T* plane = x + ((n0 + b) * d.c_in + g * pl.Cg + c) * pl.H * pl.W;
      T* out = col + r * ld + b * pl.P;
      const int64_t off = q - d.pad_w;  // input column = j*sw + off
      int64_t j0, j1;
      valid_cols(off, d.stride_w, pl.W, pl.Wo, &j0, &j1);
      for (int64_t i = 0; i < pl.Ho; ++i) {
        T* orow = out + i * pl.Wo;
        const int64_t h = i * d.stride_h - d.pad_h + p;
        if (h < 0 || h >= pl.H) {  // the whole output row reads the zero padding
          std::fill(orow, orow + pl.Wo, T(0));
          continue;
        }
        const T* xrow = plane + h * pl.W;
        std::fill(orow, orow + j0, T(0));
        if (d.stride_w == 1) {
          for (int64_t j = j0; j < j1; ++j) orow[j] = xrow[j + off];
        } else {
          for (int64_t j = j0; j < j1; ++j) orow[j] = xrow[j * d.stride_w + off];
        }
        std::fill(orow + j1, orow + pl.Wo, T(0));
      }
    }
}

// dx planes of samples n0.. and group g = sum of the col entries that read them. Each (b, c) plane
// is one thread's; within it the taps are added in (p, q) order, the order of conv::col2im_value
// (the CUDA gather), so both backends perform the same additions.
template <typename T>
void col2im(const Conv2dDims& d, const Plan& pl, const T* col, int64_t n0, int64_t B, int64_t g, T* dx) {
  const int64_t ld = B * pl.P;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < pl.Cg; ++c) {
      T* plane = dx + ((n0 + b) * d.c_in + g * pl.Cg + c) * pl.H * pl.W;
      std::fill(plane, plane + pl.H * pl.W, T(0));
      for (int64_t p = 0; p < pl.kh; ++p)
        for (int64_t q = 0; q < pl.kw; ++q) {
          const T* in = col + ((c * pl.kh + p) * pl.kw + q) * ld + b * pl.P;
          const int64_t off = q - d.pad_w;
          int64_t j0, j1;
          valid_cols(off, d.stride_w, pl.W, pl.Wo, &j0, &j1);
          for (int64_t i = 0; i < pl.Ho; ++i) {
            const int64_t h = i * d.stride_h - d.pad_h + p;
            if (h < 0 || h >= pl.H) continue;
            T* xrow = plane + h * pl.W;
            const T* irow = in + i * pl.Wo;
            if (d.stride_w == 1) {
              for (int64_t j = j0; j < j1; ++j) xrow[j + off] += irow[j];
            } else {
              for (int64_t j = j0; j < j1; ++j) xrow[j * d.stride_w + off] += irow[j];
            }
          }
        }
    }
}

// dY_g of samples n0.. as a [Og, B*P] matrix: a view of dy when B == 1, else gathered into tile.
template <typename T>
const T* gather_dy(const Conv2dDims& d, const Plan& pl, const T* dy, int64_t n0, int64_t B, int64_t g, T* tile,
                   int64_t* ld) {
  if (B == 1) {
    *ld = pl.P;
    return dy + (n0 * d.c_out + g * pl.Og) * pl.P;
  }
  *ld = B * pl.P;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t o = 0; o < pl.Og; ++o) {
      const T* src = dy + ((n0 + b) * d.c_out + g * pl.Og + o) * pl.P;
      std::copy(src, src + pl.P, tile + o * B * pl.P + b * pl.P);
    }
  return tile;
}

// Per-channel sums of a [N, C, P] array in (n, p) order: the bias gradient.
template <typename T>
void channel_sums(int64_t N, int64_t C, int64_t P, const T* a, T* out) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    T sum = T(0);
    for (int64_t n = 0; n < N; ++n) {
      const T* row = a + (n * C + c) * P;
      for (int64_t k = 0; k < P; ++k) sum += row[k];
    }
    out[c] = sum;
  }
}

template <typename T>
void add_channel_bias(int64_t N, int64_t C, int64_t P, const T* bias, T* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T* row = y + (n * C + c) * P;
      for (int64_t k = 0; k < P; ++k) row[k] += bias[c];
    }
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dDims& d, const T* x, const T* w, const T* bias, T* y) {
  conv2d_check("conv2d_forward", d);
  if (takes_direct_path(d)) return depthwise_conv2d_forward(d, x, w, bias, y);  // conv2d_depthwise.h
  const Plan pl = make_plan(d);
  T* col = pl.pointwise ? nullptr : scratch<T>((pl.K + pl.Og) * pl.B * pl.P);
  T* tile = pl.pointwise ? nullptr : col + pl.K * pl.B * pl.P;
  for (int64_t n0 = 0; n0 < d.n; n0 += pl.B) {
    const int64_t B = std::min(pl.B, d.n - n0), ld = B * pl.P;
    for (int64_t g = 0; g < d.groups; ++g) {
      const T* wg = w + g * pl.Og * pl.K;
      const T* cols = col;
      if (pl.pointwise)
        cols = x + (n0 * d.c_in + g * pl.Cg) * pl.P;  // x[n] is already [Cin, P]
      else
        im2col(d, pl, x, n0, B, g, col);
      if (B == 1) {  // one sample: the GEMM writes straight into y[n0, g*Og.., :]
        gemm<T>(false, false, pl.Og, pl.P, pl.K, T(1), wg, pl.K, cols, pl.P, T(0),
                y + (n0 * d.c_out + g * pl.Og) * pl.P, pl.P);
        continue;
      }
      gemm<T>(false, false, pl.Og, ld, pl.K, T(1), wg, pl.K, cols, ld, T(0), tile, ld);
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t o = 0; o < pl.Og; ++o) {  // tile[o, b*P + k] -> y[n0+b, g*Og+o, k]
          const T* src = tile + o * ld + b * pl.P;
          std::copy(src, src + pl.P, y + ((n0 + b) * d.c_out + g * pl.Og + o) * pl.P);
        }
    }
  }
  if (bias) add_channel_bias(d.n, d.c_out, pl.P, bias, y);
}

template <typename T>
void conv2d_backward_input(const Conv2dDims& d, const T* dy, const T* w, T* dx) {
  conv2d_check("conv2d_backward_input", d);
  if (takes_direct_path(d)) return depthwise_conv2d_backward_input(d, dy, w, dx);
  const Plan pl = make_plan(d);
  T* col = pl.pointwise ? nullptr : scratch<T>((pl.K + pl.Og) * pl.B * pl.P);
  T* tile = pl.pointwise ? nullptr : col + pl.K * pl.B * pl.P;
  for (int64_t n0 = 0; n0 < d.n; n0 += pl.B) {
    const int64_t B = std::min(pl.B, d.n - n0);
    for (int64_t g = 0; g < d.groups; ++g) {
      int64_t ld_dy;
      const T* dyg = gather_dy(d, pl, dy, n0, B, g, tile, &ld_dy);
      const T* wg = w + g * pl.Og * pl.K;
      if (pl.pointwise) {  // col2im is the identity: dx[n0, g*Cg.., :] = W_g^T dY_g
        gemm<T>(true, false, pl.K, pl.P, pl.Og, T(1), wg, pl.K, dyg, ld_dy, T(0), dx + (n0 * d.c_in + g * pl.Cg) * pl.P,
                pl.P);
        continue;
      }
      gemm<T>(true, false, pl.K, B * pl.P, pl.Og, T(1), wg, pl.K, dyg, ld_dy, T(0), col, B * pl.P);
      col2im(d, pl, col, n0, B, g, dx);
    }
  }
}

template <typename T>
void conv2d_backward_weight(const Conv2dDims& d, const T* x, const T* dy, T* dw, T* dbias) {
  conv2d_check("conv2d_backward_weight", d);
  if (takes_direct_path(d)) return depthwise_conv2d_backward_weight(d, x, dy, dw, dbias);
  const Plan pl = make_plan(d);
  if (dbias) channel_sums(d.n, d.c_out, pl.P, dy, dbias);
  if (!dw) return;  // only the bias gradient was asked for
  T* col = pl.pointwise ? nullptr : scratch<T>((pl.K + pl.Og) * pl.B * pl.P);
  T* tile = pl.pointwise ? nullptr : col + pl.K * pl.B * pl.P;
  for (int64_t n0 = 0; n0 < d.n; n0 += pl.B) {
    const int64_t B = std::min(pl.B, d.n - n0);
    const T beta = n0 == 0 ? T(0) : T(1);  // chunks are summed in batch order
    for (int64_t g = 0; g < d.groups; ++g) {
      int64_t ld_dy;
      const T* dyg = gather_dy(d, pl, dy, n0, B, g, tile, &ld_dy);
      const T* cols = col;
      if (pl.pointwise)
        cols = x + (n0 * d.c_in + g * pl.Cg) * pl.P;
      else
        im2col(d, pl, x, n0, B, g, col);
      // dW_g[Og, K] (+)= dY_g[Og, B*P] col[K, B*P]^T
      gemm<T>(false, true, pl.Og, pl.K, B * pl.P, T(1), dyg, ld_dy, cols, B * pl.P, beta, dw + g * pl.Og * pl.K, pl.K);
    }
  }
}

// ---- transposed convolution: the adjoint of the convolution d.as_conv() ------------------------------

template <typename T>
void conv_transpose2d_forward(const ConvTranspose2dDims& d, const T* x, const T* w, const T* bias, T* y) {
  conv_transpose2d_check("conv_transpose2d_forward", d);
  conv2d_backward_input<T>(d.as_conv(), x, w, y);  // y = A^T x, A the convolution y-shape -> x-shape
  if (bias) add_channel_bias(d.n, d.c_out, d.h_out() * d.w_out(), bias, y);
}

template <typename T>
void conv_transpose2d_backward_input(const ConvTranspose2dDims& d, const T* dy, const T* w, T* dx) {
  conv_transpose2d_check("conv_transpose2d_backward_input", d);
  conv2d_forward<T>(d.as_conv(), dy, w, nullptr, dx);  // dx = A dy
}

template <typename T>
void conv_transpose2d_backward_weight(const ConvTranspose2dDims& d, const T* x, const T* dy, T* dw, T* dbias) {
  conv_transpose2d_check("conv_transpose2d_backward_weight", d);
  // <dy, A_w^T x> = <A_w dy, x>: the convolution's weight gradient with input dy and output gradient x.
  if (dw) conv2d_backward_weight<T>(d.as_conv(), dy, x, dw, nullptr);
  if (dbias) channel_sums(d.n, d.c_out, d.h_out() * d.w_out(), dy, dbias);
}

#define FER_CONV_INSTANTIATE(T)                                                                            \
  template void conv2d_forward<T>(const Conv2dDims&, const T*, const T*, const T*, T*);                    \
  template void conv2d_backward_input<T>(const Conv2dDims&, const T*, const T*, T*);                       \
  template void conv2d_backward_weight<T>(const Conv2dDims&, const T*, const T*, T*, T*);                  \
  template void conv_transpose2d_forward<T>(const ConvTranspose2dDims&, const T*, const T*, const T*, T*); \
  template void conv_transpose2d_backward_input<T>(const ConvTranspose2dDims&, const T*, const T*, T*);    \
  template void conv_transpose2d_backward_weight<T>(const ConvTranspose2dDims&, const T*, const T*, T*, T*);
FER_CONV_INSTANTIATE(float)
FER_CONV_INSTANTIATE(double)
#undef FER_CONV_INSTANTIATE

}  // namespace fer::cpu
