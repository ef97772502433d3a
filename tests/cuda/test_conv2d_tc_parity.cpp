// CUDA parity for the tensor-core convolution (kernels/conv2d_tc.h), tf32 and bf16:
//  - cuda::conv2d_tc_forward (with and without bias), _backward_input and _backward_weight against the
//    CPU twin: the operands rounded with precision::round_to (as double), then cpu::conv2d_* in double;
//    the kernels get the UNROUNDED fp32 operands (they round at load). Odd shapes: N=3 Cin=5 13x13 ->
//    7 k3 s2 p1, pointwise and 1x1 s2, the 1-channel first layer of CNN6, groups 2 and depthwise,
//    padding > kernel/2, non-square kernel, Cout = 130 (three N tiles), batch 1 (no split-K) and a
//    batch of 64 at 48x48 (split-K over the batch). Every GPU output is pre-filled with NaN.
//  - grad-weight twice: bit-identical (fixed split order, no atomics);
//  - the argument errors: fp32 operands, a missing split-K workspace;
//  - the tensor ops: conv2d forward + backward with --conv-impl tc vs native vs the CPU, same precision;
//    the tiny model trained under bf16 with tc tracks the CPU emulation.
// Tolerance: both sides use the same rounded operands and every product of two tf32/bf16 values is
// exact in fp32, so only the fp32 summation differs: at most K additions (K+1 with the bias, + the
// split-K reduction), each off by <= 2^-24 of the running |sum| <= S = sum |a||b| with round-to-
// nearest, twice that when the tensor cores truncate while aligning the addends. The oracle is
// double (error ~1e-16 S). Bound: |gpu - cpu| <= 4 (K+1) 2^-24 S + 1e-6 (2x margin on the truncating
// worst case; see kernels/notes/conv2d_tc.md); tc vs native / vs the CPU tensor run (two fp32 results):
// 8 (K+1) 2^-24 S + 1e-6. A wrongly rounded operand (one tf32/bf16 ulp, 2^-11 /
// 2^-8 relative) on the small-K cases is 100x over this bound.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv2d_tc.h"
#include "kernels/device.h"
#include "kernels/precision.h"
#include "tensor/ops.h"
#include "tests/support/parity.h"
#include "tests/unit/precision_cases.h"
#include "tests/unit/tiny_model.h"

using namespace fer;

namespace {

std::string describe(const Conv2dDims& d) {
  std::ostringstream s;
  s << d.n << "x" << d.c_in << "x" << d.h_in << "x" << d.w_in << " -> " << d.c_out << " k" << d.kernel_h << "x"
    << d.kernel_w << " s" << d.stride_h << "x" << d.stride_w << " p" << d.pad_h << "x" << d.pad_w << " g"
    << d.groups;
  return s.str();
}

// |gpu - ref| <= factor (K+1) 2^-24 s + 1e-6 element by element; a non-finite gpu value fails (unwritten).
// factor 4 against the double twin; 8 between two fp32 results (each within 2 (K+1) 2^-24 s).
void check_parity(const std::string& what, const std::vector<float>& gpu, const std::vector<double>& ref,
                  const std::vector<double>& s, int64_t terms, double factor = 4.0) {
  REQUIRE(gpu.size() == ref.size());
  REQUIRE(s.size() == ref.size());
  double worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double bound = factor * double(terms + 1) * std::ldexp(1.0, -24) * s[i] + 1e-6;
    const double err = std::fabs(double(gpu[i]) - ref[i]);
    if (!std::isfinite(gpu[i]) || !(err <= bound)) {
      FAIL_CHECK(what << "[" << i << "]: gpu " << gpu[i] << " vs cpu " << ref[i] << ", bound " << bound
                      << " (a NaN is an output that was not written)");
      return;
    }
    worst = std::max(worst, err / bound);
  }
  MESSAGE(what << ": max |gpu - cpu| = " << 100.0 * worst << "% of the bound");
}

// The CPU twin in double on the given operands (already rounded, or absolute values for S).
struct Twin {
  std::vector<double> y, dx, dw;
};
Twin twin(const Conv2dDims& d, const std::vector<double>& x, const std::vector<double>& w,
          const std::vector<double>& b, const std::vector<double>& dy) {
  Twin t;
  t.y.resize(size_t(d.y_size())), t.dx.resize(size_t(d.x_size())), t.dw.resize(size_t(d.w_size()));
  cpu::conv2d_forward<double>(d, x.data(), w.data(), b.data(), t.y.data());
  cpu::conv2d_backward_input<double>(d, dy.data(), w.data(), t.dx.data());
  cpu::conv2d_backward_weight<double>(d, x.data(), dy.data(), t.dw.data(), nullptr);
  return t;
}

std::vector<Conv2dDims> configs() {
  std::vector<Conv2dDims> v = {
      conv2d_dims(3, 5, 13, 13, 7, 3, 2, 1),     // the odd case of the issue: k3 s2 p1
      conv2d_dims(2, 5, 6, 7, 3, 1),             // pointwise
      conv2d_dims(2, 4, 7, 6, 6, 1, 2),          // 1x1 stride 2
      conv2d_dims(4, 1, 48, 48, 16, 3),          // CNN6's first layer: 1 channel, K = 9
      conv2d_dims(3, 4, 9, 9, 6, 3, 2, 0, 2),    // groups 2
      conv2d_dims(2, 8, 13, 11, 8, 3, 2, 1, 8),  // depthwise
      conv2d_dims(1, 2, 5, 5, 3, 5, 1, 3),       // padding > kernel/2, batch 1 (no split-K)
      conv2d_dims(2, 8, 11, 11, 130, 3, 1, 1),   // Cout = 130: three N tiles, the last of 2
      conv2d_dims(2, 70, 7, 7, 20, 3, 1, 1),     // K = 630: many K tiles, a partial last one
      conv2d_dims(64, 16, 48, 48, 32, 3, 1, 1),  // a batch of 64 at 48x48 (split-K grad-weight)
  };
  Conv2dDims a = conv2d_dims(2, 3, 7, 10, 4, 3, 1, 1);
  a.kernel_w = 2, a.stride_w = 2, a.pad_w = 0;  // non-square
  v.push_back(a);
  return v;
}

struct Workspace {
  explicit Workspace(int64_t floats) : buf(static_cast<size_t>(floats > 0 ? floats : 1)), floats(floats) {}
  float* get() { return floats > 0 ? buf.get() : nullptr; }
  test::DeviceArray buf;
  int64_t floats;
};

// Restores --conv-impl native at the end of a scope (also when a check throws).
struct ConvImplScope {
  explicit ConvImplScope(ops::ConvImpl impl) { ops::set_conv_impl(impl); }
  ~ConvImplScope() { ops::set_conv_impl(ops::ConvImpl::native); }
};

}  // namespace

TEST_CASE("conv2d_tc cuda == CPU twin on rounded operands (forward, grad-input, grad-weight; tf32 and bf16)") {
  cuda_stream s = cuda::default_stream();
  uint64_t seed = 700;
  for (const Conv2dDims& d : configs()) {
    const std::vector<float> x = test::random_floats(d.x_size(), ++seed), w = test::random_floats(d.w_size(), ++seed);
    const std::vector<float> b = test::random_floats(d.c_out, ++seed), dy = test::random_floats(d.y_size(), ++seed);
    const std::vector<double> bd(b.begin(), b.end()), zero_b(size_t(d.c_out), 0.0);
    test::DeviceArray gx(x), gw(w), gb(b), gdy(dy);
    const tc::Plan wp = tc::plan(d, tc::Pass::backward_weight);
    CHECK(cuda::conv2d_tc_workspace_floats(d) == wp.workspace_floats);
    if (d.n == 1) CHECK(wp.splits == 1);
    if (d.n == 64) CHECK(wp.splits > 1);
    Workspace ws(wp.workspace_floats);
    for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
      const std::string name = std::string("conv2d_tc ") + math_precision_name(p) + " " + describe(d);
      CAPTURE(name);
      const Twin ref = twin(d, test::rounded(x, p), test::rounded(w, p), bd, test::rounded(dy, p));
      const Twin ref_nb = twin(d, test::rounded(x, p), test::rounded(w, p), zero_b, test::rounded(dy, p));
      const Twin sum = twin(d, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
                            test::absolute(bd), test::absolute(test::rounded(dy, p)));

      test::DeviceArray gy(size_t(d.y_size())), gy_nb(size_t(d.y_size())), gdx(size_t(d.x_size()));
      test::DeviceArray gdw(size_t(d.w_size())), gdw2(size_t(d.w_size()));
      cuda::conv2d_tc_forward(d, gx.get(), gw.get(), gb.get(), gy.get(), p, s);
      cuda::conv2d_tc_forward(d, gx.get(), gw.get(), nullptr, gy_nb.get(), p, s);
      cuda::conv2d_tc_backward_input(d, gdy.get(), gw.get(), gdx.get(), p, s);
      cuda::conv2d_tc_backward_weight(d, gx.get(), gdy.get(), gdw.get(), ws.get(), p, s);
      cuda::conv2d_tc_backward_weight(d, gx.get(), gdy.get(), gdw2.get(), ws.get(), p, s);

      const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, taps = d.kernel_h * d.kernel_w;
      const int64_t NP = d.n * d.h_out() * d.w_out();
      check_parity(name + " y", gy.download(), ref.y, sum.y, Cg * taps + 1);
      check_parity(name + " y (no bias)", gy_nb.download(), ref_nb.y, sum.y, Cg * taps);
      check_parity(name + " dx", gdx.download(), ref.dx, sum.dx, Og * taps);
      check_parity(name + " dw", gdw.download(), ref.dw, sum.dw, NP + wp.splits);
      CHECK_MESSAGE(gdw2.download() == gdw.download(), name << ": grad-weight is not bit-identical run to run");
    }
  }
}

TEST_CASE("conv2d_tc: rounding at load == rounding before (the tensor ops pass rounded operands)") {
  const Conv2dDims d = conv2d_dims(3, 5, 13, 13, 7, 3, 2, 1);
  const std::vector<float> x = test::random_floats(d.x_size(), 801), w = test::random_floats(d.w_size(), 802);
  cuda_stream s = cuda::default_stream();
  for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
    std::vector<float> xr(x.size()), wr(w.size());
    cpu::round_to_precision(p, d.x_size(), x.data(), xr.data());
    cpu::round_to_precision(p, d.w_size(), w.data(), wr.data());
    test::DeviceArray gx(x), gw(w), gxr(xr), gwr(wr), gy(size_t(d.y_size())), gyr(size_t(d.y_size()));
    cuda::conv2d_tc_forward(d, gx.get(), gw.get(), nullptr, gy.get(), p, s);
    cuda::conv2d_tc_forward(d, gxr.get(), gwr.get(), nullptr, gyr.get(), p, s);
    CHECK_MESSAGE(gy.download() == gyr.download(), math_precision_name(p) << ": rounding twice changed the result");
  }
}

TEST_CASE("conv2d_tc rejects fp32 operands and a missing split-K workspace") {
  const Conv2dDims d = conv2d_dims(8, 3, 9, 9, 4, 3, 1, 1);
  test::DeviceArray x(size_t(d.x_size())), w(size_t(d.w_size())), y(size_t(d.y_size())), dw(size_t(d.w_size()));
  cuda_stream s = cuda::default_stream();
  CHECK_THROWS_WITH_AS(cuda::conv2d_tc_forward(d, x.get(), w.get(), nullptr, y.get(), MathPrecision::fp32, s),
                       doctest::Contains("--conv-impl tc needs --precision tf32|bf16"), fer::Error);
  CHECK_THROWS_WITH_AS(cuda::conv2d_tc_backward_input(d, y.get(), w.get(), x.get(), MathPrecision::fp32, s),
                       doctest::Contains("needs tf32 or bf16"), fer::Error);
  REQUIRE(cuda::conv2d_tc_workspace_floats(d) > 0);  // batch 8, a tiny grid: split over the batch
  CHECK_THROWS_WITH_AS(
      cuda::conv2d_tc_backward_weight(d, x.get(), y.get(), dw.get(), nullptr, MathPrecision::bf16, s),
      doctest::Contains("workspace"), fer::Error);
}

TEST_CASE("ops::conv2d with --conv-impl tc == native == CPU under tf32 and bf16 (forward and backward)") {
  const test::ConvCase cases[] = {
      {3, 5, 13, 13, 7, 3, 2, 1, 1, false},     // k3 s2 p1, odd sizes
      {3, 4, 9, 8, 6, 3, 2, 1, 2, false},       // groups 2
      {2, 6, 5, 5, 4, 1, 1, 0, 1, false},       // pointwise
      {4, 1, 48, 48, 16, 3, 1, 0, 1, false},    // CNN6's 1st layer: direct kernel in every impl (tc: kernel case above)
      {8, 32, 12, 12, 48, 3, 1, 1, 1, false},   // a CNN-sized layer
  };
  uint64_t seed = 900;
  for (const test::ConvCase& c : cases) {
    const std::vector<float> x = test::random_floats(test::numel(c.x_shape()), ++seed);
    const std::vector<float> w = test::random_floats(test::numel(c.w_shape()), ++seed);
    const std::vector<float> b = test::random_floats(c.c_out, ++seed);
    const std::vector<float> dy = test::random_floats(test::numel(c.y_shape()), ++seed);
    for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
      const std::string name = std::string("ops::conv2d tc ") + math_precision_name(p) + " " + describe(c.conv());
      CAPTURE(name);
      test::LayerResult<float> tcr;
      {
        ConvImplScope scope(ops::ConvImpl::tc);
        tcr = test::run_conv(c, Device::cuda, p, x, w, b, dy);
      }
      const test::LayerResult<float> nat = test::run_conv(c, Device::cuda, p, x, w, b, dy);
      const test::LayerResult<float> cpu = test::run_conv(c, Device::cpu, p, x, w, b, dy);
      const test::LayerResult<double> s = test::conv_oracle(
          c, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
          test::absolute(std::vector<double>(b.begin(), b.end())), test::absolute(test::rounded(dy, p)));
      const test::LayerResult<double> s_db =  // db sums fp32 dy
          test::conv_oracle(c, test::absolute(test::rounded(x, p)), test::absolute(test::rounded(w, p)),
                            test::absolute(std::vector<double>(b.begin(), b.end())),
                            test::absolute(std::vector<double>(dy.begin(), dy.end())));
      const auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
      // Two fp32 results, each within 2 (K+1) 2^-24 S of the exact sum: factor 8 (2x margin).
      for (const auto* other : {&nat, &cpu}) {
        const std::string vs = other == &nat ? " vs native" : " vs cpu";
        check_parity(name + vs + " y", tcr.y, as_double(other->y), s.y, c.max_terms(), 8.0);
        check_parity(name + vs + " dx", tcr.dx, as_double(other->dx), s.dx, c.max_terms(), 8.0);
        check_parity(name + vs + " dw", tcr.dw, as_double(other->dw), s.dw, c.max_terms(), 8.0);
        check_parity(name + vs + " db", tcr.db, as_double(other->db), s_db.db, c.max_terms(), 8.0);
      }
    }
  }
  // Under fp32 the tc implementation is a clear error, not a silent fallback.
  const test::ConvCase c{1, 2, 5, 5, 3, 3, 1, 1, 1, false};
  const std::vector<float> x(size_t(test::numel(c.x_shape())), 0.5f), w(size_t(test::numel(c.w_shape())), 0.25f);
  const std::vector<float> b(size_t(c.c_out), 0.f), dy(size_t(test::numel(c.y_shape())), 1.f);
  ConvImplScope scope(ops::ConvImpl::tc);
  CHECK_THROWS_WITH_AS(test::run_conv(c, Device::cuda, MathPrecision::fp32, x, w, b, dy),
                       doctest::Contains("--conv-impl tc needs --precision tf32|bf16"), fer::Error);
}

TEST_CASE("the tiny model trains under bf16 with --conv-impl tc and tracks the CPU emulation") {
  std::vector<double> cpu, gpu;
  {
    MathPrecisionScope bf16_scope(MathPrecision::bf16);
    cpu = test::train_tiny_model(Device::cpu, 50);
    ConvImplScope scope(ops::ConvImpl::tc);
    gpu = test::train_tiny_model(Device::cuda, 50);
  }
  CHECK(gpu.back() < gpu.front() / 10.0);
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(gpu[i] - cpu[i]) <= 1e-4 + 0.02 * std::abs(cpu[i]));  // as the precision parity test
  }
}
