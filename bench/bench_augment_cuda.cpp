// bench/bench_augment_cuda.cpp: augmentation on the GPU, the twin of bench_augment (CPU): batches of
// 64 uint8 48x48 images already on the device (as training keeps the dataset there), images/s.
//   version 0: spec "none" (plain bilinear resize + normalisation), the floor
//   version 1: "r001" (flip, rotation 20, translation 10 px), per-pixel affine sample
//   version 2: "strong" (crop, flip, rotation, brightness/contrast, erasing)
// plus usef-kh's ten-crop of an augmented 48x48 batch with per-crop erasing (ten_crop +
// random_erase). Output sizes: 48x48x1 (CNN6) and 224x224x3 (RMN). Each iteration ends with a stream
// synchronisation, so the wall time per iteration is the GPU time of the launches. Without a
// device it prints "skipped: no CUDA device (...)" and exits 0.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "kernels/augment.h"
#include "kernels/device.h"

namespace {

using namespace fer;

// A device buffer for the benchmark's lifetime.
struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) : ptr(cuda::device_malloc(bytes)) {}
  ~DeviceBuffer() { cuda::device_free(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* ptr;
};

const char* kNames[] = {"none", "r001", "strong"};

std::vector<uint8_t> host_images(int64_t batch, int64_t side) {
  std::vector<uint8_t> v(static_cast<size_t>(batch * side * side));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  return v;
}

void BM_augment_cuda(benchmark::State& state) {
  const int64_t batch = 64, in = 48, out = state.range(0), out_c = state.range(1), version = state.range(2);
  const AugmentSpec spec = augment_preset(kNames[version]);
  const cuda_stream s = cuda::default_stream();
  const std::vector<uint8_t> images = host_images(batch, in);
  DeviceBuffer d_images(images.size()), d_keys(batch * sizeof(uint64_t)),
      d_out(static_cast<size_t>(batch * out_c * out * out) * sizeof(float));
  cuda::memcpy_h2d(d_images.ptr, images.data(), images.size(), s);
  std::vector<uint64_t> keys(static_cast<size_t>(batch));
  int64_t epoch = 0;
  for (auto _ : state) {
    for (int64_t b = 0; b < batch; ++b) keys[static_cast<size_t>(b)] = augment_key(epoch % 65536, b);  // fresh draws
    ++epoch;
    cuda::memcpy_h2d(d_keys.ptr, keys.data(), keys.size() * sizeof(uint64_t), s);
    cuda::augment_batch(spec, batch, static_cast<const uint8_t*>(d_images.ptr), in, in,
                        static_cast<const uint64_t*>(d_keys.ptr), 1, out_c, out, out, 0.5f, 0.5f,
                        static_cast<float*>(d_out.ptr), s);
    cuda::stream_synchronize(s);
  }
  state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(kNames[version]);
}

// usef-kh's training batch: augment at 48x48 (erasing off), ten crops of 40x40, erasing per crop.
void BM_ten_crop_cuda(benchmark::State& state) {
  const int64_t batch = 64, in = 48, crop = 40;
  AugmentSpec whole = augment_preset("usefkh");
  const AugmentSpec per_crop = whole;
  whole.erase_p = 0.0;
  const cuda_stream s = cuda::default_stream();
  const std::vector<uint8_t> images = host_images(batch, in);
  DeviceBuffer d_images(images.size()), d_keys(batch * 10 * sizeof(uint64_t)),
      d_full(static_cast<size_t>(batch * in * in) * sizeof(float)),
      d_crops(static_cast<size_t>(batch * 10 * crop * crop) * sizeof(float));
  cuda::memcpy_h2d(d_images.ptr, images.data(), images.size(), s);
  std::vector<uint64_t> keys(static_cast<size_t>(batch * 10));
  int64_t epoch = 0;
  for (auto _ : state) {
    const int64_t e = epoch++ % 65536;
    for (int64_t b = 0; b < batch; ++b) keys[static_cast<size_t>(b)] = augment_key(e, b);
    cuda::memcpy_h2d(d_keys.ptr, keys.data(), static_cast<size_t>(batch) * sizeof(uint64_t), s);
    cuda::augment_batch(whole, batch, static_cast<const uint8_t*>(d_images.ptr), in, in,
                        static_cast<const uint64_t*>(d_keys.ptr), 1, 1, in, in, 0.0f, 1.0f,
                        static_cast<float*>(d_full.ptr), s);
    cuda::ten_crop(batch, 1, in, in, static_cast<const float*>(d_full.ptr), crop, crop, static_cast<float*>(d_crops.ptr),
                   s);
    for (int64_t i = 0; i < batch * 10; ++i)
      keys[static_cast<size_t>(i)] = ten_crop_erase_key(e, i / 10, static_cast<int>(i % 10));
    cuda::memcpy_h2d(d_keys.ptr, keys.data(), keys.size() * sizeof(uint64_t), s);
    cuda::random_erase(per_crop, batch * 10, 1, crop, crop, static_cast<const uint64_t*>(d_keys.ptr), 1,
                       static_cast<float*>(d_crops.ptr), s);
    cuda::stream_synchronize(s);
  }
  state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("usefkh ten-crop");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (cuda::device_count() == 0) {
    std::printf("skipped: no CUDA device (%s)\n", cuda::no_device_reason().c_str());
    return 0;
  }
  benchmark::RegisterBenchmark("augment_cuda", BM_augment_cuda)
      ->ArgNames({"out", "c", "version"})
      ->Args({48, 1, 0})
      ->Args({48, 1, 1})
      ->Args({48, 1, 2})
      ->Args({224, 3, 0})
      ->Args({224, 3, 1})
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("ten_crop_cuda", BM_ten_crop_cuda)->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
