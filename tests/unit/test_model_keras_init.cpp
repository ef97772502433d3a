// R002's Keras models start as Keras builds them (MODELS.md 4 and 8.1 item 3): the shallow CNN and
// vgg16mod use BatchNormalization eps 1e-3 and momentum 0.99 in Keras' convention (0.01 in PyTorch's,
// the one nn::BatchNorm2d takes), Glorot-uniform Conv2D/Dense kernels and zero biases; the R002 MLP
// heads of vgg16, resnet50 and efficientnet-b0 start with Glorot-uniform kernels and zero biases while
// their torchvision-layout bodies keep their own init. Checked on the built models: exact zero biases,
// every weight inside Glorot's bound, the sample variance of the large layers within 10 % of Glorot's
// 2 / (fan_in + fan_out), BN gamma 1 / beta 0, and the BN settings through the forward pass (one
// training-mode forward moves the running mean by exactly 0.01 of the batch mean; eval mode divides by
// sqrt(running_var + 1e-3)).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/registry.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "tensor/ops.h"

using namespace fer;

namespace {

// Large enough that the sample variance of a uniform draw is within 10 % (its relative standard error
// is sqrt(0.8 / n) < 1.3 % here).
constexpr int64_t kLargeLayer = 4096;

struct InitStats {
  int checked = 0, large = 0;
};

// Glorot-uniform weight and zero bias: every element of the bias is exactly 0, every weight lies in
// [-b, b] with b = sqrt(6 / (fan_in + fan_out)), and for large layers the sample variance is within
// 10 % of b^2 / 3 = 2 / (fan_in + fan_out).
void check_glorot_zero_bias(const std::string& name, const Tensor& weight, const Tensor& bias, InitStats& st) {
  INFO(name << " " << describe(weight));
  const double fan_sum = static_cast<double>(nn::init::fan(weight, nn::init::FanMode::fan_in) +
                                             nn::init::fan(weight, nn::init::FanMode::fan_out));
  const double bound = std::sqrt(6.0 / fan_sum), target = 2.0 / fan_sum;
  REQUIRE(bias.defined());
  for (float v : bias.to_dtype(DType::f32).to_vector<float>()) REQUIRE(v == 0.0f);
  const auto w = weight.to_dtype(DType::f64).to_vector<double>();
  double sum = 0, sq = 0, max_abs = 0;
  for (double v : w) {
    sum += v;
    max_abs = std::max(max_abs, std::abs(v));
  }
  const double mean = sum / static_cast<double>(w.size());
  for (double v : w) sq += (v - mean) * (v - mean);
  const double var = sq / static_cast<double>(w.size() - 1);
  CHECK(max_abs <= bound * (1 + 1e-6));
  if (weight.numel() >= kLargeLayer) {
    CHECK_MESSAGE(std::abs(var / target - 1.0) < 0.10, "variance " << var << ", Glorot " << target);
    ++st.large;
  }
  ++st.checked;
}

// Every Conv2d and Linear of `m` whose path starts with `prefix` (all of them for "").
InitStats check_keras_layers(nn::Module& m, const std::string& prefix) {
  InitStats st;
  for (auto& [name, mod] : m.named_modules()) {
    if (name.rfind(prefix, 0) != 0) continue;
    if (auto* conv = dynamic_cast<nn::Conv2d*>(mod)) check_glorot_zero_bias(name, conv->weight, conv->bias, st);
    if (auto* lin = dynamic_cast<nn::Linear*>(mod)) check_glorot_zero_bias(name, lin->weight, lin->bias, st);
  }
  return st;
}

// Keras BatchNormalization: eps 1e-3, momentum 0.01 (PyTorch convention), gamma 1, beta 0; and the same
// settings seen through the op: a training-mode forward from running_mean 0 leaves exactly 0.01 of the
// batch mean, and an eval-mode forward from running (0, 1) gives x / sqrt(1 + 1e-3).
void check_keras_bn(const std::string& name, nn::BatchNorm2d& bn) {
  INFO(name);
  CHECK(bn.eps == 1e-3);
  CHECK(bn.momentum == 0.01);
  for (float v : bn.weight.to_vector<float>()) CHECK(v == 1.0f);
  for (float v : bn.bias.to_vector<float>()) CHECK(v == 0.0f);

  // A fresh layer with the model's settings, so the model's own buffers stay untouched.
  nn::BatchNorm2d probe(bn.channels, bn.eps, bn.momentum);
  const int64_t c = bn.channels;
  std::vector<float> xs(static_cast<size_t>(2 * c * 3 * 3));
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = 0.25f + 0.5f * static_cast<float>((i * 37) % 11) / 11.0f;
  const Tensor x = Tensor::from_vector(xs, {2, c, 3, 3});
  probe.train(true);
  probe(x);
  const auto rm = probe.running_mean.to_vector<float>();
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t k = 0; k < 9; ++k) mean += xs[static_cast<size_t>((n * c + ch) * 9 + k)];
    mean /= 18.0;
    CHECK(rm[static_cast<size_t>(ch)] == doctest::Approx(0.01 * mean).epsilon(1e-5));
  }

  nn::BatchNorm2d fresh(bn.channels, bn.eps, bn.momentum);
  fresh.eval();
  const auto y = fresh(x).to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) CHECK(y[i] == doctest::Approx(xs[i] / std::sqrt(1.001)).epsilon(1e-5));
}

int check_keras_bns(nn::Module& m) {
  int n = 0;
  for (auto& [name, mod] : m.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(mod)) {
      check_keras_bn(name, *bn);
      ++n;
    }
  return n;
}

}  // namespace

TEST_CASE("keras init: keras_default draws Glorot-uniform weights and zeroes the bias") {
  nn::Linear lin(300, 200);
  nn::Conv2d conv(16, 32, 3, 1, 1, true);
  nn::init::keras_default(lin.weight, lin.bias);
  nn::init::keras_init(conv);
  InitStats st;
  check_glorot_zero_bias("linear", lin.weight, lin.bias, st);
  check_glorot_zero_bias("conv", conv.weight, conv.bias, st);
  CHECK(st.large == 2);
  // A PyTorch-default layer fails the check: its bias is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  nn::Linear torch_default(300, 200);
  double bias_abs = 0;
  for (float v : torch_default.bias.to_vector<float>()) bias_abs += std::abs(v);
  CHECK(bias_abs > 0);
}

TEST_CASE("shallow: Keras init (Glorot-uniform, zero bias) and Keras BatchNorm (eps 1e-3, momentum 0.01)") {
  nn::ModulePtr m = models::build_model("shallow", {6, 1.0, ""});
  const InitStats st = check_keras_layers(*m, "");
  CHECK(st.checked == 6);  // conv1..conv4, fc1, fc2
  CHECK(st.large == 4);    // conv2 (9,216 weights), conv3, conv4, fc1
  CHECK(check_keras_bns(*m) == 4);
}

TEST_CASE("vgg16mod: Keras init (Glorot-uniform, zero bias) and Keras BatchNorm (eps 1e-3, momentum 0.01)") {
  nn::ModulePtr m = models::build_model("vgg16mod", {6, 0.25, ""});
  const InitStats st = check_keras_layers(*m, "");
  CHECK(st.checked == 17);  // 13 body convs, stage6/7 convs, fc1, fc2
  CHECK(st.large >= 12);
  CHECK(check_keras_bns(*m) == 2);
}

TEST_CASE("R002 MLP heads (vgg16, resnet50, efficientnet-b0): Glorot-uniform Dense kernels, zero biases") {
  struct Case {
    const char* model;
    const char* head;
  };
  for (const Case& c : {Case{"vgg16", "fc"}, Case{"resnet50", "fc."}, Case{"efficientnet-b0", "classifier."}}) {
    INFO(c.model);
    nn::ModulePtr m = models::build_model(c.model, {6, 0.5, ""});
    const InitStats st = check_keras_layers(*m, c.head);
    CHECK(st.checked == 3);
    CHECK(st.large >= 2);
  }
  // The vgg16 body is not re-initialised (it takes ImageNet weights): PyTorch's default bias draws.
  nn::ModulePtr vgg = models::build_model("vgg16", {6, 0.5, ""});
  auto* conv = dynamic_cast<nn::Conv2d*>(vgg->find("backbone.block1_conv1"));
  REQUIRE(conv != nullptr);
  double bias_abs = 0;
  for (float v : conv->bias.to_vector<float>()) bias_abs += std::abs(v);
  CHECK(bias_abs > 0);
  // efficientnet-b0 keeps torchvision's BatchNorm settings in its body.
  nn::ModulePtr eff = models::build_model("efficientnet-b0", {6, 0.5, ""});
  auto* bn = dynamic_cast<nn::BatchNorm2d*>(eff->find("features.0.1"));
  REQUIRE(bn != nullptr);
  CHECK(bn->eps == 1e-5);
  CHECK(bn->momentum == 0.1);
}
