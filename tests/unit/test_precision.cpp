// The matmul precision (kernels/precision.h, kernels/notes/precision.md):
//  - the TF32 (round to nearest, ties away from zero, as cvt.rna.tf32.f32) and BF16 (ties to even)
//    rounding on hand-picked bit patterns: ties, the neighbours of ties, overflow, denormals, +-0,
//    +-inf, NaN (with and without a payload in the dropped bits);
//  - conv2d, conv_transpose2d and linear (forward, grad-input, grad-weight, grad-bias) under tf32 and
//    bf16 equal a double-precision oracle fed the ROUNDED operands within the fp32 accumulation bound
//    (K+1) 2^-24 sum|a||b| (tight); the bias gradient equals the fp32 run's bit for bit (fp32 dy);
//    they differ from the fp32 run by at most (2u + u^2) sum|a||b| + the accumulation bounds, and on
//    random data by more than the fp32 accumulation noise somewhere (a skipped rounding fails);
//  - f64 ignores the setting; the tiny model trains under bf16 and tf32 like under fp32.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "kernels/precision.h"
#include "tensor/ops.h"
#include "tests/unit/precision_cases.h"
#include "tests/unit/tiny_model.h"

using namespace fer;

namespace {

uint32_t bits(float f) {
  return cast::float_bits(f);
}
float from_bits(uint32_t u) {
  return cast::bits_float(u);
}

std::string hex(uint32_t u) {
  std::ostringstream s;
  s << "0x" << std::hex << u;
  return s.str();
}

void check_round(MathPrecision p, uint32_t in, uint32_t expected) {
  const float got = precision::round_to(from_bits(in), p);
  CHECK_MESSAGE(bits(got) == expected, std::string(math_precision_name(p)) << " " << hex(in) << " -> " << hex(bits(got))
                                                                           << ", expected " << hex(expected));
}

constexpr double kU32 = 1.0 / 16777216.0;  // 2^-24, fp32 unit roundoff

// got (float, from the op) against the oracle on rounded operands: |got - ref| <= (K+1) 2^-24 S.
void check_tight(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
                 const std::vector<double>& s, int64_t terms) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;  // largest |error| / bound
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = double(terms + 1) * kU32 * s[i] + 1e-30;
    const double err = std::fabs(double(got[i]) - ref[i]);
    worst = std::max(worst, err / bound);
    if (err > bound) {
      FAIL_CHECK(what << "[" << i << "] = " << got[i] << ", oracle on rounded operands " << ref[i] << ", |err| " << err
                      << " > bound " << bound);
      return;
    }
  }
  MESSAGE(what << ": max |err| = " << worst << " of the fp32 accumulation bound");
}

// got_p (under p) against got_32 (fp32): |diff| <= (2u + u^2) S + 2 (K+1) 2^-24 S everywhere, and
// somewhere > 2 (K+1) 2^-24 S (more than fp32 accumulation can explain: the rounding happened).
void check_vs_fp32(const std::string& what, MathPrecision p, const std::vector<float>& got_p,
                   const std::vector<float>& got_32, const std::vector<double>& s, int64_t terms) {
  REQUIRE(got_p.size() == got_32.size());
  const std::string name = math_precision_name(p);
  const double u = precision::unit_roundoff(p);
  int64_t beyond_fp32 = 0;
  double worst = 0;
  for (size_t i = 0; i < got_p.size(); ++i) {
    const double noise = 2.0 * double(terms + 1) * kU32 * s[i];
    const double bound = (2 * u + u * u) * s[i] + noise + 1e-30;
    const double diff = std::fabs(double(got_p[i]) - double(got_32[i]));
    worst = std::max(worst, diff / bound);
    if (diff > noise) ++beyond_fp32;
    if (diff > bound) {
      FAIL_CHECK(what << "[" << i << "]: " << name << " " << got_p[i] << " vs fp32 " << got_32[i] << " differ by "
                      << diff << " > bound " << bound);
      return;
    }
  }
  MESSAGE(what << " " << name << " vs fp32: max |diff| = " << worst << " of the bound, " << beyond_fp32 << " of "
               << got_p.size() << " elements beyond fp32 accumulation noise");
  CHECK_MESSAGE(beyond_fp32 > 0,
                what << ": " << name << " result indistinguishable from fp32; was the rounding skipped?");
}

struct Inputs {
  std::vector<float> x, w, b, dy;
};

// The whole check of one layer (run = the op under a precision, oracle = its double twin).
template <typename Run, typename Oracle>
void check_layer(const char* name, int64_t terms, const Inputs& in, Run run, Oracle oracle) {
  const test::LayerResult<float> r32 = run(MathPrecision::fp32);
  std::vector<double> xd(in.x.begin(), in.x.end()), wd(in.w.begin(), in.w.end()), bd(in.b.begin(), in.b.end()),
      dyd(in.dy.begin(), in.dy.end());
  const test::LayerResult<double> s_orig =
      oracle(test::absolute(xd), test::absolute(wd), test::absolute(bd), test::absolute(dyd));
  const test::LayerResult<double> exact_db = oracle(xd, wd, bd, dyd);  // db needs dy only: fp32 dy
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
    const std::string layer = name;
    CAPTURE(layer);
    const std::string prec_name = math_precision_name(p);
    CAPTURE(prec_name);
    const test::LayerResult<float> rp = run(p);
    const std::vector<double> xr = test::rounded(in.x, p), wr = test::rounded(in.w, p), dyr = test::rounded(in.dy, p);
    const test::LayerResult<double> ref = oracle(xr, wr, bd, dyr);
    const test::LayerResult<double> s =
        oracle(test::absolute(xr), test::absolute(wr), test::absolute(bd), test::absolute(dyr));
    check_tight(layer + " y", rp.y, ref.y, s.y, terms);
    check_tight(layer + " dx", rp.dx, ref.dx, s.dx, terms);
    check_tight(layer + " dw", rp.dw, ref.dw, s.dw, terms);
    check_tight(layer + " db", rp.db, exact_db.db, s_orig.db, terms);
    CHECK_MESSAGE(rp.db == r32.db, "the bias gradient must use fp32 dy, bit for bit as in the fp32 run");
    check_vs_fp32(layer + " y", p, rp.y, r32.y, s_orig.y, terms);
    check_vs_fp32(layer + " dx", p, rp.dx, r32.dx, s_orig.dx, terms);
    check_vs_fp32(layer + " dw", p, rp.dw, r32.dw, s_orig.dw, terms);
  }
}

}  // namespace

TEST_CASE("precision: tf32 rounds to nearest, ties away from zero (cvt.rna.tf32.f32)") {
  const MathPrecision t = MathPrecision::tf32;
  check_round(t, 0x3F800000u, 0x3F800000u);  // 1
  check_round(t, 0x3F801000u, 0x3F802000u);  // 1 + 2^-11: a tie, away from zero (ties-to-even would give 1)
  check_round(t, 0xBF801000u, 0xBF802000u);  // -(1 + 2^-11) -> -(1 + 2^-10): away from zero
  check_round(t, 0x3F803000u, 0x3F804000u);  // 1 + 3*2^-11: tie, up
  check_round(t, 0x3F800FFFu, 0x3F800000u);  // just below the tie: down
  check_round(t, 0x3F801001u, 0x3F802000u);  // just above: up
  check_round(t, 0x3FFFF000u, 0x40000000u);  // mantissa carry into the exponent: 2
  check_round(t, 0x7F7FEFFFu, 0x7F7FE000u);  // largest tf32 finite stays
  check_round(t, 0x7F7FFFFFu, 0x7F800000u);  // FLT_MAX overflows to inf
  check_round(t, 0x7F800000u, 0x7F800000u);  // inf
  check_round(t, 0xFF800000u, 0xFF800000u);  // -inf
  check_round(t, 0x00000000u, 0x00000000u);  // +0
  check_round(t, 0x80000000u, 0x80000000u);  // -0
  check_round(t, 0x00001000u, 0x00002000u);  // denormal tie: away from zero
  check_round(t, 0x00000FFFu, 0x00000000u);  // denormal below the smallest tf32 denormal's half: +0
  check_round(t, 0x80000FFFu, 0x80000000u);  // ... keeps its sign: -0
  check_round(t, 0x007FF000u, 0x00800000u);  // largest denormals round up to the smallest normal
  CHECK(std::isnan(precision::round_tf32(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::isnan(precision::round_tf32(from_bits(0x7F800001u))));  // payload only in the dropped bits
  CHECK(std::isnan(precision::round_tf32(from_bits(0xFF800FFFu))));
  CHECK((bits(precision::round_tf32(from_bits(0xFF800FFFu))) >> 31) == 1u);  // sign kept
}

TEST_CASE("precision: bf16 rounds to nearest, ties to even") {
  const MathPrecision h = MathPrecision::bf16;
  check_round(h, 0x3F800000u, 0x3F800000u);  // 1
  check_round(h, 0x3F808000u, 0x3F800000u);  // 1 + 2^-8: tie, to even (down)
  check_round(h, 0x3F818000u, 0x3F820000u);  // 1 + 3*2^-8: tie, to even (up)
  check_round(h, 0xBF808000u, 0xBF800000u);  // -(1 + 2^-8) -> -1
  check_round(h, 0x3F808001u, 0x3F810000u);  // just above the tie: up
  check_round(h, 0x3F807FFFu, 0x3F800000u);  // just below: down
  check_round(h, 0x7F7F7FFFu, 0x7F7F0000u);  // largest bf16 finite stays
  check_round(h, 0x7F7FFFFFu, 0x7F800000u);  // FLT_MAX overflows to inf
  check_round(h, 0xFF800000u, 0xFF800000u);  // -inf
  check_round(h, 0x80000000u, 0x80000000u);  // -0
  check_round(h, 0x00008000u, 0x00000000u);  // denormal tie, even is 0
  check_round(h, 0x00018000u, 0x00020000u);  // denormal tie, up to even
  check_round(h, 0x00008001u, 0x00010000u);  // smallest bf16 denormal
  check_round(h, 0x007F8000u, 0x00800000u);  // largest denormals round up to the smallest normal
  CHECK(std::isnan(precision::round_bf16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::isnan(precision::round_bf16(from_bits(0x7F800001u))));  // must not become inf
  check_round(MathPrecision::fp32, 0x3F801001u, 0x3F801001u);        // fp32 is the identity
}

TEST_CASE("precision: the setting, its names, the scope guard and the array rounding") {
  CHECK(math_precision() == MathPrecision::fp32);  // the default
  {
    MathPrecisionScope scope(MathPrecision::bf16);
    CHECK(math_precision() == MathPrecision::bf16);
    {
      MathPrecisionScope inner(MathPrecision::tf32);
      CHECK(math_precision() == MathPrecision::tf32);
    }
    CHECK(math_precision() == MathPrecision::bf16);
  }
  CHECK(math_precision() == MathPrecision::fp32);
  for (MathPrecision p : {MathPrecision::fp32, MathPrecision::tf32, MathPrecision::bf16})
    CHECK(parse_math_precision(math_precision_name(p)) == p);
  CHECK_THROWS_WITH_AS(parse_math_precision("fp16"),
                       doctest::Contains("precision 'fp16' is not one of fp32, tf32, bf16"), Error);
  // Arrays (the CPU twin the CUDA kernel is compared with), also in place and above the OpenMP threshold.
  const std::vector<float> x = test::random_floats(40000, 3, -1e3, 1e3);
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
    std::vector<float> y(x.size()), z = x;
    cpu::round_to_precision(p, static_cast<int64_t>(x.size()), x.data(), y.data());
    cpu::round_to_precision(p, static_cast<int64_t>(z.size()), z.data(), z.data());
    const uint32_t dropped = p == MathPrecision::tf32 ? 0x1FFFu : 0xFFFFu;
    int64_t changed = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      REQUIRE(bits(y[i]) == bits(precision::round_to(x[i], p)));
      REQUIRE(bits(z[i]) == bits(y[i]));
      REQUIRE((bits(y[i]) & dropped) == 0u);
      REQUIRE(std::fabs(y[i] - x[i]) <= precision::unit_roundoff(p) * std::fabs(x[i]));
      changed += y[i] != x[i];
    }
    CHECK(changed > 39000);
  }
  // The tensor helper: f32 rounded, f64 and fp32 untouched (the same storage).
  Tensor t = Tensor::from_vector(std::vector<float>{1.0f + 1.0f / 2048.0f}, {1});
  CHECK(ops::round_to_precision(t, MathPrecision::tf32).item() == 1.0 + 1.0 / 1024.0);
  CHECK(ops::round_to_precision(t, MathPrecision::bf16).item() == 1.0);
  CHECK(ops::round_to_precision(t, MathPrecision::fp32).same_data(t));
  const Tensor t64 = t.to_dtype(DType::f64);
  CHECK(ops::round_to_precision(t64, MathPrecision::bf16).same_data(t64));
}

TEST_CASE("precision: conv2d and conv_transpose2d under tf32/bf16 equal the oracle on rounded operands") {
  const test::ConvCase cases[] = {
      {2, 5, 7, 6, 6, 3, 1, 1, 1, false},  // 3x3 pad 1
      {3, 4, 9, 8, 6, 3, 2, 1, 2, false},  // stride 2, groups 2
      {2, 6, 5, 5, 4, 1, 1, 0, 1, false},  // pointwise (x is the GEMM operand itself)
      {2, 4, 4, 5, 3, 3, 2, 1, 1, true},   // transposed k3 s2 p1
  };
  uint64_t seed = 100;
  for (const test::ConvCase& c : cases) {
    CAPTURE(c.transpose);
    CAPTURE(c.k);
    CAPTURE(c.groups);
    Inputs in;
    in.x = test::random_floats(test::numel(c.x_shape()), ++seed);
    in.w = test::random_floats(test::numel(c.w_shape()), ++seed);
    in.b = test::random_floats(c.c_out, ++seed);
    in.dy = test::random_floats(test::numel(c.y_shape()), ++seed);
    check_layer(
        c.transpose ? "conv_transpose2d" : "conv2d", c.max_terms(), in,
        [&](MathPrecision p) { return test::run_conv(c, Device::cpu, p, in.x, in.w, in.b, in.dy); },
        [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
            const std::vector<double>& dy) { return test::conv_oracle(c, x, w, b, dy); });
  }
}

TEST_CASE("precision: linear under tf32/bf16 equals the oracle on rounded operands") {
  const test::LinearCase c{15, 37, 9};
  Inputs in;
  in.x = test::random_floats(c.m * c.in, 21);
  in.w = test::random_floats(c.out * c.in, 22);
  in.b = test::random_floats(c.out, 23);
  in.dy = test::random_floats(c.m * c.out, 24);
  check_layer(
      "linear", c.max_terms(), in,
      [&](MathPrecision p) { return test::run_linear(c, Device::cpu, p, in.x, in.w, in.b, in.dy); },
      [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b,
          const std::vector<double>& dy) { return test::linear_oracle(c, x, w, b, dy); });
}

TEST_CASE("precision: bmm rounds its operands; f64 ignores the setting") {
  const std::vector<float> a = test::random_floats(2 * 3 * 20, 31), b = test::random_floats(2 * 20 * 4, 32);
  const Tensor A = Tensor::from_vector(a, {2, 3, 20}), B = Tensor::from_vector(b, {2, 20, 4});
  MathPrecisionScope scope(MathPrecision::bf16);
  const std::vector<float> c = ops::bmm(A, B).to_vector<float>();
  const std::vector<double> ar = test::rounded(a, MathPrecision::bf16), br = test::rounded(b, MathPrecision::bf16);
  for (int64_t bt = 0; bt < 2; ++bt)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        double ref = 0, s = 0;
        for (int64_t k = 0; k < 20; ++k) {
          const double p = ar[size_t((bt * 3 + i) * 20 + k)] * br[size_t((bt * 20 + k) * 4 + j)];
          ref += p, s += std::fabs(p);
        }
        CHECK(std::fabs(c[size_t((bt * 3 + i) * 4 + j)] - ref) <= 21 * kU32 * s);
      }
  // f64 (gradient checks) is never rounded: the result equals the fp32-setting result bit for bit.
  const Tensor A64 = A.to_dtype(DType::f64), B64 = B.to_dtype(DType::f64);
  const Tensor x64 = Tensor::from_vector(test::random_floats(2 * 3 * 5 * 5, 33), {2, 3, 5, 5}).to_dtype(DType::f64);
  const Tensor w64 = Tensor::from_vector(test::random_floats(4 * 3 * 3 * 3, 34), {4, 3, 3, 3}).to_dtype(DType::f64);
  const std::vector<double> c_bf = ops::bmm(A64, B64).to_vector<double>();
  const std::vector<double> y_bf = ops::conv2d(x64, w64, Tensor(), ops::Conv2dOptions::make(1, 1)).to_vector<double>();
  set_math_precision(MathPrecision::fp32);
  CHECK(ops::bmm(A64, B64).to_vector<double>() == c_bf);
  CHECK(ops::conv2d(x64, w64, Tensor(), ops::Conv2dOptions::make(1, 1)).to_vector<double>() == y_bf);
}

TEST_CASE("precision: the tiny model trains under bf16 and tf32 like under fp32 (CPU emulation)") {
  const std::vector<double> fp32 = test::train_tiny_model(Device::cpu, 50);
  for (MathPrecision p : {MathPrecision::bf16, MathPrecision::tf32}) {
    const std::string prec_name = math_precision_name(p);
    CAPTURE(prec_name);
    std::vector<double> lp;
    {
      MathPrecisionScope scope(p);
      lp = test::train_tiny_model(Device::cpu, 50);
    }
    MESSAGE(prec_name << " tiny model loss: first " << lp.front() << " (fp32 " << fp32.front() << "), step 10 "
                      << lp[10] << " (" << fp32[10] << "), last " << lp.back() << " (" << fp32.back() << ")");
    CHECK(lp.front() != fp32.front());  // the rounding took place
    // The first loss: one forward pass, relative difference within a few unit roundoffs.
    CHECK(std::fabs(lp.front() - fp32.front()) <= 8 * precision::unit_roundoff(p) * fp32.front());
    CHECK(lp.back() < lp.front() / 10.0);  // it learns like fp32 (which falls at least 10x)
    // the loss curve stays close to fp32's while it falls (first 20 steps), within 10% + 0.02
    for (size_t s = 0; s < 20; ++s) CHECK(std::fabs(lp[s] - fp32[s]) <= 0.1 * fp32[s] + 0.02);
  }
  CHECK(math_precision() == MathPrecision::fp32);
}
