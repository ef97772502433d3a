// kernels/precision_cpu.cpp: the process-wide matmul precision and the CPU twin of the operand
// rounding (see precision.h). The loop applies the shared precision::round_to, the very integer code
// the CUDA kernel runs.
#include <atomic>

#include "kernels/precision.h"

namespace fer {

namespace {
std::atomic<MathPrecision> g_math_precision{MathPrecision::fp32};
constexpr int64_t kParallelMin = 32768;
}  // namespace

void set_math_precision(MathPrecision p) {
  g_math_precision.store(p);
}

MathPrecision math_precision() {
  return g_math_precision.load();
}

const char* math_precision_name(MathPrecision p) {
  switch (p) {
    case MathPrecision::fp32:
      return "fp32";
    case MathPrecision::tf32:
      return "tf32";
    case MathPrecision::bf16:
      return "bf16";
  }
  return "?";
}

MathPrecision parse_math_precision(const std::string& name) {
  if (name == "fp32") return MathPrecision::fp32;
  if (name == "tf32") return MathPrecision::tf32;
  if (name == "bf16") return MathPrecision::bf16;
  FER_FAIL("precision '" << name << "' is not one of fp32, tf32, bf16");
}

namespace cpu {

void round_to_precision(MathPrecision p, int64_t n, const float* x, float* y) {
  FER_CHECK(n >= 0, "round_to_precision: negative size " << n);
  if (p == MathPrecision::tf32) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = precision::round_tf32(x[i]);
  } else if (p == MathPrecision::bf16) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = precision::round_bf16(x[i]);
  } else if (x != y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i];
  }
}

}  // namespace cpu
}  // namespace fer
