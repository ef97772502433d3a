// R003's models (MODELS.md section 5): the attention U-Net classifier, the convolutional
// autoencoder and the small ViT. Sizes as MODELS.md gives them, and for the U-Net and the ViT the
// numbers PyTorch computes for the same weights and batch (tests/fixtures/{unet,vit}.safetensors,
// written by tools/make_fixtures.py from the twins in tools/fixtures_r003.py; U-Net at width 0.1,
// ViT at width 0.25 and depth 2): logits, weighted loss, every parameter gradient, BatchNorm
// running statistics, and a 10-step SGD curve; for the autoencoder (width 0.5,
// tests/fixtures/autoencoder.safetensors) the reconstruction and its MSE instead of logits and CE.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"
#include "tests/unit/test_model_golden.h"

using namespace fer;

namespace {

// The golden comparison of a forward/backward pass and of a 10-step SGD curve.
void check_against_fixture(const std::string& model, const models::ModelConfig& cfg) {
  golden::check_against_fixture(model, cfg, model + ".safetensors");
}

void check_size(const std::string& name, int64_t params, double mega_macs) {
  const models::ModelSpec& spec = models::find_model(name);
  nn::ModulePtr m = models::build_model(name);
  CHECK(m->parameter_count() == params);
  CHECK(spec.expected_params == params);
  CHECK(models::count_forward_macs(*m, spec.input_channels, spec.input_size) == spec.expected_macs);
  CHECK(std::abs(static_cast<double>(spec.expected_macs) / 1e6 - mega_macs) < 0.05);
}

}  // namespace

// ---- attention U-Net -----------------------------------------------------------------------------

TEST_CASE("unet: parameter and MAC counts match MODELS.md") {
  check_size("unet", 7922307, 432.6);
  const models::ModelSpec& spec = models::find_model("unet");
  CHECK(spec.input_channels == 1);
  CHECK(spec.default_classes == 7);
  CHECK(spec.default_recipe == "r003-unet");
  // six classes change only fc2 (128 inputs + bias)
  CHECK(models::build_model("unet", {6, 1.0, ""})->parameter_count() == 7922307 - 129);
}

TEST_CASE("unet: output shape, state-dict names, and an input size it cannot undo is a clear error") {
  nn::ModulePtr m = models::build_model("unet", {7, 0.1, ""});
  m->eval();
  CHECK((*m)(Tensor::zeros({3, 1, 48, 48})).shape() == Shape{3, 7});
  const auto params = m->named_parameters();
  auto has = [&](const std::string& n) {
    for (const auto& [name, p] : params)
      if (name == n) return true;
    return false;
  };
  CHECK(has("enc1.conv1.weight"));
  CHECK(has("att4.W_g.0.bias"));
  CHECK(has("att1.psi.1.weight"));  // the 1-channel BatchNorm of the gate
  CHECK(has("up2.up.weight"));
  CHECK(has("fc2.bias"));
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 1, 40, 40})), fer::Error);
}

TEST_CASE("unet: logits, loss, gradients, BN statistics and SGD curve equal PyTorch's") {
  check_against_fixture("unet", {7, 0.1, ""});
}

// ---- convolutional autoencoder -------------------------------------------------------------------

TEST_CASE("autoencoder: parameter and MAC counts match MODELS.md; it has no classes") {
  check_size("autoencoder", 135937, 25.8);
  const models::ModelSpec& spec = models::find_model("autoencoder");
  CHECK(spec.default_classes == 0);
  CHECK(spec.default_recipe == "r003-autoencoder");
  CHECK(models::build_model("autoencoder", {3, 1.0, ""})->parameter_count() == 135937);  // num_classes ignored
}

TEST_CASE("autoencoder: the output is a reconstruction in (0, 1) with the input's shape") {
  nn::ModulePtr m = models::build_model("autoencoder", {7, 0.25, ""});
  m->eval();
  Tensor x = Tensor::zeros({2, 1, 48, 48});
  uniform_(x, 0.0, 1.0);
  const Tensor y = (*m)(x);
  CHECK(y.shape() == x.shape());
  for (float v : y.to_vector<float>()) {
    CHECK(v > 0.0f);
    CHECK(v < 1.0f);
  }
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 1, 44, 44})), fer::Error);
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 3, 48, 48})), fer::Error);
}

TEST_CASE("autoencoder: MSE training against the input lowers the reconstruction error") {
  manual_seed(5);
  nn::ModulePtr m = models::build_model("autoencoder", {7, 0.25, ""});
  m->train();
  // a smooth image pair (a gradient and its mirror) that the small autoencoder can learn
  std::vector<float> px(2 * 48 * 48);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 48; ++i)
      for (int j = 0; j < 48; ++j) px[(n * 48 + i) * 48 + j] = n == 0 ? 0.1f + 0.8f * j / 47.0f : 0.9f - 0.8f * i / 47.0f;
  const Tensor x = Tensor::from_vector(px, {2, 1, 48, 48});
  nn::FlatParameters flat(*m);
  nn::OptimizerOptions o;
  o.lr = 3e-3;
  auto opt = nn::make_optimizer("adam", flat, o);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    opt->zero_grad();
    const Tensor loss = ops::mse_loss((*m)(x), x);
    (step == 0 ? first : last) = loss.item();
    loss.backward();
    opt->step();
  }
  const Tensor per_image = ops::mse_loss((*m)(x), x, ops::Reduction::per_sample);
  CHECK(per_image.shape() == Shape{2});
  CHECK(last < 0.5 * first);
}

// Golden fixture tests/fixtures/autoencoder.safetensors: width 0.5 (encoder 16, 32, 64; decoder 32, 16, 8;
// the full width would need 1.1 MB for weights and gradients), 4 inputs 48x48 in [0, 0.5]: all seven
// layers with their ReLUs, pools, k2 s2 transposed convs and the sigmoid as at full width. No classes:
// the output (reconstruction), the MSE against the input, every gradient and a 10-step SGD curve
// (lr 0.1, falling 0.082 -> 0.030) are compared; 350 KB.
TEST_CASE("autoencoder: reconstruction, MSE loss, gradients and SGD curve equal PyTorch's (width 0.5)") {
  golden::check_reconstruction_against_fixture("autoencoder", {7, 0.5, ""}, "autoencoder.safetensors", 0.1);
}

// ---- ViT -----------------------------------------------------------------------------------------

TEST_CASE("vit: parameter and MAC counts match MODELS.md") {
  check_size("vit", 2702215, 433.7);
  const models::ModelSpec& spec = models::find_model("vit");
  CHECK(spec.default_recipe == "r003-vit");
  // MODELS.md's breakdown, per image: QKV 96.2 M, Q K^T 24.2 M, A V 24.2 M, proj 32.1 M, MLP 256.6 M,
  // and the patch embedding 144 * 16 * 192 plus the head 192 * 7.
  const int64_t t = 145, d = 192;
  const int64_t analytic = 6 * (t * d * 3 * d + 2 * t * t * d + t * d * d + 2 * t * d * 4 * d) + 144 * 16 * d + d * 7;
  CHECK(spec.expected_macs == analytic);
}

TEST_CASE("vit: output shape, timm state-dict names, depth variant and input checks") {
  nn::ModulePtr m = models::build_model("vit", {7, 0.25, "depth=2"});
  m->eval();
  CHECK((*m)(Tensor::zeros({3, 1, 48, 48})).shape() == Shape{3, 7});
  std::vector<std::string> names;
  for (const auto& [name, p] : m->named_parameters()) names.push_back(name);
  for (const char* want : {"patch_embed.proj.weight", "cls_token", "pos_embed", "blocks.0.norm1.weight",
                           "blocks.0.attn.qkv.weight", "blocks.1.attn.proj.bias", "blocks.1.mlp.fc1.weight",
                           "blocks.1.mlp.fc2.bias", "norm.weight", "head.weight"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), want) != names.end(), want);
  CHECK(std::find(names.begin(), names.end(), "blocks.2.norm1.weight") == names.end());
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 1, 40, 40})), fer::Error);  // position embedding is for 145 tokens
  CHECK_THROWS_AS(models::build_model("vit", {7, 1.0, "deep"}), fer::Error);
}

TEST_CASE("vit: logits, loss, gradients and SGD curve equal PyTorch's") {
  check_against_fixture("vit", {7, 0.25, "depth=2"});
}
