// Grad-CAM (tools/common/gradcam.h) on tiny hand-built models whose cam can be computed by hand:
// a two-channel "bright / dark" detector whose class-0 cam covers exactly the bright left half, a
// one-channel conv whose gradient is not uniform (alpha, raw cam and probabilities against a
// direct computation), the default-layer rule, the errors, the resize and the overlay picture.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "tensor/tensor.h"
#include "tools/common/gradcam.h"

namespace {

using fer::Tensor;
namespace nn = fer::nn;

void set(Tensor& t, const std::vector<float>& v) {
  REQUIRE(static_cast<size_t>(t.numel()) == v.size());
  t.copy_from(Tensor::from_vector(v, t.shape()));
}

fer::tools::LoadedModel wrap(nn::ModulePtr model, int64_t size, std::vector<std::string> classes) {
  fer::tools::LoadedModel m;
  m.model = std::move(model);
  m.model->eval();
  m.name = "test";
  m.classes.id = "test";
  m.classes.names = std::move(classes);
  m.input.channels = 1;
  m.input.size = size;
  return m;
}

// 8x8 image, left half 0.9, right half 0.3.
Tensor half_image() {
  std::vector<float> v(64);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) v[static_cast<size_t>(y * 8 + x)] = x < 4 ? 0.9f : 0.3f;
  return Tensor::from_vector(v, {1, 1, 8, 8});
}

// conv1x1 (1 -> 2): ch0 = x - 0.5 ("bright"), ch1 = 0.5 - x ("dark"); relu; global pool; linear
// class 0 = ch0 - ch1, class 1 = ch1 - ch0.
fer::tools::LoadedModel bright_dark_model() {
  auto conv = std::make_shared<nn::Conv2d>(1, 2, 1, 1, 0, true);
  set(conv->weight, {1.0f, -1.0f});
  set(conv->bias, {-0.5f, 0.5f});
  auto fc = std::make_shared<nn::Linear>(2, 2);
  set(fc->weight, {1.0f, -1.0f, -1.0f, 1.0f});
  set(fc->bias, {0.0f, 0.0f});
  auto seq = std::make_shared<nn::Sequential>();
  seq->add("conv", conv)
      .add("relu", std::make_shared<nn::Act>(fer::Activation::relu))
      .add("pool", std::make_shared<nn::GlobalAvgPool>())
      .add("fc", fc);
  return wrap(seq, 8, {"bright", "dark"});
}

}  // namespace

TEST_CASE("grad_cam: the bright class lights up the bright left half only") {
  auto m = bright_dark_model();
  // default layer: the conv (the last conv-like module before the global pool). Its gradient is
  // W[0, k] / 64 where A_k > 0: ch0 on the left half, ch1 on the right, so alpha = {1/128, -1/128}
  // and the cam is (0.4 + 0.4) / 128 on the left, ReLU(-(0.2 + 0.2) / 128) = 0 on the right.
  const auto cam = fer::tools::grad_cam(m, half_image(), "", -1);
  CHECK(cam.layer == "conv");
  CHECK(cam.class_index == 0);  // pooled (0.2, 0.1): logits 0.1 and -0.1 -> "bright"
  CHECK(cam.prob == doctest::Approx(std::exp(0.1) / (std::exp(0.1) + std::exp(-0.1))).epsilon(1e-5));
  REQUIRE(cam.h == 8);
  REQUIRE(cam.w == 8);
  REQUIRE(cam.cam.size() == 64);
  CHECK_FALSE(cam.all_zero);
  REQUIRE(cam.alpha.size() == 2);
  CHECK(cam.alpha[0] == doctest::Approx(1.0 / 128).epsilon(1e-6));
  CHECK(cam.alpha[1] == doctest::Approx(-1.0 / 128).epsilon(1e-6));
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      const float v = cam.cam[static_cast<size_t>(y * 8 + x)];
      CHECK(v == doctest::Approx(x < 4 ? 1.0f : 0.0f));
      CHECK(cam.raw[static_cast<size_t>(y * 8 + x)] == doctest::Approx(x < 4 ? 0.8 / 128 : 0.0).epsilon(1e-5));
    }

  // at the ReLU the gradient is W[0, k] / 64 everywhere: alpha = {1/64, -1/64}, cam 0.4 / 64 | 0
  const auto at_relu = fer::tools::grad_cam(m, half_image(), "relu", -1);
  CHECK(at_relu.alpha[0] == doctest::Approx(1.0 / 64).epsilon(1e-6));
  CHECK(at_relu.alpha[1] == doctest::Approx(-1.0 / 64).epsilon(1e-6));
  CHECK(at_relu.raw[0] == doctest::Approx(0.4 / 64).epsilon(1e-5));
  CHECK(at_relu.raw[7] == doctest::Approx(0.0));
  CHECK(at_relu.cam[0] == doctest::Approx(1.0f));

  // explaining "dark" instead lights up the right half
  const auto dark = fer::tools::grad_cam(m, half_image(), "relu", 1);
  CHECK(dark.class_index == 1);
  CHECK(dark.cam[0] == doctest::Approx(0.0f));
  CHECK(dark.cam[7] == doctest::Approx(1.0f));

  // a layer with no positive evidence: the conv output of class "dark" on an all-bright image
  const auto zero = fer::tools::grad_cam(m, Tensor::full({1, 1, 8, 8}, 0.9), "relu", 1);
  CHECK(zero.all_zero);
  for (float v : zero.cam) CHECK(v == 0.0f);
}

TEST_CASE("grad_cam: a one-channel conv layer against a direct computation") {
  // conv3x3 pad 1 (1 -> 1) -> relu -> flatten -> linear(16 -> 2) on a 4x4 image; layer "conv".
  const std::vector<float> kw = {0.2f, -0.1f, 0.3f, 0.0f, 0.5f, -0.4f, 0.1f, 0.2f, -0.3f};
  const float kb = 0.05f;
  std::vector<float> img(16), lw(32);
  for (int i = 0; i < 16; ++i) img[static_cast<size_t>(i)] = static_cast<float>((i * 7) % 11) / 10.0f;
  for (int i = 0; i < 32; ++i) lw[static_cast<size_t>(i)] = static_cast<float>((i * 5) % 9 - 4) / 8.0f;
  const std::vector<float> lb = {0.1f, -0.2f};

  auto conv = std::make_shared<nn::Conv2d>(1, 1, 3, 1, 1, true);
  set(conv->weight, kw);
  set(conv->bias, {kb});
  auto fc = std::make_shared<nn::Linear>(16, 2);
  set(fc->weight, lw);
  set(fc->bias, lb);
  auto seq = std::make_shared<nn::Sequential>();
  seq->add("conv", conv)
      .add("relu", std::make_shared<nn::Act>(fer::Activation::relu))
      .add("flatten", std::make_shared<nn::Flatten>())
      .add("fc", fc);
  auto m = wrap(seq, 4, {"a", "b"});

  // by hand: A = conv(x), logits = W relu(A) + b
  std::vector<double> a(16), logits(2);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      double s = kb;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= 4 || xx < 0 || xx >= 4) continue;
          s += kw[static_cast<size_t>((dy + 1) * 3 + dx + 1)] * img[static_cast<size_t>(yy * 4 + xx)];
        }
      a[static_cast<size_t>(y * 4 + x)] = s;
    }
  for (int c = 0; c < 2; ++c) {
    logits[static_cast<size_t>(c)] = lb[static_cast<size_t>(c)];
    for (int i = 0; i < 16; ++i)
      logits[static_cast<size_t>(c)] += lw[static_cast<size_t>(c * 16 + i)] * std::max(0.0, a[static_cast<size_t>(i)]);
  }
  for (int c = 0; c < 2; ++c) {
    CAPTURE(c);
    const auto cam = fer::tools::grad_cam(m, Tensor::from_vector(img, {1, 1, 4, 4}), "conv", c);
    CHECK(cam.layer == "conv");
    REQUIRE(cam.layer_h == 4);
    REQUIRE(cam.layer_w == 4);
    // G(i) = W[c, i] * [A(i) > 0]; alpha = mean G; cam = ReLU(alpha * A)
    double alpha = 0.0;
    for (int i = 0; i < 16; ++i) alpha += a[static_cast<size_t>(i)] > 0 ? lw[static_cast<size_t>(c * 16 + i)] : 0.0;
    alpha /= 16.0;
    REQUIRE(cam.alpha.size() == 1);
    CHECK(cam.alpha[0] == doctest::Approx(alpha).epsilon(1e-5));
    double mx = 0.0;
    for (int i = 0; i < 16; ++i) mx = std::max(mx, alpha * a[static_cast<size_t>(i)]);
    CHECK(cam.all_zero == !(mx > 0.0));
    if (c == 0) CHECK(mx > 0.0);  // (class 1 happens to have no positive evidence here)
    for (int i = 0; i < 16; ++i) {
      const double raw = std::max(0.0, alpha * a[static_cast<size_t>(i)]);
      CHECK(cam.raw[static_cast<size_t>(i)] == doctest::Approx(raw).epsilon(1e-5));
      CHECK(cam.cam[static_cast<size_t>(i)] == doctest::Approx(mx > 0.0 ? raw / mx : 0.0).epsilon(1e-5));
    }
    const double p = std::exp(logits[static_cast<size_t>(c)]) / (std::exp(logits[0]) + std::exp(logits[1]));
    CHECK(cam.prob == doctest::Approx(p).epsilon(1e-5));
  }
}

TEST_CASE("grad_cam: the default layer climbs to the enclosing block; bad layers are named errors") {
  auto features = std::make_shared<nn::Sequential>();
  features->add("conv", std::make_shared<nn::Conv2d>(1, 3, 3, 1, 1, true))
      .add("relu", std::make_shared<nn::Act>(fer::Activation::relu))
      .add("pool", std::make_shared<nn::MaxPool2d>(2, 2));
  auto head = std::make_shared<nn::Sequential>();
  head->add("gap", std::make_shared<nn::GlobalAvgPool>()).add("fc", std::make_shared<nn::Linear>(3, 2));
  auto seq = std::make_shared<nn::Sequential>();
  seq->add("features", features).add("head", head);
  auto m = wrap(seq, 8, {"a", "b"});
  std::vector<float> img(64);
  for (int i = 0; i < 64; ++i) img[static_cast<size_t>(i)] = static_cast<float>((i * 13) % 17) / 17.0f;
  const Tensor x = Tensor::from_vector(img, {1, 1, 8, 8});

  const auto layers = fer::tools::gradcam_layers(m, x);
  CHECK(layers == std::vector<std::string>{"features", "features.conv", "features.relu", "features.pool"});
  const auto cam = fer::tools::grad_cam(m, x, "", -1);
  CHECK(cam.layer == "features");
  CHECK(cam.layer_h == 4);
  CHECK(cam.h == 8);
  CHECK(cam.cam.size() == 64);

  CHECK_THROWS_WITH_AS(fer::tools::grad_cam(m, x, "features.nope", -1),
                       doctest::Contains("valid layers: features, features.conv, features.relu, features.pool"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(fer::tools::grad_cam(m, x, "head.gap", -1), doctest::Contains("does not output a 4-D"),
                       fer::Error);
  CHECK_THROWS_AS(fer::tools::grad_cam(m, x, "", 2), fer::Error);
}

TEST_CASE("grad_cam helpers: bilinear resize, jet colours and the overlay picture") {
  // PyTorch interpolate(mode="bilinear", align_corners=False) of [[1, 2], [3, 4]] to 4x4
  const auto r = fer::tools::resize_bilinear({1, 2, 3, 4}, 2, 2, 4, 4);
  const std::vector<float> expect = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                                     2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  for (size_t i = 0; i < 16; ++i) CHECK(r[i] == doctest::Approx(expect[i]));

  CHECK(fer::tools::jet_colour(0.0f) == fer::tools::Rgb{0, 0, 128});
  CHECK(fer::tools::jet_colour(0.5f) == fer::tools::Rgb{128, 255, 128});
  CHECK(fer::tools::jet_colour(1.0f) == fer::tools::Rgb{128, 0, 0});

  auto m = bright_dark_model();
  const auto cam = fer::tools::grad_cam(m, half_image(), "", -1);
  std::vector<uint8_t> gray(64);
  for (int i = 0; i < 64; ++i) gray[static_cast<size_t>(i)] = (i % 8) < 4 ? 230 : 26;
  const auto canvas = fer::tools::render_gradcam(gray.data(), 8, 8, cam, "bright", 4);
  CHECK(canvas.width() == 32);
  CHECK(canvas.height() == 32 + fer::tools::gradcam_caption_height());
  // left: 50% gray 230 + 50% jet(1) = dark red; right: 50% gray 26 + 50% jet(0) = dark blue
  CHECK(canvas.at(2, 2) == fer::tools::Rgb{179, 115, 115});
  CHECK(canvas.at(30, 2) == fer::tools::Rgb{13, 13, 77});
  // caption ink below the image
  bool ink = false;
  for (int y = 32; y < canvas.height(); ++y)
    for (int x = 0; x < canvas.width(); ++x) ink = ink || canvas.at(x, y) == fer::tools::colors::kBlack;
  CHECK(ink);
}
