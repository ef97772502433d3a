// The host-side logic of the tensor-core convolution (kernels/conv2d_tc.h, conv2d_tc_cpu.cpp): the GEMM
// sizes and grid of each pass, the grad-weight batch split, the argument / precision / architecture
// checks, and the --conv-impl tc switch (ops::conv_impl_from_name, set_conv_impl, TrainConfig
// validation). The kernels themselves are checked on a GPU (tests/cuda/test_conv2d_tc_parity.cpp).
#include <doctest/doctest.h>

#include <string>

#include "fer/config.h"
#include "kernels/conv2d_tc.h"
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
