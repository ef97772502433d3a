// CNN6 (R001): the size MODELS.md gives, and the numbers PyTorch computes for the same weights and
// batch (tests/fixtures/cnn6.safetensors, written by tools/make_fixtures.py at width 0.25): logits,
// weighted loss, every parameter gradient, BatchNorm running statistics, and a 10-step SGD curve.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "models/registry.h"
#include "tests/unit/test_model_golden.h"

using namespace fer;

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
  golden::check_forward_backward("cnn6", {7, 0.25, ""}, "cnn6.safetensors");
}

TEST_CASE("cnn6: 10 SGD steps follow PyTorch's loss curve") {
  golden::check_sgd_curve("cnn6", {7, 0.25, ""}, "cnn6.safetensors");
}
