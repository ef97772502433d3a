// Philox 4x32-10 against the Random123 known-answer vectors, and the Generator's bookkeeping.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/philox.h"
#include "tensor/rng.h"

using namespace fer;

TEST_CASE("philox4x32-10 known-answer vectors (Random123 kat_vectors)") {
  using philox::Uint4;
  auto check = [](Uint4 ctr, uint32_t k0, uint32_t k1, Uint4 expected) {
    const Uint4 r = philox::philox4x32_10(ctr, k0, k1);
    CHECK(r.x == expected.x);
    CHECK(r.y == expected.y);
    CHECK(r.z == expected.z);
    CHECK(r.w == expected.w);
  };
  check({0, 0, 0, 0}, 0, 0, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  check({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffu, 0xffffffffu,
        {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  check({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u,
        {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("uniform floats are in [0,1) and well spread") {
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float u = philox::uniform(42, 1, static_cast<uint64_t>(i));
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
  }
  CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
}

TEST_CASE("generator reserves disjoint ranges per stream and restores its state") {
  Generator g(7);
  const uint64_t a = g.reserve(RngStream::dropout, 10);
  const uint64_t b = g.reserve(RngStream::dropout, 3);
  const uint64_t c = g.reserve(RngStream::init, 5);
  CHECK(a == 0);
  CHECK(b == 12);  // rounded to whole Philox blocks of 4
  CHECK(c == 0);   // streams are independent
  const auto state = g.state();
  Generator h(0);
  h.set_state(7, state);
  CHECK(h.reserve(RngStream::dropout, 1) == g.reserve(RngStream::dropout, 1));
}

TEST_CASE("normal_ has the requested mean and deviation and is reproducible") {
  Generator g1(3), g2(3);
  Tensor a = Tensor::empty({20000}), b = Tensor::empty({20000});
  normal_(a, 1.0, 2.0, g1);
  normal_(b, 1.0, 2.0, g2);
  const auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  CHECK(va == vb);
  double m = 0, s = 0;
  for (float v : va) m += v;
  m /= va.size();
  for (float v : va) s += (v - m) * (v - m);
  s = std::sqrt(s / va.size());
  CHECK(m == doctest::Approx(1.0).epsilon(0.05));
  CHECK(s == doctest::Approx(2.0).epsilon(0.03));
}
