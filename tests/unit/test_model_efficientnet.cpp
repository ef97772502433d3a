// EfficientNet-B0 + 3-layer MLP head (R002, MODELS.md 4.3 and 4.4): sizes as MODELS.md gives them
// (which match torchvision's B0 body), torchvision's state-dict names, the block table (strides,
// depthwise groups, SE widths, drop-path rates), a working backward pass, and the numbers PyTorch
// computes for the same weights and batch (tests/fixtures/efficientnet-b0.safetensors, written by
// tools/make_fixtures.py from the twin in tools/fixtures_efficientnet.py at width 0.125): logits,
// weighted loss, every parameter gradient, BatchNorm statistics and a 10-step SGD curve. Protocol
// difference from cnn6's: drop-path is off too (the twin is built with rate 0, here DropPath runs in
// eval mode), since its per-sample draws have no counterpart in PyTorch's RNG.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/layers.h"
#include "nn/optimizer.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"

using namespace fer;

namespace {

int64_t params_under(nn::Module& m, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& [name, p] : m.named_parameters())
    if (name.rfind(prefix, 0) == 0) n += p.numel();
  return n;
}

std::string fixture_path() { return std::string(FER_SOURCE_DIR) + "/tests/fixtures/efficientnet-b0.safetensors"; }

// max |a - b| / (atol + rtol |b|) <= 1, reported with the worst element.
void check_close(const std::string& what, const Tensor& got, const Tensor& want, double atol, double rtol) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << describe(got) << " vs " << describe(want));
  const auto g = got.to_dtype(DType::f64).to(Device::cpu).to_vector<double>();
  const auto w = want.to_dtype(DType::f64).to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double r = std::abs(g[i] - w[i]) / (atol + rtol * std::abs(w[i]));
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  CHECK_MESSAGE(worst <= 1.0, what << ": element " << at << " got " << g[at] << " want " << w[at]);
}

// Training mode with dropout and drop-path off (the fixture's protocol).
void fixture_mode(nn::Module& m) {
  m.train(true);
  for (auto& [name, mod] : m.named_modules())
    if (mod->type_name() == "Dropout" || mod->type_name() == "DropPath") mod->eval();
}

const models::ModelConfig kFixtureConfig{6, 0.125, ""};

nn::ModulePtr with_fixture_weights(const nn::safetensors::File& f) {
  nn::ModulePtr m = models::build_model("efficientnet-b0", kFixtureConfig);
  auto params = m->named_parameters();
  int64_t stored = 0;
  for (const auto& name : f.names())
    if (name.rfind("param/", 0) == 0) ++stored;
  REQUIRE(stored == static_cast<int64_t>(params.size()));  // same parameter set, by name
  for (auto& [name, p] : params) f.copy_to("param/" + name, p);
  return m;
}

}  // namespace

TEST_CASE("efficientnet-b0: logits, loss, gradients, BN statistics and SGD curve equal PyTorch's") {
  const auto f = nn::safetensors::File::load(fixture_path());
  const Tensor x = f.at("input"), labels = f.at("labels"), weights = f.at("class_weights");
  {
    nn::ModulePtr m = with_fixture_weights(f);
    fixture_mode(*m);
    const Tensor logits = (*m)(x);
    check_close("logits", logits, f.at("logits"), 1e-5, 1e-4);
    const Tensor loss = ops::cross_entropy(logits, labels, weights);
    check_close("loss", loss, f.at("loss"), 1e-6, 1e-5);
    loss.backward();
    for (auto& [name, p] : m->named_parameters())
      check_close("grad " + name, p.grad(), f.at("grad/" + name), 1e-5, 1e-3);
    for (auto& [name, b] : m->named_buffers()) check_close("buffer " + name, b, f.at("buffer/" + name), 1e-6, 1e-4);
  }
  nn::ModulePtr m = with_fixture_weights(f);
  fixture_mode(*m);
  nn::FlatParameters flat(*m);
  nn::OptimizerOptions o;
  o.lr = 0.01;
  o.momentum = 0.9;
  auto opt = nn::make_optimizer("sgd", flat, o);
  std::vector<float> curve;
  for (int step = 0; step < 10; ++step) {
    opt->zero_grad();
    const Tensor loss = ops::cross_entropy((*m)(x), labels, weights);
    curve.push_back(static_cast<float>(loss.item()));
    loss.backward();
    opt->step();
  }
  check_close("curve", Tensor::from_vector(curve, {10}), f.at("curve"), 1e-5, 1e-3);
}

TEST_CASE("efficientnet-b0: parameter and MAC counts match MODELS.md") {
  const models::ModelSpec& spec = models::find_model("efficientnet-b0");
  CHECK(spec.input_channels == 3);
  CHECK(spec.input_size == 48);
  CHECK(spec.default_classes == 6);
  CHECK(spec.default_recipe == "r002-efficientnet-b0");
  nn::ModulePtr m = models::build_model("efficientnet-b0", {6, 1.0, ""});
  CHECK(m->parameter_count() == 4369154);
  CHECK(spec.expected_params == 4369154);
  CHECK(params_under(*m, "features.") == 4007548);  // torchvision's B0 body
  CHECK(params_under(*m, "classifier.") == 1280 * 256 + 256 + 256 * 128 + 128 + 128 * 6 + 6);
  // R002's transfer schedule starts with the backbone frozen: only the head trains
  m->find("features")->set_trainable(false);
  CHECK(m->parameter_count(true) == 4369154 - 4007548);
  CHECK(m->parameter_count() == 4369154);
  m->set_trainable(true);
  CHECK(models::count_forward_macs(*m, 3, 48) == spec.expected_macs);
  CHECK(std::abs(static_cast<double>(spec.expected_macs) / 1e6 - 23.1) < 0.05);
}

TEST_CASE("efficientnet-b0: block table, torchvision names, SE widths and drop-path rates") {
  nn::ModulePtr m = models::build_model("efficientnet-b0", {6, 1.0, ""});
  auto conv = [&](const std::string& path) {
    auto* c = dynamic_cast<nn::Conv2d*>(m->find(path));
    REQUIRE_MESSAGE(c != nullptr, path);
    return c;
  };
  // stem
  CHECK(conv("features.0.0")->options.stride_h == 2);
  // MBConv1 (no expansion): depthwise 32 channels, SE 32 -> 8, project 32 -> 16
  CHECK(conv("features.1.0.block.0.0")->options.groups == 32);
  CHECK(conv("features.1.0.block.1.fc1")->out_channels == 8);
  CHECK(conv("features.1.0.block.2.0")->out_channels == 16);
  // stage 3, first block: expand 24 -> 144, depthwise k5 s2 p2, SE 144 -> 6 -> 144, project -> 40
  CHECK(conv("features.3.0.block.0.0")->out_channels == 144);
  auto* dw = conv("features.3.0.block.1.0");
  CHECK(dw->kernel == 5);
  CHECK(dw->options.stride_h == 2);
  CHECK(dw->options.pad_h == 2);
  CHECK(dw->options.groups == 144);
  CHECK(conv("features.3.0.block.2.fc1")->out_channels == 6);
  CHECK(conv("features.3.1.block.2.fc1")->out_channels == 10);
  CHECK(conv("features.6.3.block.2.fc1")->out_channels == 48);
  CHECK(conv("features.7.0.block.3.0")->out_channels == 320);
  CHECK(conv("features.8.0")->out_channels == 1280);
  // drop-path: 0.2 i / 16 for block i = 0..15
  auto rate = [&](const std::string& path) {
    auto* d = dynamic_cast<nn::DropPath*>(m->find(path + ".stochastic_depth"));
    REQUIRE(d != nullptr);
    return d->p;
  };
  CHECK(rate("features.1.0") == doctest::Approx(0.0));
  CHECK(rate("features.2.1") == doctest::Approx(0.2 * 2 / 16));
  CHECK(rate("features.7.0") == doctest::Approx(0.2 * 15 / 16));
  // the map before GAP at 48x48 is 1280 x 2 x 2
  m->eval();
  auto* features = m->find("features");
  CHECK((*features)(Tensor::zeros({1, 3, 48, 48})).shape() == Shape{1, 1280, 2, 2});
}

TEST_CASE("efficientnet-b0: output shape, eval determinism, every parameter gets a gradient") {
  manual_seed(11);
  nn::ModulePtr m = models::build_model("efficientnet-b0", {6, 0.25, ""});
  Tensor x = Tensor::zeros({2, 3, 48, 48});
  uniform_(x, 0.0, 1.0);
  m->eval();
  const Tensor a = (*m)(x), b = (*m)(x);
  CHECK(a.shape() == Shape{2, 6});
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  m->train();
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{1, 4}, {2});
  const Tensor loss = ops::cross_entropy((*m)(x), labels);
  CHECK(std::isfinite(loss.item()));
  loss.backward();
  for (const auto& [name, p] : m->named_parameters()) {
    REQUIRE_MESSAGE(p.grad().defined(), name);
    for (float g : p.grad().to_vector<float>()) REQUIRE_MESSAGE(std::isfinite(g), name);
  }
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 1, 48, 48})), fer::Error);  // grey input must be replicated
}
