// CUDA vs CPU parity for dropout and drop-path. The masks must be bit-identical (both sides draw
// philox::uniform(seed, stream, offset + i) through the shared dropout::keep()), and so must y and
// dx (one float multiply by the same 1/(1-p) on both sides): tolerance 0 everywhere.
// GPU outputs are pre-filled with NaN (float) / 0xAB (mask), CPU outputs with other values.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "kernels/device.h"
#include "kernels/dropout.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

// A uint8 device buffer (parity.h's DeviceArray is float-only), pre-filled with a byte.
class DeviceBytes {
 public:
  DeviceBytes(size_t n, int fill_byte) : n_(n) {
    ptr_ = static_cast<uint8_t*>(cuda::device_malloc(std::max<size_t>(n, 1)));
    cuda::memset_device(ptr_, fill_byte, n, cuda::default_stream());
  }
  explicit DeviceBytes(const std::vector<uint8_t>& host) : DeviceBytes(host.size(), 0) {
    cuda::memcpy_h2d(ptr_, host.data(), host.size(), cuda::default_stream());
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  ~DeviceBytes() { cuda::device_free_nothrow(ptr_); }
  uint8_t* get() { return ptr_; }
  std::vector<uint8_t> download() const {
    std::vector<uint8_t> h(n_);
    cuda::memcpy_d2h(h.data(), ptr_, n_, cuda::default_stream());
    return h;
  }

 private:
  uint8_t* ptr_ = nullptr;
  size_t n_ = 0;
};

template <typename T>
void expect_identical(const std::string& what, const std::vector<T>& gpu, const std::vector<T>& cpu) {
  REQUIRE(gpu.size() == cpu.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < gpu.size(); ++i)
    if (!(gpu[i] == cpu[i]) && bad++ == 0) first = i;
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << gpu.size() << " elements differ; first at " << first
                               << " (gpu " << +gpu[first] << ", cpu " << +cpu[first] << ")");
}

}  // namespace

TEST_CASE("dropout cuda == cpu: bit-identical masks, outputs and gradients") {
  cuda_stream s = cuda::default_stream();
  const uint64_t offsets[] = {0, 5, (uint64_t(1) << 32) + 3};
  for (int64_t n : {1, 255, 257, 10007, (1 << 20) + 3}) {
    for (float p : {0.0f, 0.1f, 0.5f, 0.9f, 1.0f}) {
      for (uint64_t offset : offsets) {
        const std::string name = "dropout n=" + std::to_string(n) + " p=" + std::to_string(p) +
                                 " offset=" + std::to_string(offset);
        CAPTURE(name);
        const auto x = test::to_float(test::random_vector(n, 51));
        const auto dy = test::to_float(test::random_vector(n, 52));
        auto y = test::cpu_output(n), dx = test::cpu_output(n);
        std::vector<uint8_t> mask(n, 0xCD);
        cpu::dropout_forward<float>(n, p, 2024, 9, offset, x.data(), y.data(), mask.data());
        cpu::dropout_backward<float>(n, p, dy.data(), mask.data(), dx.data());

        test::DeviceArray gx(x), gy(n), gdy(dy), gdx(n);
        DeviceBytes gmask(n, 0xAB);
        cuda::dropout_forward(n, p, 2024, 9, offset, gx.get(), gy.get(), gmask.get(), s);
        cuda::dropout_backward(n, p, gdy.get(), gmask.get(), gdx.get(), s);
        expect_identical(name + " mask", gmask.download(), mask);
        expect_identical(name + " y", gy.download(), y);
        expect_identical(name + " dx", gdx.download(), dx);
      }
    }
  }
}

TEST_CASE("dropout cuda: in-place and backward from a CPU mask") {
  cuda_stream s = cuda::default_stream();
  const int64_t n = 4099;
  const auto x = test::to_float(test::random_vector(n, 53));
  auto y = test::cpu_output(n);
  std::vector<uint8_t> mask(n);
  cpu::dropout_forward<float>(n, 0.3f, 1, 2, 3, x.data(), y.data(), mask.data());
  test::DeviceArray gx(x);
  DeviceBytes gmask(n, 0xAB);
  cuda::dropout_forward(n, 0.3f, 1, 2, 3, gx.get(), gx.get(), gmask.get(), s);  // y == x
  expect_identical("dropout in-place y", gx.download(), y);
  // Backward consumes any mask: one produced on the CPU gives the CPU's dx.
  auto dx = test::cpu_output(n);
  cpu::dropout_backward<float>(n, 0.3f, x.data(), mask.data(), dx.data());
  DeviceBytes cmask(mask);
  test::DeviceArray gdy(x), gdx(n);
  cuda::dropout_backward(n, 0.3f, gdy.get(), cmask.get(), gdx.get(), s);
  expect_identical("dropout backward from cpu mask", gdx.download(), dx);
}

TEST_CASE("drop-path cuda == cpu: bit-identical per-sample masks, outputs and gradients") {
  cuda_stream s = cuda::default_stream();
  const int64_t sample_counts[] = {1, 7, 64, 333};
  const int64_t sample_sizes[] = {1, 49, 300, 2304};
  for (int64_t samples : sample_counts) {
    for (int64_t size : sample_sizes) {
      for (float p : {0.0f, 0.2f, 0.5f, 1.0f}) {
        const std::string name = "droppath samples=" + std::to_string(samples) + " size=" + std::to_string(size) +
                                 " p=" + std::to_string(p);
        CAPTURE(name);
        const int64_t n = samples * size;
        const auto x = test::to_float(test::random_vector(n, 54));
        const auto dy = test::to_float(test::random_vector(n, 55));
        auto y = test::cpu_output(n), dx = test::cpu_output(n);
        std::vector<uint8_t> mask(samples, 0xCD);
        cpu::droppath_forward<float>(samples, size, p, 77, 4, 1000, x.data(), y.data(), mask.data());
        cpu::droppath_backward<float>(samples, size, p, dy.data(), mask.data(), dx.data());

        test::DeviceArray gx(x), gy(n), gdy(dy), gdx(n);
        DeviceBytes gmask(samples, 0xAB);
        cuda::droppath_forward(samples, size, p, 77, 4, 1000, gx.get(), gy.get(), gmask.get(), s);
        cuda::droppath_backward(samples, size, p, gdy.get(), gmask.get(), gdx.get(), s);
        expect_identical(name + " mask", gmask.download(), mask);
        expect_identical(name + " y", gy.download(), y);
        expect_identical(name + " dx", gdx.download(), dx);
      }
    }
  }
  // sample_size 0: only the mask is produced, and it is still the CPU's.
  std::vector<uint8_t> mask(9, 0xCD);
  cpu::droppath_forward<float>(9, 0, 0.5f, 5, 5, 5, nullptr, nullptr, mask.data());
  DeviceBytes gmask(9, 0xAB);
  cuda::droppath_forward(9, 0, 0.5f, 5, 5, 5, nullptr, nullptr, gmask.get(), s);
  expect_identical("droppath size=0 mask", gmask.download(), mask);
}
