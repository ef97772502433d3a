// kernels/precision.h: the matmul precision (fp32 | tf32 | bf16) and the operand rounding behind it.
//
// One process-wide setting, math_precision(), chooses the numerics of the matrix products of the
// tensor ops conv2d / conv_transpose2d (forward, grad-input, grad-weight), linear and bmm:
//
//   fp32   operands as they are (the reference; the default)
//   tf32   each operand rounded to TF32 (8-bit exponent, 10-bit mantissa) the way the tensor cores'
//          cvt.rna.tf32.f32 does it: round to nearest, ties AWAY from zero:
//              u = bits(x);  y = (u + 0x1000) & 0xFFFFE000          (13 low bits dropped)
//   bf16   each operand rounded to BF16 (8-bit exponent, 7-bit mantissa), round to nearest, ties
//          to EVEN (cast::float_to_bf16, the conversion the bf16 tensor-core path uses):
//              u = bits(x);  y = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
//
//   C = sum_k round(a_k) * round(b_k), every product and sum in fp32.
//
// The product of two TF32 (BF16) values has at most 22 (16) significant bits, so it is exact in
// fp32: the only difference from an fp32 GEMM is the operand rounding (relative error <= u =
// 2^-11 for TF32, 2^-8 for BF16, per operand) plus the usual fp32 accumulation. Everything else
// stays fp32: parameters (fp32 master weights; only a rounded COPY enters the product), gradients,
// optimizer state, batch-norm statistics, biases and their gradients, losses. kernels/notes/precision.md
// has the error bound and what the tests tolerate.
//
// The rounding is applied by the tensor ops (tensor/ops_conv.cpp, tensor/ops_linear.cpp: rounded
// copies of the f32 operands, then the fp32 kernels). It never touches f64 (the gradient-check
// dtype), and the raw kernels (cpu::gemm, cpu::conv2d_*, cuda::*) are never affected by the setting:
// callers such as data/knn.cpp rely on their exact fp32 results.
// Both backends run the very same FER_HD integer code below, so the rounded bits agree exactly.
// NaN stays NaN (sign and top payload bits kept, quiet bit set), +-inf stays inf, the largest
// finite values round to inf (IEEE overflow under round-to-nearest), denormals are rounded like
// any other value (no flush to zero).
#pragma once

#include <cstdint>
#include <string>

#include "kernels/cast.h"
#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

enum class MathPrecision { fp32, tf32, bf16 };

// The process-wide setting (an atomic; default fp32). Set it once before building the graph:
// a backward pass uses the precision its forward recorded.
void set_math_precision(MathPrecision p);
MathPrecision math_precision();

// "fp32" | "tf32" | "bf16", and back (throws fer::Error naming the three choices).
const char* math_precision_name(MathPrecision p);
MathPrecision parse_math_precision(const std::string& name);

// Sets the precision for a scope and restores the previous one at its end (tests, fertrain).
class MathPrecisionScope {
 public:
  explicit MathPrecisionScope(MathPrecision p) : saved_(math_precision()) { set_math_precision(p); }
  ~MathPrecisionScope() { set_math_precision(saved_); }
  MathPrecisionScope(const MathPrecisionScope&) = delete;
  MathPrecisionScope& operator=(const MathPrecisionScope&) = delete;

 private:
  MathPrecision saved_;
};

namespace precision {

// TF32, round to nearest, ties away from zero (cvt.rna.tf32.f32), returned as a float whose 13
// low mantissa bits are zero.
FER_HD float round_tf32(float f) {
  const uint32_t u = cast::float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return cast::bits_float((u & 0xFFFFE000u) | 0x00400000u);  // NaN stays NaN
  if ((u & 0x7F800000u) == 0x7F800000u) return f;                                                 // +-inf
  return cast::bits_float((u + 0x1000u) & 0xFFFFE000u);  // adds half an ulp to the magnitude: ties go up in |x|
}

// BF16, round to nearest, ties to even (cast::float_to_bf16), returned as a float whose 16 low
// bits are zero.
FER_HD float round_bf16(float f) {
  return cast::bf16_to_float(cast::float_to_bf16(f));
}

FER_HD float round_to(float f, MathPrecision p) {
  return p == MathPrecision::tf32 ? round_tf32(f) : p == MathPrecision::bf16 ? round_bf16(f) : f;
}

// Unit roundoff of one operand rounding: 2^-11 (tf32), 2^-8 (bf16), 0 (fp32).
inline double unit_roundoff(MathPrecision p) {
  return p == MathPrecision::tf32 ? 1.0 / 2048.0 : p == MathPrecision::bf16 ? 1.0 / 256.0 : 0.0;
}

}  // namespace precision

namespace cpu {
// y[i] = precision::round_to(x[i], p) (=); x == y (in place) is allowed.
void round_to_precision(MathPrecision p, int64_t n, const float* x, float* y);
}  // namespace cpu

namespace cuda {
void round_to_precision(MathPrecision p, int64_t n, const float* x, float* y, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
