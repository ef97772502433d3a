// kernels/augment_math.h: the per-image and per-pixel math of kernels/augment.h, shared by the CPU twin
// and the CUDA kernel (FER_HD), written so that both evaluate it to the very same bits.
//
// Determinism. Philox gives both backends the same integers (kernels/philox.h). Everything derived
// from them uses only IEEE operations that are correctly rounded on both sides and never contracted
// into fused multiply-adds (explicit __*_rn intrinsics on the GPU; the host build has no -mfma):
//   +, -, *, /, sqrt, floor, ldexp, frexp.
// exp, log, sin and cos are NOT taken from the math libraries (glibc and CUDA differ in the last
// bit); det_exp / det_log / det_sincos_deg below are short polynomials on top of the operations
// above, accurate to about 1e-15 relative, which is plenty for augmentation parameters.
// Per-pixel geometry and bilinear sampling run in T (float on CUDA, float or double on the CPU)
// with the same explicit roundings, so CPU-float and CUDA outputs agree bit for bit in practice
// (the parity test allows 1e-4).
//
// The inverse mapping (kernels/notes/augment.md derives it): an output pixel centre p = (ox+0.5,
// oy+0.5) maps to the input point (u, v) = A p + a (continuous coordinates, pixel i covers [i, i+1)).
// The sample is bilinear with half-pixel centres, (sx, sy) = (u - 0.5, v - 0.5):
//   outside the input's support (u < 0, u > in_w, v < 0 or v > in_h) -> 0 (black, constant fill);
//   inside: sx, sy clamped to [0, in-1] (edge replicate within the half-pixel border, exactly as
//   PyTorch's align_corners=False resize), then the usual 4-tap blend.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace fer::augment {

// ---- correctly rounded operations, never fused -------------------------------------------------
FER_HD double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
FER_HD double dadd(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
FER_HD double dsub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
FER_HD double ddiv(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
FER_HD double dsqrt(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
FER_HD float rmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FER_HD float radd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
FER_HD float rsub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
FER_HD float rdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
FER_HD double rmul(double a, double b) { return dmul(a, b); }
FER_HD double radd(double a, double b) { return dadd(a, b); }
FER_HD double rsub(double a, double b) { return dsub(a, b); }
FER_HD double rdiv(double a, double b) { return ddiv(a, b); }

// ---- deterministic elementary functions (double) -----------------------------------------------
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // fdlibm's split of ln 2: hi has trailing zeros
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kPi = 3.14159265358979323846;

// exp(x) for |x| < 700: x = k ln2 + r, |r| <= ln2/2, Taylor to r^14 (error < 1e-17), times 2^k.
FER_HD double det_exp(double x) {
  const double k = floor(dadd(dmul(x, 1.4426950408889634074), 0.5));
  const double r = dsub(dsub(x, dmul(k, kLn2Hi)), dmul(k, kLn2Lo));
  double p = 1.0;
  for (int n = 14; n >= 1; --n) p = dadd(1.0, ddiv(dmul(p, r), double(n)));  // Horner of sum r^n/n!
  return ldexp(p, static_cast<int>(k));
}

// log(x) for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1),
// |s| <= 0.172, series to s^23 (error < 1e-17).
FER_HD double det_log(double x) {
  int e = 0;
  double m = frexp(x, &e);  // m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m = dmul(m, 2.0);
    e -= 1;
  }
  const double s = ddiv(dsub(m, 1.0), dadd(m, 1.0)), s2 = dmul(s, s);
  double p = 1.0 / 23.0;
  for (int n = 21; n >= 1; n -= 2) p = dadd(1.0 / double(n), dmul(p, s2));
  const double log_m = dmul(dmul(2.0, s), p);
  return dadd(dmul(double(e), kLn2Hi), dadd(dmul(double(e), kLn2Lo), log_m));
}

// sin and cos of an angle in degrees, |deg| <= 360: quadrant q = round(deg/90), r in [-pi/4, pi/4],
// Taylor to r^17 / r^18 (error < 1e-16). Multiples of 90 degrees give exact 0 and +-1.
FER_HD void det_sincos_deg(double deg, double* s, double* c) {
  const double q = floor(dadd(ddiv(deg, 90.0), 0.5));
  const double r = dmul(dsub(deg, dmul(q, 90.0)), kPi / 180.0);
  const double r2 = dmul(r, r);
  double ps = 1.0, pc = 1.0;
  for (int n = 17; n >= 3; n -= 2) ps = dsub(1.0, ddiv(dmul(ps, r2), double(n * (n - 1))));  // sin r / r
  for (int n = 18; n >= 2; n -= 2) pc = dsub(1.0, ddiv(dmul(pc, r2), double(n * (n - 1))));  // cos r
  const double sr = dmul(r, ps), cr = pc;
  int quadrant = static_cast<int>(q) % 4;
  if (quadrant < 0) quadrant += 4;
  switch (quadrant) {
    case 0: *s = sr, *c = cr; break;
    case 1: *s = cr, *c = -sr; break;
    case 2: *s = -sr, *c = -cr; break;
    default: *s = -cr, *c = sr; break;
  }
}

// lo + (hi - lo) * u.
FER_HD double lerp(double lo, double hi, double u) { return dadd(lo, dmul(dsub(hi, lo), u)); }

// Uniform in [0, 1) number `offset` of the image's stream (seed, key), as a double (exact).
FER_HD double draw(uint64_t seed, uint64_t key, uint64_t offset) {
  return static_cast<double>(philox::uniform(seed, key, offset));
}

// ---- per-pixel sampling -------------------------------------------------------------------------
// Bilinear sample of a gray u8 image at continuous point (u, v), as a value in [0, 255]; 0 outside.
template <typename T>
FER_HD T sample_bilinear(const uint8_t* img, int64_t h, int64_t w, T u, T v) {
  if (!(u >= T(0) && u <= T(w) && v >= T(0) && v <= T(h))) return T(0);  // also catches NaN
  T sx = rsub(u, T(0.5)), sy = rsub(v, T(0.5));
  if (sx < T(0)) sx = T(0);
  if (sy < T(0)) sy = T(0);
  if (sx > T(w - 1)) sx = T(w - 1);
  if (sy > T(h - 1)) sy = T(h - 1);
  const int64_t j0 = static_cast<int64_t>(sx), i0 = static_cast<int64_t>(sy);
  const int64_t j1 = j0 < w - 1 ? j0 + 1 : j0, i1 = i0 < h - 1 ? i0 + 1 : i0;
  const T lx1 = rsub(sx, T(j0)), ly1 = rsub(sy, T(i0));
  const T lx0 = rsub(T(1), lx1), ly0 = rsub(T(1), ly1);
  const T top = radd(rmul(lx0, T(img[i0 * w + j0])), rmul(lx1, T(img[i0 * w + j1])));
  const T bot = radd(rmul(lx0, T(img[i1 * w + j0])), rmul(lx1, T(img[i1 * w + j1])));
  return radd(rmul(ly0, top), rmul(ly1, bot));
}

// A standard normal number for output pixel `pixel` of the image (Irwin-Hall: the sum of 4 uniforms
// of one Philox block, centred and scaled to variance 1; exact float arithmetic on both backends).
FER_HD float pixel_noise(uint64_t seed, uint64_t key, uint64_t pixel) {
  const philox::Uint4 r = philox::random4(seed, key, 32 + pixel);  // offsets 128 + 4*pixel ...
  const float sum = radd(radd(philox::u32_to_uniform(r.x), philox::u32_to_uniform(r.y)),
                         radd(philox::u32_to_uniform(r.z), philox::u32_to_uniform(r.w)));
  return rmul(rsub(sum, 2.0f), 1.7320508075688772f);
}

}  // namespace fer::augment
