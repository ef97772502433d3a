// models/conv_shapes.h: the conv shape lists the GPU benchmarks time. CNN6 and VGGNet against the
// layer tables of MODELS.md (every conv, its count, and conv MACs = the model's MACs minus its
// linear layers); ResNet18's repeated blocks merged with a count; the U-Net's transposed convs.
// Also the --conv-impl switch (ops::set_conv_impl, TrainConfig validation).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fer/config.h"
#include "models/conv_shapes.h"
#include "models/registry.h"
#include "tensor/ops.h"
#include "tools/common/train_config.h"

using namespace fer;
using models::ConvShape;

namespace {

ConvShape square(int64_t n, int64_t c_in, int64_t hw, int64_t c_out, int64_t k, int64_t stride, int64_t pad, bool bias) {
  ConvShape s;
  s.n = n, s.c_in = c_in, s.h_in = s.w_in = hw, s.c_out = c_out;
  s.kernel_h = s.kernel_w = k, s.stride_h = s.stride_w = stride, s.pad_h = s.pad_w = pad, s.bias = bias;
  return s;
}

const ConvShape* find(const std::vector<ConvShape>& v, const ConvShape& s) {
  for (const ConvShape& t : v)
    if (t.same_geometry(s)) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("conv_shapes: cnn6 has MODELS.md's six valid 3x3 convs, scaled to the batch") {
  const std::vector<ConvShape> shapes = models::conv_shapes("cnn6", 64);
  // {Cin, H, Cout}: c1..c6 (k3 s1 p0 with bias; pools after c2, c4, c6)
  const int64_t table[6][3] = {{1, 48, 16}, {16, 46, 32}, {32, 22, 64}, {64, 20, 128}, {128, 9, 256}, {256, 7, 256}};
  REQUIRE(shapes.size() == 6);
  for (int i = 0; i < 6; ++i) {
    INFO("layer c" << i + 1 << ": " << shapes[i].str());
    CHECK(shapes[i].same_geometry(square(64, table[i][0], table[i][1], table[i][2], 3, 1, 0, true)));
    CHECK(shapes[i].count == 1);
  }
  CHECK(shapes[0].str() == "n64 c1 48x48 -> k16 3x3 s1 p0 g1 bias");
  CHECK(shapes[5].h_out() == 5);
  // conv MACs per image = the model's MACs (MODELS.md 70,210,624) minus FC 1024-512 and 512-7
  const std::vector<ConvShape> one = models::conv_shapes("cnn6", 1);
  const int64_t linear = 1024 * 512 + 512 * 7;
  CHECK(models::conv_macs(one) == models::find_model("cnn6").expected_macs - linear);
  CHECK(models::conv_macs(one) == 69682752);
  CHECK(models::conv_macs(shapes) == 64 * models::conv_macs(one));
}

TEST_CASE("conv_shapes: vggnet has its eight padded 3x3 convs and 325.3 M conv MACs per crop") {
  const std::vector<ConvShape> shapes = models::conv_shapes("vggnet", 1);
  const int64_t table[8][3] = {{1, 40, 64},    {64, 40, 64},   {64, 20, 128},  {128, 20, 128},
                               {128, 10, 256}, {256, 10, 256}, {256, 5, 512}, {512, 5, 512}};
  REQUIRE(shapes.size() == 8);
  for (int i = 0; i < 8; ++i) {
    INFO("layer " << i << ": " << shapes[i].str());
    CHECK(shapes[i].same_geometry(square(1, table[i][0], table[i][1], table[i][2], 3, 1, 1, true)));
    CHECK(shapes[i].count == 1);
  }
  const int64_t linear = 2048 * 4096 + 4096 * 4096 + 4096 * 7;  // MODELS.md 2.1: FCs 25.2 M
  CHECK(models::conv_macs(shapes) == models::find_model("vggnet").expected_macs - linear);
  CHECK(std::abs(static_cast<double>(models::conv_macs(shapes)) / 1e6 - 325.3) < 0.05);
}

TEST_CASE("conv_shapes: resnet18 merges its repeated blocks into counts") {
  const std::vector<ConvShape> shapes = models::conv_shapes("resnet18", 48);
  // stem 7x7 s2 p3 (no bias) on 3x48x48, then layer1's four 3x3 64->64 convs on 12x12
  REQUIRE(!shapes.empty());
  CHECK(shapes[0].same_geometry(square(48, 3, 48, 64, 7, 2, 3, false)));
  const ConvShape* l1 = find(shapes, square(48, 64, 12, 64, 3, 1, 1, false));
  REQUIRE(l1 != nullptr);
  CHECK(l1->count == 4);
  int64_t calls = 0;
  for (const ConvShape& s : shapes) calls += s.count;
  CHECK(calls == 20);  // stem + 8 blocks x 2 + 3 projection shortcuts
  CHECK(static_cast<int64_t>(shapes.size()) < calls);
}

TEST_CASE("conv_shapes: the attention U-Net records its transposed convs; a bad call is a clear error") {
  const std::vector<ConvShape> shapes = models::conv_shapes("unet", 2, {7, 0.25, ""});
  int64_t transposed = 0;
  for (const ConvShape& s : shapes) {
    if (!s.transposed) continue;
    ++transposed;
    CHECK(s.n == 2);
    CHECK_THROWS_AS(s.dims(), fer::Error);
    CHECK(s.macs() == s.transposed_dims().macs());
  }
  CHECK(transposed > 0);
  CHECK(models::conv_macs(shapes, false) < models::conv_macs(shapes, true));
  CHECK_THROWS_AS(models::conv_shapes("cnn6", 0), fer::Error);
  CHECK_THROWS_AS(models::conv_shapes("no-such-model", 1), fer::Error);
}

// ---- --conv-impl (tensor/ops.h): the switch itself; the cuDNN numbers are in tests/cuda ---------------

TEST_CASE("--conv-impl: names, CPU tensors stay on the CPU kernels, fertrain rejects cudnn without CUDA") {
  CHECK(ops::conv_impl() == ops::ConvImpl::native);
  CHECK(ops::conv_impl_from_name("native") == ops::ConvImpl::native);
  CHECK(ops::conv_impl_from_name("cudnn") == ops::ConvImpl::cudnn);
  CHECK_THROWS_WITH_AS(ops::conv_impl_from_name("cuda"), doctest::Contains("native, cudnn or tc"), fer::Error);
  if (kCudnnBuilt) {
    const Tensor x = Tensor::ones({1, 2, 5, 5}), w = Tensor::ones({3, 2, 3, 3}), b = Tensor::zeros({3});
    ops::set_conv_impl(ops::ConvImpl::cudnn);
    const Tensor y = ops::conv2d(x, w, b, ops::Conv2dOptions::make(1, 0));  // a CPU tensor: CPU kernels
    ops::set_conv_impl(ops::ConvImpl::native);
    CHECK(y.shape() == Shape{1, 3, 3, 3});
    CHECK(y.to_vector<float>()[0] == 18.0f);
  } else {
    CHECK_THROWS_WITH_AS(ops::set_conv_impl(ops::ConvImpl::cudnn), doctest::Contains("no cuDNN"), fer::Error);
  }
  tools::TrainConfig c;
  c.conv_impl = "cudnn";
  c.device = "cpu";
  CHECK_THROWS_WITH_AS(tools::validate(c), doctest::Contains("--conv-impl native"), fer::Error);
  c.conv_impl = "fast";
  CHECK_THROWS_WITH_AS(tools::validate(c), doctest::Contains("--conv-impl"), fer::Error);
  c.conv_impl = "native";
  CHECK_NOTHROW(tools::validate(c));
}
