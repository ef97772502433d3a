// kernels/masking_cpu.cpp: CPU twin of the fused masking block (math in masking.h, derivation
// in kernels/notes/masking.md).
//
// Softmax kind: the channel softmax is a softmax with (outer, dim, inner) = (N, C, H*W), so the
// loop nest is the one of softmax_cpu.cpp: a tile of up to kTile consecutive pixels of one image,
// channel loop outside, pixel loop inside (contiguous), per-pixel max / sum / dot in small arrays.
// Sigmoid kind: a plain elementwise loop.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/activation.h"
#include "kernels/masking.h"

namespace fer {

const char* mask_kind_name(MaskKind kind) { return kind == MaskKind::softmax ? "softmax" : "sigmoid"; }

void check_masking_args(const char* op, int64_t n, int64_t c, int64_t hw) {
  FER_CHECK(n >= 0 && c >= 0 && hw >= 0,
            op << ": negative size (N=" << n << ", C=" << c << ", H*W=" << hw << "); x and z are [N,C,H,W]");
}

namespace cpu {

namespace {

constexpr int64_t kTile = 64;  // pixels handled together

// Runs body(base, p0, width) over every tile of pixels; base = offset of (n, c=0, p=0).
template <typename Body>
void for_each_pixel_tile(int64_t n, int64_t c, int64_t hw, const Body& body) {
  const int64_t tiles_per_image = (hw + kTile - 1) / kTile;
  const int64_t tiles = n * tiles_per_image;
#pragma omp parallel for schedule(static) if (n * c * hw > 32768)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t img = t / tiles_per_image;
    const int64_t p0 = (t % tiles_per_image) * kTile;
    body(img * c * hw, p0, std::min(kTile, hw - p0));
  }
}

// Per-pixel max m and 1/sum exp(z - m) over the channels of one tile.
template <typename T>
void channel_softmax_stats(int64_t c, int64_t hw, const T* z, int64_t w, T* m, T* inv_s) {
  for (int64_t j = 0; j < w; ++j) m[j] = -std::numeric_limits<T>::infinity();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < w; ++j) m[j] = std::max(m[j], z[ch * hw + j]);
  for (int64_t j = 0; j < w; ++j) inv_s[j] = T(0);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < w; ++j) inv_s[j] += std::exp(z[ch * hw + j] - m[j]);
  for (int64_t j = 0; j < w; ++j) inv_s[j] = T(1) / inv_s[j];
}

}  // namespace

// y = x (1 + M); M = channel softmax of z per pixel, or sigmoid(z). M is written when m_out is set.
template <typename T>
void masking_forward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const T* x, const T* z, T* y, T* m_out) {
  check_masking_args("masking_forward", n, c, hw);
  if (kind == MaskKind::sigmoid) {
    const int64_t count = n * c * hw;
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t e = 0; e < count; ++e) {
      const T M = act::sigmoid(z[e]);
      if (m_out) m_out[e] = M;
      y[e] = x[e] * (T(1) + M);
    }
    return;
  }
  for_each_pixel_tile(n, c, hw, [&](int64_t base, int64_t p0, int64_t w) {
    T m[kTile], inv_s[kTile];
    const int64_t off = base + p0;  // (n, c=0, p0); channel ch of pixel p0+j at off + ch*hw + j
    channel_softmax_stats(c, hw, z + off, w, m, inv_s);
    // M_c = exp(z_c - m) / s at every pixel of the tile, then the product
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t j = 0; j < w; ++j) {
        const int64_t e = off + ch * hw + j;
        const T M = std::exp(z[e] - m[j]) * inv_s[j];
        if (m_out) m_out[e] = M;
        y[e] = x[e] * (T(1) + M);
      }
    }
  });
}

// dx = dy (1 + M);  dz = g M (1 - M) (sigmoid) or M (g - sum_c g M) (softmax), g = dy x.
// M is recomputed from z: the same statistics pass as the forward.
template <typename T>
void masking_backward(MaskKind kind, int64_t n, int64_t c, int64_t hw, const T* x, const T* z, const T* dy, T* dx,
                      T* dz) {
  check_masking_args("masking_backward", n, c, hw);
  if (kind == MaskKind::sigmoid) {
    const int64_t count = n * c * hw;
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t e = 0; e < count; ++e) {
      const T M = act::sigmoid(z[e]);
      if (dx) dx[e] = dy[e] * (T(1) + M);
      if (dz) dz[e] = dy[e] * x[e] * M * (T(1) - M);  // g M (1 - M), g = dy x
    }
    return;
  }
  for_each_pixel_tile(n, c, hw, [&](int64_t base, int64_t p0, int64_t w) {
    T m[kTile], inv_s[kTile], dot[kTile];
    const int64_t off = base + p0;
    channel_softmax_stats(c, hw, z + off, w, m, inv_s);
    // dot_p = sum_c g_c M_c with g = dy * x (only dz needs it)
    for (int64_t j = 0; j < w; ++j) dot[j] = T(0);
    if (dz) {
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t j = 0; j < w; ++j) {
          const int64_t e = off + ch * hw + j;
          dot[j] += dy[e] * x[e] * (std::exp(z[e] - m[j]) * inv_s[j]);
        }
      }
    }
    // with the per-pixel dot known, both gradients are elementwise
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t j = 0; j < w; ++j) {
        const int64_t e = off + ch * hw + j;
        const T M = std::exp(z[e] - m[j]) * inv_s[j];
        if (dx) dx[e] = dy[e] * (T(1) + M);
        if (dz) dz[e] = M * (dy[e] * x[e] - dot[j]);  // M_c (g_c - sum g M)
      }
    }
  });
}

#define FER_MASKING_INSTANTIATE(T)                                                                                \
  template void masking_forward<T>(MaskKind, int64_t, int64_t, int64_t, const T*, const T*, T*, T*);              \
  template void masking_backward<T>(MaskKind, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*);
FER_MASKING_INSTANTIATE(float)
FER_MASKING_INSTANTIATE(double)
#undef FER_MASKING_INSTANTIATE

}  // namespace cpu
}  // namespace fer
