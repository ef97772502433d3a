// bench/bench_augment.cpp: the CPU twin of augmentation on the batches training makes: 64 FER2013
// images (48x48 gray) per batch, images/s.
//   version 0: spec "none" (plain bilinear resize + normalisation), the floor
//   version 1: "r001" (flip, rotation 20, translation 10 px), per-pixel affine sample
//   version 2: "strong" (crop, flip, rotation, brightness/contrast, erasing)
// Output sizes: 48x48x1 (CNN6) and 224x224x3 (RMN).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "kernels/augment.h"

namespace {

void BM_augment_cpu(benchmark::State& state) {
  const int64_t batch = 64, in = 48, out = state.range(0), out_c = state.range(1), version = state.range(2);
  const char* names[] = {"none", "r001", "strong"};
  const fer::AugmentSpec spec = fer::augment_preset(names[version]);
  std::vector<uint8_t> images(static_cast<size_t>(batch * in * in));
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  std::vector<uint64_t> keys;
  for (int64_t b = 0; b < batch; ++b) keys.push_back(fer::augment_key(0, b));
  std::vector<float> y(static_cast<size_t>(batch * out_c * out * out));
  int64_t epoch = 0;
  for (auto _ : state) {
    for (int64_t b = 0; b < batch; ++b) keys[b] = fer::augment_key(epoch % 65536, b);  // fresh draws each time
    ++epoch;
    fer::cpu::augment_batch<float>(spec, batch, images.data(), in, in, keys.data(), 1, out_c, out, out, 0.5f, 0.5f,
                                   y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(names[version]);
}

// {out size, out channels, version}
BENCHMARK(BM_augment_cpu)
    ->ArgNames({"out", "c", "version"})
    ->Args({48, 1, 0})
    ->Args({48, 1, 1})
    ->Args({48, 1, 2})
    ->Args({224, 3, 0})
    ->Args({224, 3, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
