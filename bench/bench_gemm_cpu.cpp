// bench/bench_gemm_cpu.cpp: the CPU GEMM behind im2col convolution and linear layers, on the
// shapes CNN6 produces at batch 64 (per-image im2col GEMMs and the FC layers).
//   version 0: OpenBLAS (or the blocked fallback when the build has no OpenBLAS) = production
//   version 1: the textbook reference loop (the oracle), for scale
#include <benchmark/benchmark.h>

#include <vector>

#include "fer/config.h"
#include "kernels/gemm.h"

namespace {

void BM_gemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2), version = state.range(3);
  std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N);
  for (auto _ : state) {
    if (version == 0) fer::cpu::gemm<float>(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
    else fer::cpu::gemm_reference<float>(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel(version == 0 ? fer::kCpuGemm : "reference");
}

// {M, N, K, version}: conv as [Cout, Ho*Wo] = [Cout, Cin*9] x [Cin*9, Ho*Wo]; FC as [B, out] = [B, in] x [in, out].
BENCHMARK(BM_gemm)
    ->ArgNames({"M", "N", "K", "version"})
    ->Args({32, 1936, 144, 0})
    ->Args({128, 324, 576, 0})
    ->Args({256, 25, 2304, 0})
    ->Args({64, 512, 1024, 0})
    ->Args({32, 1936, 144, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
