// CNN6 (R001): the size MODELS.md gives, and the numbers PyTorch computes for the same weights and
// batch (tests/fixtures/cnn6.safetensors, written by tools/make_fixtures.py at width 0.25): logits,
// weighted loss, every parameter gradient, BatchNorm running statistics, and a 10-step SGD curve.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"

using namespace fer;

namespace {

std::string fixture_path(const char* name) { return std::string(FER_SOURCE_DIR) + "/tests/fixtures/" + name; }

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

// Training mode with dropout off (the fixture's protocol).
void fixture_mode(nn::Module& m) {
  m.train(true);
  m.find("drop_conv")->eval();
  m.find("drop_fc")->eval();
}

nn::ModulePtr cnn6_with_fixture_weights(const nn::safetensors::File& f) {
  nn::ModulePtr m = models::build_model("cnn6", {7, 0.25, ""});
  for (auto& [name, p] : m->named_parameters()) f.copy_to("param/" + name, p);
  return m;
}

}  // namespace

TEST_CASE("cnn6: parameter and MAC counts match MODELS.md") {
  const models::ModelSpec& spec = models::find_model("cnn6");
  nn::ModulePtr m = models::build_model("cnn6");
  CHECK(m->parameter_count() == 1512295);
  CHECK(spec.expected_params == 1512295);
  CHECK(models::count_forward_macs(*m, 1, 48) == spec.expected_macs);
  CHECK(std::abs(static_cast<double>(spec.expected_macs) / 1e6 - 70.2) < 0.05);
  // six classes (R002-style fer6) change only fc2
  CHECK(models::build_model("cnn6", {6, 1.0, ""})->parameter_count() == 1512295 - 513);
}

TEST_CASE("cnn6: output shape, and an image too small is a clear error") {
  nn::ModulePtr m = models::build_model("cnn6", {7, 0.25, ""});
  m->eval();
  const Tensor y = (*m)(Tensor::zeros({3, 1, 48, 48}));
  CHECK(y.shape() == Shape{3, 7});
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 1, 20, 20})), fer::Error);
}

TEST_CASE("cnn6: logits, loss, gradients and BN statistics equal PyTorch's") {
  const auto f = nn::safetensors::File::load(fixture_path("cnn6.safetensors"));
  nn::ModulePtr m = cnn6_with_fixture_weights(f);
  fixture_mode(*m);
  const Tensor x = f.at("input");
  const Tensor labels = f.at("labels");
  const Tensor weights = f.at("class_weights");
  const Tensor logits = (*m)(x);
  check_close("logits", logits, f.at("logits"), 1e-5, 1e-4);
  const Tensor loss = ops::cross_entropy(logits, labels, weights);
  check_close("loss", loss, f.at("loss"), 1e-6, 1e-5);
  loss.backward();
  for (auto& [name, p] : m->named_parameters()) check_close("grad " + name, p.grad(), f.at("grad/" + name), 1e-5, 1e-3);
  for (auto& [name, b] : m->named_buffers()) check_close("buffer " + name, b, f.at("buffer/" + name), 1e-6, 1e-4);
}

TEST_CASE("cnn6: 10 SGD steps follow PyTorch's loss curve") {
  const auto f = nn::safetensors::File::load(fixture_path("cnn6.safetensors"));
  nn::ModulePtr m = cnn6_with_fixture_weights(f);
  fixture_mode(*m);
  nn::FlatParameters flat(*m);
  nn::OptimizerOptions o;
  o.lr = 0.01;
  o.momentum = 0.9;
  auto opt = nn::make_optimizer("sgd", flat, o);
  const Tensor x = f.at("input"), labels = f.at("labels"), weights = f.at("class_weights");
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
