// kernels/cast_cpu.cpp: CPU twin of the dtype conversions (see cast.h). Plain loops over the
// shared cast:: functions; narrowing int64 -> int32 is range-checked before converting.
#include <limits>
#include <type_traits>

#include "kernels/cast.h"

namespace fer::cpu {

namespace {
constexpr int64_t kParallelMin = 32768;
}  // namespace

// Each loop applies the shared per-element function of cast.h, the very code the CUDA kernel runs.
template <typename T>
void u8_to_float(int64_t n, const uint8_t* x, T scale, T shift, T* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = cast::u8_affine(x[i], scale, shift);
}

void float_to_bf16(int64_t n, const float* x, uint16_t* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = cast::float_to_bf16(x[i]);
}

void bf16_to_float(int64_t n, const uint16_t* x, float* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = cast::bf16_to_float(x[i]);
}

template <typename Src, typename Dst>
void convert(int64_t n, const Src* x, Dst* y) {
  if constexpr (std::is_integral_v<Src> && std::is_integral_v<Dst> && sizeof(Dst) < sizeof(Src)) {
    // Checked before the (parallel) copy: an exception must not leave an OpenMP region.
    for (int64_t i = 0; i < n; ++i) {
      // static_cast would silently keep the low bits of a value that does not fit
      FER_CHECK(x[i] >= std::numeric_limits<Dst>::min() && x[i] <= std::numeric_limits<Dst>::max(),
                "convert: value " << x[i] << " at position " << i << " does not fit in " << sizeof(Dst) * 8
                                  << "-bit integers; hint: keep such indices in int64");
    }
  }
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<Dst>(x[i]);
}

// Explicit instantiations (see cast.h for the supported pairs).
template void u8_to_float<float>(int64_t, const uint8_t*, float, float, float*);
template void u8_to_float<double>(int64_t, const uint8_t*, double, double, double*);
template void convert<float, double>(int64_t, const float*, double*);
template void convert<double, float>(int64_t, const double*, float*);
template void convert<int32_t, int64_t>(int64_t, const int32_t*, int64_t*);
template void convert<int64_t, int32_t>(int64_t, const int64_t*, int32_t*);

}  // namespace fer::cpu
