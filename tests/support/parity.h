// tests/support/parity.h: CUDA-vs-CPU parity checks (only built with the CUDA backend).
//
// DeviceArray holds a float buffer on the GPU; a fresh one is pre-filled with NaN, so an output
// the kernel forgets to write fails the comparison. expect_close() compares element by element
// with |gpu - cpu| <= atol + rtol * |cpu| and reports max abs/rel error and % of threshold.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/device.h"

namespace fer::test {

class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    ptr_ = static_cast<float*>(cuda::device_malloc(std::max<size_t>(n, 1) * sizeof(float)));
    cuda::fill_float(ptr_, std::numeric_limits<float>::quiet_NaN(), n, cuda::default_stream());
  }
  explicit DeviceArray(const std::vector<float>& host) : DeviceArray(host.size()) {
    cuda::memcpy_h2d(ptr_, host.data(), host.size() * sizeof(float), cuda::default_stream());
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cuda::device_free_nothrow(ptr_); }
  float* get() { return ptr_; }
  const float* get() const { return ptr_; }
  size_t size() const { return n_; }
  std::vector<float> download() const {
    std::vector<float> h(n_);
    cuda::memcpy_d2h(h.data(), ptr_, n_ * sizeof(float), cuda::default_stream());
    return h;
  }

 private:
  float* ptr_ = nullptr;
  size_t n_ = 0;
};

// A typed device buffer (labels, indices, masks). A fresh one is filled with 0xAB bytes so an
// unwritten output shows up as garbage rather than as a plausible zero.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    ptr_ = static_cast<T*>(cuda::device_malloc(std::max<size_t>(n, 1) * sizeof(T)));
    cuda::memset_device(ptr_, 0xAB, std::max<size_t>(n, 1) * sizeof(T), cuda::default_stream());
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    cuda::memcpy_h2d(ptr_, host.data(), host.size() * sizeof(T), cuda::default_stream());
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cuda::device_free_nothrow(ptr_); }
  T* get() { return ptr_; }
  const T* get() const { return ptr_; }
  size_t size() const { return n_; }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    cuda::memcpy_d2h(h.data(), ptr_, n_ * sizeof(T), cuda::default_stream());
    return h;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

// A CPU output buffer pre-filled with a value no kernel produces by accident.
inline std::vector<float> cpu_output(size_t n) { return std::vector<float>(n, -7.77e7f); }

inline void expect_close(const std::string& what, const std::vector<float>& gpu, const std::vector<float>& cpu,
                         double atol, double rtol) {
  REQUIRE_MESSAGE(gpu.size() == cpu.size(), what << ": sizes differ (gpu " << gpu.size() << ", cpu " << cpu.size()
                                                 << ")");
  double max_abs = 0, max_rel = 0, worst_ratio = 0;
  size_t worst = 0;
  bool bad_value = false;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double g = gpu[i], c = cpu[i];
    if (!std::isfinite(g) || !std::isfinite(c)) {
      if (!bad_value) worst = i;
      bad_value = true;
      continue;
    }
    const double err = std::fabs(g - c);
    const double ratio = err / (atol + rtol * std::fabs(c));
    max_abs = std::max(max_abs, err);
    if (c != 0) max_rel = std::max(max_rel, err / std::fabs(c));
    if (ratio > worst_ratio && !bad_value) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  MESSAGE(what << ": max abs err " << max_abs << ", max rel err " << max_rel << ", " << 100.0 * worst_ratio
               << "% of threshold (atol " << atol << ", rtol " << rtol << ")");
  CHECK_MESSAGE(!bad_value, what << ": non-finite value at element " << worst << " (gpu " << gpu[worst] << ", cpu "
                                 << cpu[worst] << "): an output was not written");
  CHECK_MESSAGE(worst_ratio <= 1.0, what << ": mismatch at element " << worst << ": gpu " << gpu[worst] << " vs cpu "
                                         << cpu[worst]);
}

inline std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace fer::test
