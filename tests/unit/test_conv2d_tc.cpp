// The host-side logic of the tensor-core convolution (kernels/conv2d_tc.h, conv2d_tc_cpu.cpp): the GEMM
// sizes and grid of each pass, the grad-weight batch split, the argument / precision / architecture
// checks, and the --conv-impl tc switch (ops::conv_impl_from_name, set_conv_impl, TrainConfig
// validation). The kernels themselves are checked on a GPU (tests/cuda/test_conv2d_tc_parity.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fer/config.h"
#include "kernels/conv2d_tc.h"
#include "kernels/conv2d_tc_ops.h"
#include "tensor/ops.h"
#include "tools/common/train_config.h"

using namespace fer;

TEST_CASE("conv2d_tc plan: GEMM sizes and grid of each pass (odd shapes, groups)") {
  // N=3, Cin=5, 13x13 -> 7, k3 s2 p1: Ho = Wo = 7, P = 49.
  const Conv2dDims d = conv2d_dims(3, 5, 13, 13, 7, 3, 2, 1);
  const tc::Plan f = tc::plan(d, tc::Pass::forward);
  CHECK(f.m == 3 * 49);
  CHECK(f.n == 7);
  CHECK(f.k == 5 * 9);
  CHECK(f.tiles_m == 3);  // ceil(147 / 64)
  CHECK(f.tiles_n == 1);
  CHECK(f.groups == 1);
  CHECK(f.splits == 1);
  CHECK(f.workspace_floats == 0);
  const tc::Plan bi = tc::plan(d, tc::Pass::backward_input);
  CHECK(bi.m == 3 * 13 * 13);
  CHECK(bi.n == 5);
  CHECK(bi.k == 7 * 9);
  CHECK(bi.tiles_m == 8);  // ceil(507 / 64)
  CHECK(bi.splits == 1);
  const tc::Plan bw = tc::plan(d, tc::Pass::backward_weight);
  CHECK(bw.m == 5 * 9);
  CHECK(bw.n == 7);
  CHECK(bw.k == 3 * 49);
  CHECK(bw.tiles_m == 1);
  CHECK(bw.tiles_n == 1);
  CHECK(bw.splits == 3);  // one block per group would idle the GPU: one slice per sample
  CHECK(bw.samples_per_split == 1);
  CHECK(bw.workspace_floats == 3 * d.w_size());

  // groups 2: per-group channel counts, grid z = groups * splits.
  const Conv2dDims g = conv2d_dims(4, 6, 9, 9, 130, 3, 1, 1, 2);
  const tc::Plan gf = tc::plan(g, tc::Pass::forward);
  CHECK(gf.n == 65);
  CHECK(gf.k == 3 * 9);
  CHECK(gf.tiles_n == 2);
  CHECK(gf.groups == 2);
  const tc::Plan gi = tc::plan(g, tc::Pass::backward_input);
  CHECK(gi.n == 3);
  CHECK(gi.k == 65 * 9);
  const tc::Plan gw = tc::plan(g, tc::Pass::backward_weight);
  CHECK(gw.m == 27);
  CHECK(gw.n == 65);
  CHECK(gw.tiles_n == 2);
  CHECK(gw.splits == 4);
  CHECK(gw.workspace_floats == 4 * g.w_size());

  // batch 1: never split (no workspace).
  const tc::Plan one = tc::plan(conv2d_dims(1, 64, 48, 48, 64, 3, 1, 1), tc::Pass::backward_weight);
  CHECK(one.splits == 1);
  CHECK(one.workspace_floats == 0);
}

TEST_CASE("conv2d_tc weight_splits: fills the target grid, never an empty slice, bounded") {
  CHECK(tc::weight_splits(1, 1) == 1);
  CHECK(tc::weight_splits(64, 1) == 64);                    // 264 blocks wanted, the batch is the cap
  CHECK(tc::weight_splits(256, 1) == tc::kMaxSplits);       // at most kMaxSplits
  CHECK(tc::weight_splits(64, 300) == 1);                   // the grid is already large
  CHECK(tc::weight_splits(64, 100) == 3);                   // ceil(264/100) = 3: 22 + 22 + 20 samples
  CHECK(tc::weight_splits(10, 40) == 5);                    // 7 wanted -> 2 samples each -> 5 slices
  for (int64_t batch = 1; batch <= 130; ++batch)
    for (int64_t tiles : {1, 2, 7, 33, 264, 1000}) {
      const int64_t s = tc::weight_splits(batch, tiles);
      const int64_t per = (batch + s - 1) / s;
      CAPTURE(batch);
      CAPTURE(tiles);
      CHECK(s >= 1);
      CHECK(s <= std::min(batch, tc::kMaxSplits));
      CHECK((s - 1) * per < batch);  // the last slice has at least one sample
    }
  CHECK_THROWS_AS(tc::weight_splits(0, 1), fer::Error);
}

TEST_CASE("conv2d_tc checks: geometry, 32-bit indexing, precision, architecture") {
  Conv2dDims bad = conv2d_dims(2, 5, 13, 13, 7, 3);
  bad.groups = 2;  // does not divide 5
  CHECK_THROWS_WITH_AS(tc::plan(bad, tc::Pass::forward), doctest::Contains("groups"), fer::Error);
  const Conv2dDims huge = conv2d_dims(1 << 16, 1, 256, 256, 1, 1);  // M = 2^32
  CHECK_THROWS_WITH_AS(tc::plan(huge, tc::Pass::forward), doctest::Contains("32-bit"), fer::Error);
  CHECK_THROWS_WITH_AS(tc::plan(huge, tc::Pass::backward_weight), doctest::Contains("32-bit"), fer::Error);

  CHECK_NOTHROW(tc::check_precision("op", MathPrecision::tf32));
  CHECK_NOTHROW(tc::check_precision("op", MathPrecision::bf16));
  CHECK_THROWS_WITH_AS(tc::check_precision("conv2d", MathPrecision::fp32),
                       doctest::Contains("--conv-impl tc needs --precision tf32|bf16"), fer::Error);

  CHECK_NOTHROW(tc::check_arch("op", 8, 0));
  CHECK_NOTHROW(tc::check_arch("op", 9, 0));
  CHECK_THROWS_WITH_AS(tc::check_arch("cuda::conv2d_tc_forward", 7, 5), doctest::Contains("7.5"), fer::Error);
  CHECK(std::string(tc::pass_name(tc::Pass::backward_weight)) == "grad_weight");
}

TEST_CASE("--conv-impl tc: the name, CPU tensors stay on the CPU kernels, fertrain's validation") {
  CHECK(ops::conv_impl_from_name("tc") == ops::ConvImpl::tc);
  CHECK_THROWS_WITH_AS(ops::conv_impl_from_name("tensorcore"), doctest::Contains("native, cudnn or tc"), fer::Error);
  if (kCudaBuilt) {
    const Tensor x = Tensor::ones({1, 2, 5, 5}), w = Tensor::ones({3, 2, 3, 3}), b = Tensor::zeros({3});
    ops::set_conv_impl(ops::ConvImpl::tc);
    CHECK(ops::conv_impl() == ops::ConvImpl::tc);
    const Tensor y = ops::conv2d(x, w, b, ops::Conv2dOptions::make(1, 0));  // a CPU tensor, fp32: CPU kernels
    ops::set_conv_impl(ops::ConvImpl::native);
    CHECK(y.shape() == Shape{1, 3, 3, 3});
    CHECK(y.to_vector<float>()[0] == 18.0f);
  } else {
    CHECK_THROWS_WITH_AS(ops::set_conv_impl(ops::ConvImpl::tc), doctest::Contains("no CUDA"), fer::Error);
  }
  CHECK(ops::conv_impl() == ops::ConvImpl::native);

  tools::TrainConfig c;
  c.conv_impl = "tc";
  c.device = "cpu";
  c.precision = "bf16";
  CHECK_THROWS_WITH_AS(tools::validate(c), doctest::Contains("--conv-impl native"), fer::Error);  // CPU
  c.device = "cuda";
  c.precision = "fp32";
  CHECK_THROWS_WITH_AS(tools::validate(c), doctest::Contains("--conv-impl tc needs --precision tf32|bf16"),
                       fer::Error);
  for (const char* p : {"tf32", "bf16"}) {
    c.precision = p;
    if (kCudaBuilt)
      CHECK_NOTHROW(tools::validate(c));
    else
      CHECK_THROWS_WITH_AS(tools::validate(c), doctest::Contains("no CUDA"), fer::Error);
  }
}

// ---- the kernel's tiling replayed on the host ------------------------------------------------------------
// The very gather/store code of the kernel (kernels/conv2d_tc_ops.h) driven like tc_gemm_kernel does it:
// grid (tiles_m, tiles_n, groups*splits), 64x64 tiles, K steps of 16, the 128 loader threads with their
// (row, k) roles and edge masks, operands rounded at load, then the split-K reduction in slice order.
// Only the 16-wide tile product is a plain loop here instead of the mma fragments (those are checked on
// the GPU, tests/cuda/test_conv2d_tc_parity.cpp). Checked against the CPU twin on rounded operands.
namespace {

template <class Op>
void replay(const tc::Plan& pl, const Op& op, MathPrecision p) {
  using tc::kTileK;
  using tc::kTileM;
  using tc::kTileN;
  std::vector<float> As(kTileM * kTileK), Bs(kTileN * kTileK), acc(kTileM * kTileN);
  for (int z = 0; z < int(pl.groups * pl.splits); ++z) {
    const typename Op::Block bk = op.block(z);
    for (int tm = 0; tm < int(pl.tiles_m); ++tm)
      for (int tn = 0; tn < int(pl.tiles_n); ++tn) {
        const int m0 = tm * kTileM, n0 = tn * kTileN;
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int k0 = bk.k_begin; k0 < bk.k_end; k0 += kTileK) {
          for (int tid = 0; tid < tc::kThreads; ++tid) {  // the loader roles of the kernel
            const int a_row = tid % kTileM, a_k0 = tid / kTileM, b_k = tid % kTileK, b_n0 = tid / kTileK;
            const bool a_ok = m0 + a_row < op.M;
            const typename Op::Row row = op.row(bk, a_ok ? m0 + a_row : 0);
            for (int r = 0; r < 8; ++r) {
              const int k = k0 + a_k0 + 2 * r, kb = k0 + b_k, n = n0 + b_n0 + 8 * r;
              As[size_t(a_row * kTileK + a_k0 + 2 * r)] =
                  (a_ok && k < bk.k_end) ? precision::round_to(op.a(bk, row, k), p) : 0.f;
              Bs[size_t((b_n0 + 8 * r) * kTileK + b_k)] =
                  (kb < bk.k_end && n < op.Ng) ? precision::round_to(op.b(bk, kb, n), p) : 0.f;
            }
          }
          for (int i = 0; i < kTileM; ++i)
            for (int j = 0; j < kTileN; ++j)
              for (int k = 0; k < kTileK; ++k)
                acc[size_t(i * kTileN + j)] += As[size_t(i * kTileK + k)] * Bs[size_t(j * kTileK + k)];
        }
        for (int i = 0; i < kTileM; ++i)
          for (int j = 0; j < kTileN; ++j)
            if (m0 + i < op.M && n0 + j < op.Ng) op.store(bk, m0 + i, n0 + j, acc[size_t(i * kTileN + j)]);
      }
  }
}

std::vector<double> rounded(const std::vector<float>& v, MathPrecision p) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = precision::round_to(v[i], p);
  return r;
}

std::vector<float> pattern(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 1u;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float(s >> 8) / float(1u << 23) - 1.0f;  // [-1, 1), full float mantissas: rounding matters
  }
  return v;
}

// |got - ref| <= 4 (K+1) 2^-24 S + 1e-6 with S the twin on |operands| (kernels/notes/conv2d_tc.md).
void check_close(const char* what, const std::vector<float>& got, const std::vector<double>& ref,
                 const std::vector<double>& s, int64_t terms) {
  REQUIRE(got.size() == ref.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = 4.0 * double(terms + 1) * std::ldexp(1.0, -24) * s[i] + 1e-6;
    if (!(std::fabs(double(got[i]) - ref[i]) <= bound)) {
      FAIL_CHECK(std::string(what) << "[" << i << "]: " << got[i] << " vs " << ref[i] << ", bound " << bound);
      return;
    }
  }
}

std::vector<double> absolute(std::vector<double> v) {
  for (double& x : v) x = std::fabs(x);
  return v;
}

}  // namespace

TEST_CASE("conv2d_tc: the kernel's tiling and gathers replayed on the host == the CPU twin (tf32, bf16)") {
  std::vector<Conv2dDims> dims = {
      conv2d_dims(3, 5, 13, 13, 7, 3, 2, 1),     // k3 s2 p1, odd sizes
      conv2d_dims(2, 5, 6, 7, 3, 1),             // pointwise
      conv2d_dims(2, 4, 7, 6, 6, 1, 2),          // 1x1 stride 2
      conv2d_dims(2, 1, 48, 48, 16, 3),          // CNN6's first layer
      conv2d_dims(3, 4, 9, 9, 6, 3, 2, 0, 2),    // groups 2
      conv2d_dims(2, 8, 13, 11, 8, 3, 2, 1, 8),  // depthwise
      conv2d_dims(1, 2, 5, 5, 3, 5, 1, 3),       // padding > kernel/2, batch 1
      conv2d_dims(2, 8, 11, 11, 130, 3, 1, 1),   // three N tiles
      conv2d_dims(5, 3, 6, 5, 4, 3, 3, 2),       // stride 3 (dx taps that no output reads)
  };
  Conv2dDims a = conv2d_dims(2, 3, 7, 10, 4, 3, 1, 1);
  a.kernel_w = 2, a.stride_w = 2, a.pad_w = 0;  // non-square
  dims.push_back(a);
  uint32_t seed = 1;
  for (const Conv2dDims& d : dims) {
    const std::vector<float> x = pattern(d.x_size(), ++seed), w = pattern(d.w_size(), ++seed);
    const std::vector<float> b = pattern(d.c_out, ++seed), dy = pattern(d.y_size(), ++seed);
    for (MathPrecision p : {MathPrecision::tf32, MathPrecision::bf16}) {
      CAPTURE(math_precision_name(p));
      CAPTURE(d.n);
      CAPTURE(d.c_in);
      CAPTURE(d.c_out);
      CAPTURE(d.kernel_h);
      CAPTURE(d.stride_h);
      CAPTURE(d.groups);
      const std::vector<double> xr = rounded(x, p), wr = rounded(w, p), dyr = rounded(dy, p);
      const std::vector<double> bd(b.begin(), b.end());
      std::vector<double> y(size_t(d.y_size())), dx(size_t(d.x_size())), dw(size_t(d.w_size()));
      std::vector<double> sy(y.size()), sdx(dx.size()), sdw(dw.size());
      cpu::conv2d_forward_reference<double>(d, xr.data(), wr.data(), bd.data(), y.data());
      cpu::conv2d_backward_input_reference<double>(d, dyr.data(), wr.data(), dx.data());
      cpu::conv2d_backward_weight_reference<double>(d, xr.data(), dyr.data(), dw.data(), nullptr);
      const std::vector<double> axr = absolute(xr), awr = absolute(wr), ady = absolute(dyr), ab = absolute(bd);
      cpu::conv2d_forward_reference<double>(d, axr.data(), awr.data(), ab.data(), sy.data());
      cpu::conv2d_backward_input_reference<double>(d, ady.data(), awr.data(), sdx.data());
      cpu::conv2d_backward_weight_reference<double>(d, axr.data(), ady.data(), sdw.data(), nullptr);

      const tc::Geo g = tc::make_geo(d);
      const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, taps = d.kernel_h * d.kernel_w;
      std::vector<float> gy(y.size(), NAN), gdx(dx.size(), NAN), gdw(dw.size(), NAN);
      const tc::Plan pf = tc::plan(d, tc::Pass::forward);
      replay(pf, tc::ForwardOp{g, int(pf.m), int(pf.n), int(pf.k), x.data(), w.data(), b.data(), gy.data()}, p);
      check_close("y", gy, y, sy, Cg * taps + 1);
      const tc::Plan pi = tc::plan(d, tc::Pass::backward_input);
      replay(pi, tc::BackwardInputOp{g, int(pi.m), int(pi.n), int(pi.k), dy.data(), w.data(), gdx.data()}, p);
      check_close("dx", gdx, dx, sdx, Og * taps);
      const tc::Plan pw = tc::plan(d, tc::Pass::backward_weight);
      std::vector<float> ws(size_t(pw.workspace_floats), NAN);
      replay(pw,
             tc::BackwardWeightOp{g, int(pw.m), int(pw.n), int(pw.k), int(pw.splits), int(pw.samples_per_split),
                                  x.data(), dy.data(), pw.splits > 1 ? ws.data() : gdw.data()},
             p);
      if (pw.splits > 1)  // sum_splits_kernel: slices in order
        for (size_t e = 0; e < gdw.size(); ++e) {
          float sum = ws[e];
          for (int64_t s = 1; s < pw.splits; ++s) sum += ws[size_t(s) * gdw.size() + e];
          gdw[e] = sum;
        }
      check_close("dw", gdw, dw, sdw, d.n * d.h_out() * d.w_out() + pw.splits);
    }
  }
}
