// Dropout and drop-path (kernels/dropout.h): kept fraction, inverted scaling, counter-based
// determinism (seed/stream/offset), p = 0 / p = 1 edge cases, argument errors, gradient checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/dropout.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {
std::vector<uint8_t> dropout_mask(int64_t n, float p, uint64_t seed, uint64_t stream, uint64_t offset) {
  std::vector<float> x(n, 1.f), y(n);
  std::vector<uint8_t> m(n, 77);
  cpu::dropout_forward<float>(n, p, seed, stream, offset, x.data(), y.data(), m.data());
  return m;
}
}  // namespace

TEST_CASE("dropout keeps about 1-p of 100k elements and scales them by 1/(1-p)") {
  const int64_t n = 100000;
  for (float p : {0.1f, 0.25f, 0.5f, 0.9f}) {
    CAPTURE(p);
    const auto x = test::random_vector(n, 21, 0.5, 2.0);  // nonzero, so a kept element is never 0
    std::vector<double> y(n);
    std::vector<uint8_t> mask(n, 77);
    cpu::dropout_forward<double>(n, p, 1234, 7, 0, x.data(), y.data(), mask.data());
    int64_t kept = 0;
    bool values_ok = true, mask_ok = true;
    const double scale = 1.0 / (1.0 - double(p));
    for (int64_t i = 0; i < n; ++i) {
      mask_ok &= (mask[i] == 0 || mask[i] == 1);
      kept += mask[i];
      if (mask[i]) values_ok &= std::fabs(y[i] - x[i] * scale) <= 1e-7 * std::fabs(x[i] * scale);
      else values_ok &= (y[i] == 0.0);
    }
    CHECK(mask_ok);
    CHECK(values_ok);
    // Binomial(n, 1-p): standard deviation sqrt(n p (1-p)) <= 158; allow 5 of them.
    const double expected = double(n) * (1.0 - double(p));
    CHECK(std::fabs(double(kept) - expected) < 5 * std::sqrt(double(n) * p * (1 - p)));
  }
}

TEST_CASE("dropout mask is a pure function of (seed, stream, offset + i)") {
  const int64_t n = 5003;
  const auto a = dropout_mask(n, 0.5f, 42, 3, 0);
  CHECK(a == dropout_mask(n, 0.5f, 42, 3, 0));  // same key: same mask
  CHECK(a != dropout_mask(n, 0.5f, 43, 3, 0));  // other seed
  CHECK(a != dropout_mask(n, 0.5f, 42, 4, 0));  // other stream
  CHECK(a != dropout_mask(n, 0.5f, 42, 3, n));  // next call's offset: fresh numbers
  // Shifting the offset by k shifts the mask by k (element i draws counter offset + i).
  const auto b = dropout_mask(n - 13, 0.5f, 42, 3, 13);
  CHECK(std::equal(b.begin(), b.end(), a.begin() + 13));
  // The decision is the shared dropout::keep() (the CUDA kernel calls the same function).
  for (int64_t i = 0; i < n; i += 97) CHECK(a[i] == (dropout::keep(42, 3, uint64_t(i), 0.5f) ? 1 : 0));
  // Offsets past 2^32 use the high counter word (no wrap-around to small offsets).
  const uint64_t big = (uint64_t(1) << 32) + 5;
  CHECK(dropout_mask(64, 0.5f, 42, 3, big) != dropout_mask(64, 0.5f, 42, 3, 5));
}

TEST_CASE("dropout edge cases p = 0 (identity) and p = 1 (all zero, no division by zero)") {
  const int64_t n = 1001;
  const auto x = test::random_vector(n, 22);
  std::vector<double> y(n), dx(n);
  std::vector<uint8_t> mask(n, 77);
  cpu::dropout_forward<double>(n, 0.0f, 9, 1, 0, x.data(), y.data(), mask.data());
  CHECK(y == x);
  CHECK(std::all_of(mask.begin(), mask.end(), [](uint8_t m) { return m == 1; }));
  cpu::dropout_backward<double>(n, 0.0f, x.data(), mask.data(), dx.data());
  CHECK(dx == x);

  cpu::dropout_forward<double>(n, 1.0f, 9, 1, 0, x.data(), y.data(), mask.data());
  CHECK(std::all_of(y.begin(), y.end(), [](double v) { return v == 0.0; }));  // no NaN, no inf
  CHECK(std::all_of(mask.begin(), mask.end(), [](uint8_t m) { return m == 0; }));
  cpu::dropout_backward<double>(n, 1.0f, x.data(), mask.data(), dx.data());
  CHECK(std::all_of(dx.begin(), dx.end(), [](double v) { return v == 0.0; }));

  // n = 0 is a no-op; in-place is allowed.
  cpu::dropout_forward<double>(0, 0.5f, 9, 1, 0, nullptr, nullptr, nullptr);
  auto z = x;
  cpu::dropout_forward<double>(n, 0.3f, 9, 1, 0, z.data(), z.data(), mask.data());
  cpu::dropout_forward<double>(n, 0.3f, 9, 1, 0, x.data(), y.data(), mask.data());
  CHECK(z == y);
}

TEST_CASE("dropout argument errors") {
  float x = 1, y;
  uint8_t m;
  CHECK_THROWS_WITH_AS(cpu::dropout_forward<float>(1, 1.5f, 0, 0, 0, &x, &y, &m),
                       doctest::Contains("dropout_forward: drop probability p = 1.5 must be in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(cpu::dropout_backward<float>(1, -0.1f, &x, &m, &y),
                       doctest::Contains("dropout_backward: drop probability"), Error);
  CHECK_THROWS_WITH_AS(cpu::droppath_forward<float>(1, 1, std::nanf(""), 0, 0, 0, &x, &y, &m),
                       doctest::Contains("droppath_forward: drop probability"), Error);
}

TEST_CASE("dropout backward matches finite differences (fixed key)") {
  const int64_t n = 211;
  for (float p : {0.0f, 0.3f, 0.7f}) {
    CAPTURE(p);
    auto x = test::random_vector(n, 23);
    const auto w = test::random_vector(n, 24);
    std::vector<double> y(n), dx(n);
    std::vector<uint8_t> mask(n);
    cpu::dropout_forward<double>(n, p, 5, 2, 100, x.data(), y.data(), mask.data());
    cpu::dropout_backward<double>(n, p, w.data(), mask.data(), dx.data());
    auto loss = [&] {
      std::vector<double> out(n);
      std::vector<uint8_t> m(n);
      cpu::dropout_forward<double>(n, p, 5, 2, 100, x.data(), out.data(), m.data());
      return test::dot(out, w);
    };
    test::check_gradient("dropout dx", x, loss, dx);
  }
}

TEST_CASE("drop-path drops whole samples with one draw per sample") {
  const int64_t samples = 20000, size = 3 * 2 * 2;
  const float p = 0.2f;
  const auto x = test::random_vector(samples * size, 25, 0.5, 2.0);
  std::vector<double> y(samples * size);
  std::vector<uint8_t> mask(samples, 77);
  cpu::droppath_forward<double>(samples, size, p, 77, 11, 40, x.data(), y.data(), mask.data());
  int64_t kept = 0;
  bool whole = true;
  const double scale = 1.0 / (1.0 - double(p));
  for (int64_t s = 0; s < samples; ++s) {
    kept += mask[s];
    for (int64_t i = 0; i < size; ++i) {
      const int64_t k = s * size + i;
      whole &= mask[s] ? std::fabs(y[k] - x[k] * scale) <= 1e-7 * x[k] * scale : y[k] == 0.0;
    }
  }
  CHECK(whole);
  CHECK(std::fabs(double(kept) - samples * (1 - double(p))) < 5 * std::sqrt(samples * p * (1 - p)));
  // Sample s uses counter offset + s: the same decisions as dropout over n_samples elements.
  CHECK(mask == dropout_mask(samples, p, 77, 11, 40));

  // p = 0: identity; p = 1: zeros.
  std::vector<uint8_t> m2(samples);
  cpu::droppath_forward<double>(samples, size, 0.0f, 1, 1, 0, x.data(), y.data(), m2.data());
  CHECK(y == x);
  cpu::droppath_forward<double>(samples, size, 1.0f, 1, 1, 0, x.data(), y.data(), m2.data());
  CHECK(std::all_of(y.begin(), y.end(), [](double v) { return v == 0.0; }));
}

TEST_CASE("drop-path backward matches finite differences") {
  const int64_t samples = 9, size = 2 * 3 * 5;
  auto x = test::random_vector(samples * size, 26);
  const auto w = test::random_vector(samples * size, 27);
  std::vector<double> y(samples * size), dx(samples * size);
  std::vector<uint8_t> mask(samples);
  cpu::droppath_forward<double>(samples, size, 0.4f, 3, 1, 0, x.data(), y.data(), mask.data());
  const int kept = std::count(mask.begin(), mask.end(), uint8_t(1));
  CHECK(kept > 0);  // this key keeps some and drops some samples, so both branches are checked
  CHECK(kept < samples);
  cpu::droppath_backward<double>(samples, size, 0.4f, w.data(), mask.data(), dx.data());
  auto loss = [&] {
    std::vector<double> out(samples * size);
    std::vector<uint8_t> m(samples);
    cpu::droppath_forward<double>(samples, size, 0.4f, 3, 1, 0, x.data(), out.data(), m.data());
    return test::dot(out, w);
  };
  test::check_gradient("droppath dx", x, loss, dx);
}

TEST_CASE("dropout offset_base: base + relative offset draws what the absolute offset draws (graph replay)") {
  const int64_t n = 301, samples = 37, size = 5;
  const auto x = test::random_vector(n, 31);
  std::vector<double> y_abs(n), y_rel(n);
  std::vector<uint8_t> m_abs(n), m_rel(n);
  const uint64_t base = 4096;  // the step's start, as the runner writes it before a replay
  cpu::dropout_forward<double>(n, 0.4f, 9, 1, base + 40, x.data(), y_abs.data(), m_abs.data());
  cpu::dropout_forward<double>(n, 0.4f, 9, 1, 40, x.data(), y_rel.data(), m_rel.data(), &base);
  CHECK(m_abs == m_rel);
  CHECK(y_abs == y_rel);
  const auto xs = test::random_vector(samples * size, 32);
  std::vector<double> ys_abs(samples * size), ys_rel(samples * size);
  std::vector<uint8_t> ms_abs(samples), ms_rel(samples);
  cpu::droppath_forward<double>(samples, size, 0.3f, 9, 1, base + 8, xs.data(), ys_abs.data(), ms_abs.data());
  cpu::droppath_forward<double>(samples, size, 0.3f, 9, 1, 8, xs.data(), ys_rel.data(), ms_rel.data(), &base);
  CHECK(ms_abs == ms_rel);
  CHECK(ys_abs == ys_rel);
  // and the base matters: another base gives another mask
  const uint64_t other = base + 1024;
  cpu::dropout_forward<double>(n, 0.4f, 9, 1, 40, x.data(), y_rel.data(), m_rel.data(), &other);
  CHECK(m_abs != m_rel);
}

TEST_CASE("Generator capture: draws are located relative to the step's start, positions advance as usual") {
  Generator gen(5);
  gen.reserve(RngStream::dropout, 10);  // position 12 (whole blocks of 4)
  gen.reserve(RngStream::augment, 3);
  const auto before = gen.state();
  CHECK(gen.locate(RngStream::dropout, 12).base == nullptr);
  CHECK(gen.locate(RngStream::dropout, 12).offset == 12);
  uint64_t bases[kRngStreams] = {};
  gen.begin_capture(bases);
  CHECK(gen.capturing());
  CHECK_THROWS_WITH_AS(gen.begin_capture(bases), doctest::Contains("already in progress"), Error);
  const Generator::Draw d1 = gen.locate(RngStream::dropout, gen.reserve(RngStream::dropout, 100));
  const Generator::Draw d2 = gen.locate(RngStream::dropout, gen.reserve(RngStream::dropout, 7));
  CHECK(d1.offset == 0);
  CHECK(d2.offset == 100);
  CHECK(d1.base == &bases[static_cast<size_t>(RngStream::dropout)]);
  gen.end_capture();
  CHECK_FALSE(gen.capturing());
  const auto after = gen.state();
  const size_t dr = static_cast<size_t>(RngStream::dropout);
  CHECK(after[dr] - before[dr] == 108);  // what the step consumed: the runner's advance per replay
  CHECK(after[static_cast<size_t>(RngStream::augment)] == before[static_cast<size_t>(RngStream::augment)]);
  // Replaying: base = the stream's position at the replay's start; the kernel draws base + d.offset,
  // the same counters as an uncaptured step starting there.
  bases[dr] = after[dr];
  Generator eager(5);
  eager.set_state(5, after);
  CHECK(eager.reserve(RngStream::dropout, 100) == bases[dr] + d1.offset);
  CHECK(eager.reserve(RngStream::dropout, 7) == bases[dr] + d2.offset);
}

TEST_CASE("ops::dropout on the CPU refuses a graph capture (captures are CUDA only)") {
  Generator gen(1);
  uint64_t bases[kRngStreams] = {};
  gen.begin_capture(bases);
  const Tensor x = Tensor::ones({4, 3});
  CHECK_THROWS_WITH_AS(ops::dropout(x, 0.5, true, gen), doctest::Contains("captures are CUDA only"), Error);
  gen.end_capture();
}
