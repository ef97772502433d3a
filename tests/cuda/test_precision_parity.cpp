// CUDA vs CPU parity for the matmul precision (kernels/precision.h):
//  - cuda::round_to_precision (tf32 ties-away, bf16 ties-to-even) equals the CPU twin BIT FOR BIT on
//    special values (ties, denormals, +-0, +-inf, NaNs with payloads, overflow) and 2^20 random bit
//    patterns, out of place (output pre-filled with NaN) and in place;
//  - the conv2d forward kernel fed the CUDA-rounded operands (every buffer NaN-filled first) equals
//    the CPU twin (cpu::round_to_precision + cpu::conv2d_forward, float);
//  - conv2d, conv_transpose2d and linear through the tensor ops (forward, dx, dw, db) under tf32 and
//    bf16 on CUDA equal the CPU run.
//  - cuda::gemm / gemm_strided_batched with operands = tf32 | bf16 (cublasGemmEx on the tensor cores)
//    on rounded operands, every transpose combination, beta 0 (C pre-filled with NaN) and beta 1,
//    against a double oracle on the same operands.
// Tolerance of the results: the rounded operands are identical on both sides and every product of
// two tf32/bf16 values is exact in fp32, so only the fp32 summation differs (order; the tensor
// cores may also truncate instead of round while aligning the addends, doubling the per-addition
// error): |gpu - cpu| <= 4 (K+1) 2^-24 S + 1e-7, S = sum |a||b| of the rounded operands of that
// element (the double oracle on absolute values), K the most terms in one sum.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/device.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"
#include "tests/support/parity.h"
#include "tests/unit/precision_cases.h"
#include "tests/unit/tiny_model.h"

using namespace fer;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

std::vector<float> special_and_random_values() {
  const uint32_t special[] = {0x00000000u, 0x80000000u, 0x3F800000u, 0x3F801000u, 0xBF801000u, 0x3F803000u,
                              0x3F800FFFu, 0x3F801001u, 0x3F808000u, 0x3F818000u, 0xBF808000u, 0x3F807FFFu,
                              0x3F808001u, 0x3FFFF000u, 0x7F7FEFFFu, 0x7F7F7FFFu, 0x7F7FFFFFu, 0xFF7FFFFFu,
                              0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F800001u, 0xFF800FFFu, 0x7FBFFFFFu,
                              0x00000001u, 0x00000FFFu, 0x00001000u, 0x80000FFFu, 0x00008000u, 0x00018000u,
                              0x00008001u, 0x007FF000u, 0x007F8000u, 0x007FFFFFu, 0x00800000u};
  std::vector<float> v;
  for (uint32_t u : special) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    v.push_back(f);
  }
  uint64_t state = 0x9E3779B97F4A7C15ull;  // splitmix64: every bit pattern is fair game
  for (int i = 0; i < (1 << 20); ++i) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    const uint32_t u = static_cast<uint32_t>((z ^ (z >> 31)) >> 16);
    float f;
    std::memcpy(&f, &u, sizeof f);
    v.push_back(f);
  }
  return v;
}

// |gpu - cpu| <= 4 (K+1) 2^-24 s + 1e-7 element by element; non-finite values fail.
void check_parity(const std::string& what, const std::vector<float>& gpu, const std::vector<float>& cpu,
                  const std::vector<double>& s, int64_t terms) {
  REQUIRE(gpu.size() == cpu.size());
  REQUIRE(s.size() == cpu.size());
  double worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double bound = 4.0 * double(terms + 1) * std::ldexp(1.0, -24) * s[i] + 1e-7;
    const double err = std::fabs(double(gpu[i]) - double(cpu[i]));
    if (!std::isfinite(gpu[i]) || !(err <= bound)) {
      FAIL_CHECK(what << "[" << i << "]: gpu " << gpu[i] << " vs cpu " << cpu[i] << ", bound " << bound
                      << " (a NaN is an output that was not written)");
      return;
    }
    worst = std::max(worst, err / bound);
  }
  MESSAGE(what << ": max |gpu - cpu| = " << 100.0 * worst << "% of the bound");
}

}  // namespace

TEST_CASE("precision: cuda::round_to_precision == CPU twin bit for bit (specials, 2^20 random patterns)") {
  const std::vector<float> x = special_and_random_values();
  const int64_t n = static_cast<int64_t>(x.size());
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16, MathPrecision::fp32}) {
    const std::string name = math_precision_name(p);
    CAPTURE(name);
    std::vector<float> want(x.size());
    cpu::round_to_precision(p, n, x.data(), want.data());
    test::DeviceArray gx(x), gy(x.size());  // gy starts as NaN
    cuda::round_to_precision(p, n, gx.get(), gy.get(), cuda::default_stream());
    const std::vector<float> got = gy.download();
    cuda::round_to_precision(p, n, gx.get(), gx.get(), cuda::default_stream());  // in place
    const std::vector<float> got_in_place = gx.download();
    int64_t mismatches = 0, first = -1;
    for (size_t i = 0; i < x.size(); ++i) {
      if (bits(got[i]) != bits(want[i]) || bits(got_in_place[i]) != bits(want[i])) {
        if (first < 0) first = static_cast<int64_t>(i);
        ++mismatches;
      }
    }
    CHECK_MESSAGE(mismatches == 0, name << ": " << mismatches << " mismatching elements, first at " << first
                                        << " (input bits 0x" << std::hex << bits(x[size_t(std::max<int64_t>(first, 0))])
                                        << ")");
  }
  // Nothing to do for n = 0.
  cuda::round_to_precision(MathPrecision::bf16, 0, nullptr, nullptr, cuda::default_stream());
}

TEST_CASE("precision: the conv2d kernel on CUDA-rounded operands == the CPU twin (NaN-filled buffers)") {
  const test::ConvCase c{3, 5, 9, 8, 7, 3, 2, 1, 1, false};
  const Conv2dDims d = c.conv();
  const std::vector<float> x = test::random_floats(d.x_size(), 51), w = test::random_floats(d.w_size(), 52);
  const std::vector<float> b = test::random_floats(d.c_out, 53);
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
    const std::string name = math_precision_name(p);
    CAPTURE(name);
    std::vector<float> xr(x.size()), wr(w.size()), y = test::cpu_output(size_t(d.y_size()));
    cpu::round_to_precision(p, d.x_size(), x.data(), xr.data());
    cpu::round_to_precision(p, d.w_size(), w.data(), wr.data());
    cpu::conv2d_forward<float>(d, xr.data(), wr.data(), b.data(), y.data());
    test::DeviceArray gx(x), gw(w), gb(b), gxr(x.size()), gwr(w.size()), gy(size_t(d.y_size()));
    test::DeviceArray ws(size_t(std::max<int64_t>(cuda::conv2d_workspace_floats(d), 1)));
    cuda::round_to_precision(p, d.x_size(), gx.get(), gxr.get(), cuda::default_stream());
    cuda::round_to_precision(p, d.w_size(), gw.get(), gwr.get(), cuda::default_stream());
    cuda::conv2d_forward(d, gxr.get(), gwr.get(), gb.get(), gy.get(), ws.get(), cuda::default_stream());
    const test::LayerResult<double> s = test::conv_oracle(
        c, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
        test::absolute(std::vector<double>(b.begin(), b.end())), std::vector<double>(size_t(d.y_size()), 0.0));
    check_parity("conv2d kernel y " + name, gy.download(), y, s.y, c.max_terms());
  }
}

TEST_CASE("precision: conv2d, conv_transpose2d and linear under tf32/bf16: CUDA == CPU") {
  const test::ConvCase cases[] = {
      {2, 5, 7, 6, 6, 3, 1, 1, 1, false},      // 3x3 pad 1
      {3, 4, 9, 8, 6, 3, 2, 1, 2, false},      // stride 2, groups 2
      {2, 6, 5, 5, 4, 1, 1, 0, 1, false},      // pointwise
      {8, 32, 12, 12, 48, 3, 1, 1, 1, false},  // a CNN-sized layer (several GEMM tiles)
      {2, 4, 4, 5, 3, 3, 2, 1, 1, true},       // transposed k3 s2 p1
  };
  uint64_t seed = 200;
  for (const test::ConvCase& c : cases) {
    const std::vector<float> x = test::random_floats(test::numel(c.x_shape()), ++seed);
    const std::vector<float> w = test::random_floats(test::numel(c.w_shape()), ++seed);
    const std::vector<float> b = test::random_floats(c.c_out, ++seed);
    const std::vector<float> dy = test::random_floats(test::numel(c.y_shape()), ++seed);
    for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
      const std::string name = std::string(c.transpose ? "conv_transpose2d " : "conv2d ") + math_precision_name(p) +
                               " k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " g" +
                               std::to_string(c.groups) + " c" + std::to_string(c.c_in);
      const test::LayerResult<float> g = test::run_conv(c, Device::cuda, p, x, w, b, dy);
      const test::LayerResult<float> h = test::run_conv(c, Device::cpu, p, x, w, b, dy);
      const test::LayerResult<double> s = test::conv_oracle(
          c, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
          test::absolute(std::vector<double>(b.begin(), b.end())), test::absolute(test::rounded(dy, p)));
      const test::LayerResult<double> s_db =  // db sums fp32 dy: only dy matters
          test::conv_oracle(c, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
                            test::absolute(std::vector<double>(b.begin(), b.end())),
                            test::absolute(std::vector<double>(dy.begin(), dy.end())));
      check_parity(name + " y", g.y, h.y, s.y, c.max_terms());
      check_parity(name + " dx", g.dx, h.dx, s.dx, c.max_terms());
      check_parity(name + " dw", g.dw, h.dw, s.dw, c.max_terms());
      check_parity(name + " db", g.db, h.db, s_db.db, c.max_terms());
    }
  }
  const test::LinearCase lc{70, 130, 19};
  const std::vector<float> x = test::random_floats(lc.m * lc.in, 301), w = test::random_floats(lc.out * lc.in, 302);
  const std::vector<float> b = test::random_floats(lc.out, 303), dy = test::random_floats(lc.m * lc.out, 304);
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
    const std::string name = std::string("linear ") + math_precision_name(p);
    const test::LayerResult<float> g = test::run_linear(lc, Device::cuda, p, x, w, b, dy);
    const test::LayerResult<float> h = test::run_linear(lc, Device::cpu, p, x, w, b, dy);
    const test::LayerResult<double> s = test::linear_oracle(
        lc, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
        test::absolute(std::vector<double>(b.begin(), b.end())), test::absolute(test::rounded(dy, p)));
    const test::LayerResult<double> s_db =
        test::linear_oracle(lc, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
                            test::absolute(std::vector<double>(b.begin(), b.end())),
                            test::absolute(std::vector<double>(dy.begin(), dy.end())));
    check_parity(name + " y", g.y, h.y, s.y, lc.max_terms());
    check_parity(name + " dx", g.dx, h.dx, s.dx, lc.max_terms());
    check_parity(name + " dw", g.dw, h.dw, s.dw, lc.max_terms());
    check_parity(name + " db", g.db, h.db, s_db.db, lc.max_terms());
  }
}

TEST_CASE("precision: the tiny model under bf16 on CUDA tracks the CPU emulation") {
  std::vector<double> cpu, gpu;
  {
    MathPrecisionScope scope(MathPrecision::bf16);
    cpu = test::train_tiny_model(Device::cpu, 50);
    gpu = test::train_tiny_model(Device::cuda, 50);
  }
  CHECK(gpu.back() < gpu.front() / 10.0);
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(gpu[i] - cpu[i]) <= 1e-4 + 0.02 * std::abs(cpu[i]));  // as the fp32 CUDA tiny-model test
  }
}

TEST_CASE("precision: cuda::gemm with tf32/bf16 operands (tensor cores) == the oracle on the rounded operands") {
  const int64_t M = 37, N = 29, K = 67, batch = 3;
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const std::string name =
          std::string("gemm ") + math_precision_name(p) + (ta ? " A^T" : " A") + (tb ? " B^T" : " B");
      const int64_t lda = ta ? M : K, ldb = tb ? K : N;
      std::vector<float> a = test::random_floats(batch * M * K, 400 + t),
                         b = test::random_floats(batch * K * N, 410 + t);
      cpu::round_to_precision(p, batch * M * K, a.data(), a.data());
      cpu::round_to_precision(p, batch * K * N, b.data(), b.data());
      const std::vector<float> c0 = test::random_floats(batch * M * N, 420 + t);
      // the oracle: ref = op(A) op(B) (+ C0 for beta 1), S = sum |a||b| (+ |C0|)
      std::vector<double> ref(size_t(batch * M * N)), s(ref.size());
      for (int64_t q = 0; q < batch; ++q)
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double r = 0, sa = 0;
            for (int64_t k = 0; k < K; ++k) {
              const double x = a[size_t(q * M * K + (ta ? k * lda + i : i * lda + k))];
              const double y = b[size_t(q * K * N + (tb ? j * ldb + k : k * ldb + j))];
              r += x * y, sa += std::fabs(x * y);
            }
            ref[size_t((q * M + i) * N + j)] = r, s[size_t((q * M + i) * N + j)] = sa;
          }
      test::DeviceArray ga(a), gb(b);
      // one matrix, beta 0, C pre-filled with NaN
      test::DeviceArray gc(size_t(M * N));
      cuda::gemm(ta, tb, M, N, K, 1.f, ga.get(), lda, gb.get(), ldb, 0.f, gc.get(), N, cuda::default_stream(), p);
      check_parity(name + " beta 0", gc.download(),
                   test::to_float(std::vector<double>(ref.begin(), ref.begin() + M * N)),
                   std::vector<double>(s.begin(), s.begin() + M * N), K);
      // strided batched, beta 1 (accumulates into C0)
      test::DeviceArray gcb(c0);
      cuda::gemm_strided_batched(ta, tb, M, N, K, 1.f, ga.get(), lda, M * K, gb.get(), ldb, K * N, 1.f, gcb.get(), N,
                                 M * N, batch, cuda::default_stream(), p);
      std::vector<float> want(ref.size());
      std::vector<double> s1(ref.size());
      for (size_t i = 0; i < ref.size(); ++i) {
        want[i] = static_cast<float>(ref[i] + c0[i]);
        s1[i] = s[i] + std::fabs(c0[i]);
      }
      check_parity(name + " batched beta 1", gcb.download(), want, s1, K + 1);
    }
  }
}
