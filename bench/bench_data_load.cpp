// bench/bench_data_load.cpp: reading the FER2013 folder set (32,298 JPEGs: decode, convert to 48x48
// gray, sort) and generating synthetic faces, with 1 and 2 OpenMP threads. Needs $FER_DATA (the
// folder holding fer2013/); without it the folder benchmark reports an error and the others run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "data/dataset.h"
#include "data/synthetic.h"

namespace {

void BM_load_fer2013_folders(benchmark::State& state) {
  const char* root = std::getenv("FER_DATA");
  const std::filesystem::path dir = root ? std::filesystem::path(root) / "fer2013" : std::filesystem::path();
  if (!root || !std::filesystem::is_directory(dir)) {
    state.SkipWithError("FER_DATA is not set or has no fer2013/ folder");
    return;
  }
  fer::data::LoadOptions options;
  options.threads = static_cast<int>(state.range(0));
  int64_t images = 0;
  for (auto _ : state) {
    const fer::data::Dataset ds = fer::data::load_dataset(dir, options);
    images = ds.size();
    benchmark::DoNotOptimize(ds.pixels.data());
  }
  state.counters["images"] = static_cast<double>(images);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_load_fer2013_folders)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_synthetic_faces(benchmark::State& state) {
  const int64_t count = state.range(0);
  for (auto _ : state) {
    const fer::data::Dataset ds = fer::data::make_synthetic_faces(count, 1);
    benchmark::DoNotOptimize(ds.pixels.data());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(count), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_synthetic_faces)->ArgName("count")->Arg(7000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
