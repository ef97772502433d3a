// Layout and cast ops (CPU twin): copy_slab as concat/slice (values, round trip, range errors),
// permute (hand-computed, every permutation of 6 dims against a coordinate loop, inverse round
// trip), gather_rows (int32/int64 indices, out-of-range error), and the dtype casts: bf16 on
// special values, denormals and ties to even, uint8 scaling, float/double and int32/int64.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cast.h"
#include "kernels/layout.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
}  // namespace

TEST_CASE("copy_slab: concat along the middle axis, then slice the pieces back") {
  // a [2, 2, 3] and b [2, 1, 3] concatenated along axis 1 into c [2, 3, 3].
  std::vector<double> a(12), b(6), c(18, -1.0);
  std::iota(a.begin(), a.end(), 0.0);
  std::iota(b.begin(), b.end(), 100.0);
  cpu::copy_slab(2, 2, 3, a.data(), 2, 0, c.data(), 3, 0);
  cpu::copy_slab(2, 1, 3, b.data(), 1, 0, c.data(), 3, 2);
  const std::vector<double> want = {0, 1, 2, 3, 4, 5, 100, 101, 102, 6, 7, 8, 9, 10, 11, 103, 104, 105};
  CHECK(c == want);
  // Backward of concat = slices of the output gradient.
  std::vector<double> a2(12, -1.0), b2(6, -1.0);
  cpu::copy_slab(2, 2, 3, c.data(), 3, 0, a2.data(), 2, 0);
  cpu::copy_slab(2, 1, 3, c.data(), 3, 2, b2.data(), 1, 0);
  CHECK(a2 == a);
  CHECK(b2 == b);
  // A slice into the middle of another buffer leaves the rest untouched.
  std::vector<double> d(18, 9.0);
  cpu::copy_slab(2, 1, 3, b.data(), 1, 0, d.data(), 3, 1);
  CHECK(d[0] == 9.0);
  CHECK(d[3] == 100.0);
  CHECK(d[6] == 9.0);
  CHECK_THROWS_WITH_AS(cpu::copy_slab(2, 2, 3, a.data(), 2, 0, c.data(), 3, 2),
                       doctest::Contains("copy_slab: destination range [2, 4) is outside its axis of size 3"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(cpu::copy_slab(2, 2, 3, a.data(), 2, 1, c.data(), 3, 0),
                       doctest::Contains("copy_slab: source range [1, 3) is outside its axis of size 2"), fer::Error);
}

TEST_CASE("copy_slab: concat of odd pieces round-trips (float, large)") {
  const int64_t outer = 5, inner = 1031;
  const int64_t dims[3] = {3, 1, 7}, total = 11;
  std::vector<std::vector<float>> parts;
  for (int k = 0; k < 3; ++k) {
    const auto v = test::random_vector(outer * dims[k] * inner, 60 + k);
    parts.emplace_back(v.begin(), v.end());
  }
  std::vector<float> cat(outer * total * inner, std::numeric_limits<float>::quiet_NaN());
  int64_t off = 0;
  for (int k = 0; k < 3; ++k) {
    cpu::copy_slab(outer, dims[k], inner, parts[k].data(), dims[k], 0, cat.data(), total, off);
    off += dims[k];
  }
  CHECK(std::none_of(cat.begin(), cat.end(), [](float v) { return std::isnan(v); }));
  off = 0;
  for (int k = 0; k < 3; ++k) {
    std::vector<float> back(parts[k].size(), -777.f);
    cpu::copy_slab(outer, dims[k], inner, cat.data(), total, off, back.data(), dims[k], 0);
    CHECK(back == parts[k]);
    off += dims[k];
  }
}

TEST_CASE("permute: hand-computed transposes and plan errors") {
  const double x[6] = {1, 2, 3, 4, 5, 6};  // [2, 3]
  double y[6];
  cpu::permute(make_permute({2, 3}, {1, 0}), x, y);
  const double want[6] = {1, 4, 2, 5, 3, 6};
  for (int i = 0; i < 6; ++i) CHECK(y[i] == want[i]);
  // [2, 1, 3] -> (2, 0, 1): shape [3, 2, 1]; the size-1 dim is dropped by the plan
  const PermutePlan p = make_permute({2, 1, 3}, {2, 0, 1});
  CHECK(p.ndim == 2);
  cpu::permute(p, x, y);
  for (int i = 0; i < 6; ++i) CHECK(y[i] == want[i]);
  // The identity collapses to one dim.
  CHECK(make_permute({4, 5, 6}, {0, 1, 2}).ndim == 1);
  CHECK_THROWS_WITH_AS(make_permute({2, 3, 4}, {0, 0, 1}),
                       doctest::Contains("permute: (0,0,1) is not a permutation of 0..2"), fer::Error);
  CHECK_THROWS_WITH_AS(make_permute(std::vector<int64_t>(7, 1), {0, 1, 2, 3, 4, 5, 6}),
                       doctest::Contains("at most 6 are supported"), fer::Error);
  CHECK_THROWS_WITH_AS(make_permute({2, 3}, {0}), doctest::Contains("has 2 dims but perm (0) has 1"), fer::Error);
}

TEST_CASE("permute: all 720 permutations of 6 dims match a coordinate loop and invert") {
  const std::vector<int64_t> shape = {2, 3, 1, 4, 2, 3};
  const int64_t n = 144;
  std::vector<float> x(n);
  std::iota(x.begin(), x.end(), 0.f);
  std::vector<int> perm = {0, 1, 2, 3, 4, 5};
  int count = 0;
  do {
    ++count;
    std::vector<int64_t> out_shape(6);
    for (int d = 0; d < 6; ++d) out_shape[d] = shape[perm[d]];
    std::vector<float> y(n, -1.f), back(n, -1.f);
    const PermutePlan plan = make_permute(shape, perm);
    cpu::permute(plan, x.data(), y.data());
    // The CUDA kernel's index formula, checked on the host: y[e] = x[permute_offset(plan, e)].
    bool same_formula = true;
    for (int64_t e = 0; e < n; ++e) same_formula = same_formula && y[e] == x[layout::permute_offset(plan, e)];
    CHECK(same_formula);
    // Reference: for each output coordinate o, the input coordinate c[perm[d]] = o[d].
    bool ok = true;
    for (int64_t e = 0; e < n && ok; ++e) {
      int64_t o[6], c[6], rem = e;
      for (int d = 5; d >= 0; --d) o[d] = rem % out_shape[d], rem /= out_shape[d];
      for (int d = 0; d < 6; ++d) c[perm[d]] = o[d];
      int64_t in = 0;
      for (int d = 0; d < 6; ++d) in = in * shape[d] + c[d];
      ok = y[e] == x[in];
    }
    CHECK_MESSAGE(ok, "perm " << perm[0] << perm[1] << perm[2] << perm[3] << perm[4] << perm[5]);
    cpu::permute(make_permute(out_shape, inverse_permutation(perm)), y.data(), back.data());
    CHECK(back == x);
  } while (std::next_permutation(perm.begin(), perm.end()));
  CHECK(count == 720);
}

TEST_CASE("gather_rows: int32 and int64 indices, repeats, range errors") {
  const float x[12] = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32};  // [4, 3]
  const int32_t i32[5] = {3, 0, 3, 1, 2};
  const int64_t i64[2] = {2, 2};
  float y[15];
  cpu::gather_rows(5, 3, x, 4, i32, y);
  CHECK(y[0] == 30);
  CHECK(y[4] == 1);
  CHECK(y[8] == 32);
  CHECK(y[14] == 22);
  cpu::gather_rows(2, 3, x, 4, i64, y);
  CHECK(y[3] == 20);
  const uint8_t px[6] = {1, 2, 3, 4, 5, 6};  // uint8 rows, as for batching images
  uint8_t py[4];
  const int64_t pi[2] = {2, 0};
  cpu::gather_rows(2, 2, px, 3, pi, py);
  CHECK(py[0] == 5);
  CHECK(py[3] == 2);
  const int64_t bad[2] = {1, 4};
  CHECK_THROWS_WITH_AS(cpu::gather_rows(2, 3, x, 4, bad, y),
                       doctest::Contains("gather_rows: index 4 at position 1 is outside [0, 4)"), fer::Error);
  const int32_t neg[1] = {-1};
  CHECK_THROWS_WITH_AS(check_row_indices(1, neg, 4), doctest::Contains("index -1 at position 0"), fer::Error);
}

TEST_CASE("float_to_bf16: special values, denormals, ties to even") {
  struct Case {
    uint32_t in;
    uint16_t out;
  };
  const Case cases[] = {
      {0x00000000u, 0x0000},  // +0
      {0x80000000u, 0x8000},  // -0
      {0x3F800000u, 0x3F80},  // 1
      {0xBF800000u, 0xBF80},  // -1
      {0x7F800000u, 0x7F80},  // +inf
      {0xFF800000u, 0xFF80},  // -inf
      {0x7FC00000u, 0x7FC0},  // quiet NaN
      {0xFFC00001u, 0xFFC0},  // negative NaN: sign and top payload bits kept
      {0x7FA00000u, 0x7FE0},  // signalling NaN: quieted, payload kept
      {0x7F800001u, 0x7FC0},  // signalling NaN whose payload sits in the dropped bits: not inf
      {0x3F808000u, 0x3F80},  // 1 + half an ulp, kept lsb even: tie rounds down to even
      {0x3F818000u, 0x3F82},  // tie with odd kept lsb: rounds up to even
      {0x3F808001u, 0x3F81},  // just above the tie: up
      {0x3F807FFFu, 0x3F80},  // just below the tie: down
      {0x7F7FFFFFu, 0x7F80},  // largest float rounds to inf
      {0x7F7F7FFFu, 0x7F7F},  // ...but just below the half-way point stays finite
      {0x00000001u, 0x0000},  // smallest denormal rounds to +0
      {0x00008000u, 0x0000},  // denormal tie, even lsb: down
      {0x00018000u, 0x0002},  // denormal tie, odd lsb: up
      {0x00400000u, 0x0040},  // a denormal that is exact in bf16
      {0x007FFFFFu, 0x0080},  // largest denormal rounds up into the smallest normal
      {0x80018000u, 0x8002},  // negative denormal tie
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(cast::float_to_bf16(from_bits(c.in)) == c.out);
  }
  // The array versions agree with the scalar function; bf16 -> float is exact (widening).
  std::vector<float> xs;
  for (const auto& c : cases) xs.push_back(from_bits(c.in));
  std::vector<uint16_t> hs(xs.size());
  cpu::float_to_bf16(static_cast<int64_t>(xs.size()), xs.data(), hs.data());
  for (size_t i = 0; i < xs.size(); ++i) CHECK(hs[i] == cases[i].out);
  std::vector<float> back(xs.size());
  cpu::bf16_to_float(static_cast<int64_t>(hs.size()), hs.data(), back.data());
  for (size_t i = 0; i < xs.size(); ++i) CHECK(to_bits(back[i]) == static_cast<uint32_t>(hs[i]) << 16);
  // Every bf16 value survives bf16 -> float -> bf16 unchanged (signalling NaNs get the quiet bit).
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = cast::bf16_to_float(static_cast<uint16_t>(h));
    const uint16_t want = static_cast<uint16_t>(std::isnan(f) ? (h | 0x40) : h);
    mismatches += cast::float_to_bf16(f) != want;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("float_to_bf16 is the nearest bf16 value (random floats)") {
  const auto v = test::random_vector(20000, 77, -1e6, 1e6);
  int bad = 0;
  for (double d : v) {
    const float f = static_cast<float>(d);
    const uint16_t h = cast::float_to_bf16(f);
    // The two bf16 neighbours of f: truncation and truncation + 1 ulp.
    const uint16_t lo = static_cast<uint16_t>(to_bits(f) >> 16), hi = static_cast<uint16_t>(lo + 1);
    const double df = static_cast<double>(f);
    const double elo = std::fabs(cast::bf16_to_float(lo) - df), ehi = std::fabs(cast::bf16_to_float(hi) - df);
    const uint16_t want = elo < ehi ? lo : (ehi < elo ? hi : ((lo & 1) ? hi : lo));
    bad += h != want;
  }
  CHECK(bad == 0);
}

TEST_CASE("u8_to_float, float <-> double, int32 <-> int64") {
  const uint8_t px[4] = {0, 1, 128, 255};
  float y[4];
  cpu::u8_to_float(4, px, 1.0f / 255.0f, 0.0f, y);
  CHECK(y[0] == 0.f);
  CHECK(y[3] == doctest::Approx(1.0).epsilon(1e-7));
  CHECK(y[2] == doctest::Approx(128.0 / 255.0).epsilon(1e-7));
  double yd[4];
  cpu::u8_to_float(4, px, 2.0, -1.0, yd);  // [0, 255] -> [-1, 509]
  CHECK(yd[0] == -1.0);
  CHECK(yd[3] == 509.0);
  const float f[3] = {1.5f, -0.1f, std::numeric_limits<float>::infinity()};
  double d[3];
  float f2[3];
  cpu::convert(3, f, d);
  cpu::convert(3, d, f2);
  CHECK(d[1] == static_cast<double>(-0.1f));
  for (int i = 0; i < 3; ++i) CHECK(f2[i] == f[i]);
  const int32_t a[3] = {-5, 0, std::numeric_limits<int32_t>::max()};
  int64_t b[3];
  int32_t a2[3];
  cpu::convert(3, a, b);
  cpu::convert(3, b, a2);
  CHECK(b[2] == 2147483647);
  for (int i = 0; i < 3; ++i) CHECK(a2[i] == a[i]);
  const int64_t big[2] = {1, int64_t(1) << 40};
  CHECK_THROWS_WITH_AS(cpu::convert(2, big, a2), doctest::Contains("convert: value 1099511627776 at position 1"),
                       fer::Error);
}
