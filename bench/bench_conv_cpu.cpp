// bench/bench_conv_cpu.cpp: CPU convolution (kernels/conv2d.h) on CNN6's layer shapes (48x48 input,
// k3 s1 p0, 2x2 pools after every second conv): the training path of the default fertrain run.
//   pass     0 forward (with bias), 1 backward input, 2 backward weight + bias
//   version  0 im2col + GEMM (production), 1 the textbook loop nest (the oracle), for scale
// GFLOP/s counts 2 * N*Cout*Ho*Wo*Cin*kh*kw flops per pass (the MACs of the layer).
#include <benchmark/benchmark.h>

#include <vector>

#include "fer/config.h"
#include "kernels/conv2d.h"

namespace {

// CNN6 convs: {Cin, H (= W), Cout}
constexpr int64_t kLayers[][3] = {{1, 48, 16}, {16, 46, 32}, {32, 22, 64}, {64, 20, 128}, {128, 9, 256}, {256, 7, 256}};

void BM_conv(benchmark::State& state) {
  const int64_t layer = state.range(0), pass = state.range(1), version = state.range(2), batch = state.range(3);
  const fer::Conv2dDims d =
      fer::conv2d_dims(batch, kLayers[layer][0], kLayers[layer][1], kLayers[layer][1], kLayers[layer][2], 3);
  std::vector<float> x(d.x_size(), 0.5f), w(d.w_size(), 0.25f), b(d.c_out, 0.1f), y(d.y_size(), 0.3f);
  std::vector<float> dx(d.x_size()), dw(d.w_size()), db(d.c_out);
  for (auto _ : state) {
    if (version == 0) {
      if (pass == 0)
        fer::cpu::conv2d_forward<float>(d, x.data(), w.data(), b.data(), y.data());
      else if (pass == 1)
        fer::cpu::conv2d_backward_input<float>(d, y.data(), w.data(), dx.data());
      else
        fer::cpu::conv2d_backward_weight<float>(d, x.data(), y.data(), dw.data(), db.data());
    } else {
      if (pass == 0)
        fer::cpu::conv2d_forward_reference<float>(d, x.data(), w.data(), b.data(), y.data());
      else if (pass == 1)
        fer::cpu::conv2d_backward_input_reference<float>(d, y.data(), w.data(), dx.data());
      else
        fer::cpu::conv2d_backward_weight_reference<float>(d, x.data(), y.data(), dw.data(), db.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(d.macs()), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  static const char* kPass[] = {"forward", "backward_input", "backward_weight"};
  state.SetLabel(std::string(kPass[pass]) + (version == 0 ? std::string(" im2col+") + fer::kCpuGemm : " reference"));
}

void cnn6_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layer", "pass", "version", "batch"});
  for (int64_t layer = 0; layer < 6; ++layer)
    for (int64_t pass = 0; pass < 3; ++pass) b->Args({layer, pass, 0, 64});
  for (int64_t layer : {1, 3, 5})  // the oracle at batch 4 (it is ~50x slower), for the ratio
    for (int64_t pass = 0; pass < 3; ++pass) b->Args({layer, pass, 1, 4});
}

BENCHMARK(BM_conv)->Apply(cnn6_args)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
