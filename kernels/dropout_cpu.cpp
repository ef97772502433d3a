// kernels/dropout_cpu.cpp: CPU twin of inverted dropout and drop-path (see dropout.h for the math).
//
// The loops read like the formula: draw u for the element (or sample), keep it when u >= p, scale
// the kept ones by 1/(1-p). The draw is the shared dropout::keep() of dropout.h, keyed only by
// (seed, stream, offset + index), so OpenMP's split of the loop does not change any decision.
#include "kernels/dropout.h"

namespace fer {

void check_dropout(const char* op, int64_t n, float p) {
  FER_CHECK(n >= 0, op << ": element count " << n << " must be >= 0");
  FER_CHECK(p >= 0.0f && p <= 1.0f,  // also rejects NaN
            op << ": drop probability p = " << p << " must be in [0, 1]; hint: p is the probability to DROP");
}

namespace cpu {

template <typename T>
void dropout_forward(int64_t n, float p, uint64_t seed, uint64_t stream, uint64_t offset, const T* x, T* y,
                     uint8_t* mask, const uint64_t* offset_base) {
  check_dropout("dropout_forward", n, p);
  if (offset_base) offset += *offset_base;
  const T s = dropout::scale<T>(p);  // 1/(1-p), or 0 when p == 1
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = dropout::keep(seed, stream, offset + static_cast<uint64_t>(i), p);  // u_i >= p
    mask[i] = keep ? 1 : 0;         // saved for the backward
    y[i] = keep ? x[i] * s : T(0);  // a select: dropped elements are exact zeros
  }
}

template <typename T>
void dropout_backward(int64_t n, float p, const T* dy, const uint8_t* mask, T* dx) {
  check_dropout("dropout_backward", n, p);
  const T s = dropout::scale<T>(p);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * s : T(0);
}

template <typename T>
void droppath_forward(int64_t n_samples, int64_t sample_size, float p, uint64_t seed, uint64_t stream,
                      uint64_t offset, const T* x, T* y, uint8_t* mask, const uint64_t* offset_base) {
  check_dropout("droppath_forward", n_samples, p);
  if (offset_base) offset += *offset_base;
  FER_CHECK(sample_size >= 0, "droppath_forward: sample_size " << sample_size << " must be >= 0");
  const T s = dropout::scale<T>(p);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < n_samples; ++n) {
    const bool keep = dropout::keep(seed, stream, offset + static_cast<uint64_t>(n), p);  // one draw per sample
    mask[n] = keep ? 1 : 0;
    const T* xs = x + n * sample_size;
    T* ys = y + n * sample_size;
    for (int64_t i = 0; i < sample_size; ++i) ys[i] = keep ? xs[i] * s : T(0);
  }
}

template <typename T>
void droppath_backward(int64_t n_samples, int64_t sample_size, float p, const T* dy, const uint8_t* mask, T* dx) {
  check_dropout("droppath_backward", n_samples, p);
  FER_CHECK(sample_size >= 0, "droppath_backward: sample_size " << sample_size << " must be >= 0");
  const T s = dropout::scale<T>(p);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < n_samples; ++n) {
    const T* dys = dy + n * sample_size;
    T* dxs = dx + n * sample_size;
    for (int64_t i = 0; i < sample_size; ++i) dxs[i] = mask[n] ? dys[i] * s : T(0);
  }
}

#define FER_DROPOUT_INSTANTIATE(T)                                                                            \
  template void dropout_forward<T>(int64_t, float, uint64_t, uint64_t, uint64_t, const T*, T*, uint8_t*, const uint64_t*);    \
  template void dropout_backward<T>(int64_t, float, const T*, const uint8_t*, T*);                           \
  template void droppath_forward<T>(int64_t, int64_t, float, uint64_t, uint64_t, uint64_t, const T*, T*,      \
                                    uint8_t*, const uint64_t*);                                               \
  template void droppath_backward<T>(int64_t, int64_t, float, const T*, const uint8_t*, T*);
FER_DROPOUT_INSTANTIATE(float)
FER_DROPOUT_INSTANTIATE(double)
#undef FER_DROPOUT_INSTANTIATE

}  // namespace cpu
}  // namespace fer
