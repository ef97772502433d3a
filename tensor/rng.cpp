// tensor/rng.cpp: Generator positions and the Philox-backed fills.
#include "tensor/rng.h"

#include <cmath>
#include <vector>

#include "kernels/philox.h"

namespace fer {

uint64_t Generator::reserve(RngStream stream, uint64_t count) {
  uint64_t& pos = positions_[static_cast<size_t>(stream)];
  const uint64_t start = pos;
  pos += (count + 3) / 4 * 4;  // whole blocks, so every draw starts on a fresh Philox block
  return start;
}

void Generator::begin_capture(const uint64_t* device_bases) {
  FER_CHECK(device_bases != nullptr, "Generator::begin_capture: the device bases are null");
  FER_CHECK(capture_bases_ == nullptr, "Generator::begin_capture: a capture is already in progress");
  capture_bases_ = device_bases;
  capture_start_ = positions_;
}

Generator::Draw Generator::locate(RngStream stream, uint64_t offset) const {
  if (capture_bases_ == nullptr) return {offset, nullptr};
  const size_t s = static_cast<size_t>(stream);
  return {offset - capture_start_[s], capture_bases_ + s};
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator() = Generator(seed); }

namespace {

template <typename Fn>
void fill_host_values(Tensor& t, Fn&& value_at) {
  FER_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64,
            "random fill: tensor must be f32 or f64, got " << describe(t));
  const int64_t n = t.numel();
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = value_at(i);
  if (t.dtype() == DType::f64) {
    t.copy_from(Tensor::from_vector(v, t.shape()));
  } else {
    t.copy_from(Tensor::from_vector(std::vector<float>(v.begin(), v.end()), t.shape()));
  }
}

}  // namespace

void uniform_(Tensor& t, double low, double high, Generator& gen) {
  const uint64_t seed = gen.seed(), stream = Generator::stream_id(RngStream::init);
  const uint64_t base = gen.reserve(RngStream::init, static_cast<uint64_t>(t.numel()));
  fill_host_values(t, [&](int64_t i) {
    const double u = philox::uniform(seed, stream, base + static_cast<uint64_t>(i));
    return low + (high - low) * u;
  });
}

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  // Box-Muller: two uniforms per value (u1 in (0,1] so log never sees 0).
  const uint64_t seed = gen.seed(), stream = Generator::stream_id(RngStream::init);
  const uint64_t base = gen.reserve(RngStream::init, 2 * static_cast<uint64_t>(t.numel()));
  fill_host_values(t, [&](int64_t i) {
    const uint64_t k = base + 2 * static_cast<uint64_t>(i);
    const double u1 = 1.0 - philox::uniform(seed, stream, k);
    const double u2 = philox::uniform(seed, stream, k + 1);
    return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
}

}  // namespace fer
