// kernels/cast.h: dtype conversions.
//
//   u8_to_float    y = scale * float(x) + shift   (uint8 pixels -> float; 1/255, 0 gives [0, 1])
//   float_to_bf16  y = bf16 bits of x, rounded to nearest, ties to even:
//                    u = bits(x);  y = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
//                  adding 0x7FFF rounds the 16 dropped bits up when they exceed one half; the
//                  extra +1 when the kept lsb is odd turns an exact half into "round to even".
//                  The carry moves into the exponent when the mantissa overflows, which is exactly
//                  right (largest finite values round to inf, denormals stay denormal). A NaN keeps
//                  its sign and the top 7 payload bits and gets the quiet bit (bits >> 16 | 0x40):
//                  rounding could otherwise carry it into inf, or drop every payload bit and make
//                  it inf (0x7F800001 -> 0x7F80). Same rule as tensor/tensor.cpp's host conversion.
//   bf16_to_float  y = float with bits (x << 16): exact.
//   convert        y = Dst(x): float <-> double (CPU only), int32 <-> int64. Narrowing int64 ->
//                  int32: the CPU twin checks the range and throws; CUDA keeps the low 32 bits
//                  (callers narrow only indices they know to fit).
//
// bf16 values are stored as uint16_t bit patterns. The per-element functions below are FER_HD:
// the CPU twin and the CUDA kernel run the very same integer code, so the bits agree exactly
// (the parity test checks it on every special value and on random bit patterns).
// Semantics: every output is written (=). Shapes: n elements, contiguous. No backward: casts of
// data (pixels, indices) carry no gradient; a float <-> bf16 cast inside a mixed-precision model
// passes the gradient through unchanged (straight-through), which the tensor layer does itself.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

namespace cast {

// The bits of a float and back (memcpy on the host, the intrinsics in device code).
FER_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
FER_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

FER_HD uint16_t float_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN: stays NaN
  const uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

FER_HD float bf16_to_float(uint16_t h) {
  return bits_float(static_cast<uint32_t>(h) << 16);
}

template <typename T>
FER_HD T u8_affine(uint8_t x, T scale, T shift) {
  return scale * static_cast<T>(x) + shift;
}

}  // namespace cast

namespace cpu {

// y = scale * x + shift (=); T = float or double
template <typename T>
void u8_to_float(int64_t n, const uint8_t* x, T scale, T shift, T* y);
void float_to_bf16(int64_t n, const float* x, uint16_t* y);
void bf16_to_float(int64_t n, const uint16_t* x, float* y);
// Instantiated for (float, double), (double, float), (int32_t, int64_t), (int64_t, int32_t).
template <typename Src, typename Dst>
void convert(int64_t n, const Src* x, Dst* y);

}  // namespace cpu

namespace cuda {

void u8_to_float(int64_t n, const uint8_t* x, float scale, float shift, float* y, cuda_stream stream);
void float_to_bf16(int64_t n, const float* x, uint16_t* y, cuda_stream stream);
void bf16_to_float(int64_t n, const uint16_t* x, float* y, cuda_stream stream);
// Instantiated for (int32_t, int64_t) and (int64_t, int32_t).
template <typename Src, typename Dst>
void convert(int64_t n, const Src* x, Dst* y, cuda_stream stream);

}  // namespace cuda

}  // namespace fer
