// kernels/softmax_cpu.cpp: CPU twin of softmax / log_softmax (see softmax.h for the math).
//
// The loop nest: for every (o, i) the softmax runs over k, whose elements are `inner` apart.
// To keep the innermost loop contiguous we take a tile of up to kTile consecutive i for one o
// and sweep k in the outer loop, i in the inner loop, keeping the per-(o, i) max and sum in small
// arrays. For inner == 1 a tile is one row and this is the plain row softmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/softmax.h"

namespace fer {

void check_softmax_args(const char* op, int64_t outer, int64_t dim, int64_t inner) {
  FER_CHECK(outer >= 0 && dim >= 0 && inner >= 0,
            op << ": negative size (outer=" << outer << ", dim=" << dim << ", inner=" << inner << ")");
  FER_CHECK(dim >= 1 || outer * inner == 0,
            op << ": softmax over an empty axis (outer=" << outer << ", dim=0, inner=" << inner
               << "); hint: the softmax axis needs at least one element");
}

namespace cpu {

namespace {

constexpr int64_t kTile = 64;  // consecutive i handled together (contiguous inner loop)

// Runs body(base, i0, width) for every tile; base = offset of (o, k=0, i=0).
template <typename Body>
void for_each_tile(int64_t outer, int64_t dim, int64_t inner, const Body& body) {
  const int64_t tiles_per_o = (inner + kTile - 1) / kTile;
  const int64_t tiles = outer * tiles_per_o;
#pragma omp parallel for schedule(static) if (outer * dim * inner > 32768)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t o = t / tiles_per_o;
    const int64_t i0 = (t % tiles_per_o) * kTile;
    body(o * dim * inner, i0, std::min(kTile, inner - i0));
  }
}

// Forward for softmax (kLog = false) or log_softmax (kLog = true).
template <typename T, bool kLog>
void forward_impl(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y) {
  for_each_tile(outer, dim, inner, [&](int64_t base, int64_t i0, int64_t w) {
    T m[kTile], s[kTile];
    // pass 1: m_i = max_k x_(k,i)
    for (int64_t j = 0; j < w; ++j) m[j] = -std::numeric_limits<T>::infinity();
    for (int64_t k = 0; k < dim; ++k) {
      const T* xk = x + base + k * inner + i0;
      for (int64_t j = 0; j < w; ++j) m[j] = std::max(m[j], xk[j]);
    }
    // pass 2: s_i = sum_k exp(x_(k,i) - m_i)
    for (int64_t j = 0; j < w; ++j) s[j] = T(0);
    for (int64_t k = 0; k < dim; ++k) {
      const T* xk = x + base + k * inner + i0;
      for (int64_t j = 0; j < w; ++j) s[j] += std::exp(xk[j] - m[j]);
    }
    // pass 3: softmax y = exp(x - m) * (1/s);  log_softmax y = (x - m) - log s
    // (x - m is formed first: x - (m + log s) would round m + log s at the magnitude of m)
    for (int64_t j = 0; j < w; ++j) s[j] = kLog ? std::log(s[j]) : T(1) / s[j];
    for (int64_t k = 0; k < dim; ++k) {
      const T* xk = x + base + k * inner + i0;
      T* yk = y + base + k * inner + i0;
      for (int64_t j = 0; j < w; ++j) yk[j] = kLog ? (xk[j] - m[j]) - s[j] : std::exp(xk[j] - m[j]) * s[j];
    }
  });
}

// Backward from the forward output y.
//   softmax:     dx = y * (dy - sum_k dy*y)
//   log_softmax: dx = dy - exp(y) * sum_k dy
template <typename T, bool kLog>
void backward_impl(int64_t outer, int64_t dim, int64_t inner, const T* y, const T* dy, T* dx) {
  for_each_tile(outer, dim, inner, [&](int64_t base, int64_t i0, int64_t w) {
    T dot[kTile];
    for (int64_t j = 0; j < w; ++j) dot[j] = T(0);
    for (int64_t k = 0; k < dim; ++k) {
      const T* yk = y + base + k * inner + i0;
      const T* gk = dy + base + k * inner + i0;
      for (int64_t j = 0; j < w; ++j) dot[j] += kLog ? gk[j] : gk[j] * yk[j];
    }
    for (int64_t k = 0; k < dim; ++k) {
      const T* yk = y + base + k * inner + i0;
      const T* gk = dy + base + k * inner + i0;
      T* dk = dx + base + k * inner + i0;
      for (int64_t j = 0; j < w; ++j) dk[j] = kLog ? gk[j] - std::exp(yk[j]) * dot[j] : yk[j] * (gk[j] - dot[j]);
    }
  });
}

}  // namespace

template <typename T>
void softmax_forward(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y) {
  check_softmax_args("softmax_forward", outer, dim, inner);
  forward_impl<T, false>(outer, dim, inner, x, y);
}

template <typename T>
void log_softmax_forward(int64_t outer, int64_t dim, int64_t inner, const T* x, T* y) {
  check_softmax_args("log_softmax_forward", outer, dim, inner);
  forward_impl<T, true>(outer, dim, inner, x, y);
}

template <typename T>
void softmax_backward(int64_t outer, int64_t dim, int64_t inner, const T* y, const T* dy, T* dx) {
  check_softmax_args("softmax_backward", outer, dim, inner);
  backward_impl<T, false>(outer, dim, inner, y, dy, dx);
}

template <typename T>
void log_softmax_backward(int64_t outer, int64_t dim, int64_t inner, const T* y, const T* dy, T* dx) {
  check_softmax_args("log_softmax_backward", outer, dim, inner);
  backward_impl<T, true>(outer, dim, inner, y, dy, dx);
}

#define FER_SOFTMAX_INSTANTIATE(T)                                                               \
  template void softmax_forward<T>(int64_t, int64_t, int64_t, const T*, T*);                     \
  template void softmax_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);          \
  template void log_softmax_forward<T>(int64_t, int64_t, int64_t, const T*, T*);                 \
  template void log_softmax_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);
FER_SOFTMAX_INSTANTIATE(float)
FER_SOFTMAX_INSTANTIATE(double)
#undef FER_SOFTMAX_INSTANTIATE

}  // namespace cpu
}  // namespace fer
