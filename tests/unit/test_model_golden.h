// tests/unit/test_model_golden.h: the golden-fixture protocol of tools/make_fixtures.py, shared by
// every model test (CNN6, the VGG family, the ResNets and the RMN, the attention U-Net and the ViT): load the fixture's weights into a registry model, run the
// training-mode forward with dropout off, and compare logits, weighted loss, every parameter
// gradient, the BN running statistics and a 10-step SGD curve with PyTorch's. The autoencoder has no
// classes: check_reconstruction_against_fixture compares its output and MSE loss instead.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/layers.h"
#include "nn/optimizer.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"

namespace fer::golden {

inline std::string fixture_path(const std::string& name) {
  return std::string(FER_SOURCE_DIR) + "/tests/fixtures/" + name;
}

// max |a - b| / (atol + rtol |b|) <= 1, reported with the worst element.
inline void check_close(const std::string& what, const Tensor& got, const Tensor& want, double atol, double rtol) {
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

// For gradients of deep networks: |a - b| <= atol + scale_tol * max|b| + rtol |b|. fp32 rounding in a
// 50-layer forward/backward moves gradients by ~1e-4 of the tensor's largest element (PyTorch's own
// fp32 and fp64 gradients of these fixtures differ that much); a wrong gradient is off by O(1).
inline void check_close_scaled(const std::string& what, const Tensor& got, const Tensor& want, double atol,
                               double scale_tol, double rtol) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << describe(got) << " vs " << describe(want));
  const auto w = want.to_dtype(DType::f64).to_vector<double>();
  double max_abs = 0;
  for (double v : w) max_abs = std::max(max_abs, std::abs(v));
  check_close(what, got, want, atol + scale_tol * max_abs, rtol);
}

// Training mode with every Dropout and DropPath in eval mode (the fixture's protocol: their random
// draws have no PyTorch counterpart).
inline void fixture_mode(nn::Module& m) {
  m.train(true);
  for (auto& [name, mod] : m.named_modules())
    if (dynamic_cast<nn::Dropout*>(mod) || dynamic_cast<nn::DropPath*>(mod)) mod->eval();
}

// The registry model `name` with the fixture's initial weights; every fixture parameter is used and
// every model parameter is set (names and shapes must agree one to one).
inline nn::ModulePtr model_with_fixture_weights(const std::string& name, const models::ModelConfig& cfg,
                                                const nn::safetensors::File& f) {
  nn::ModulePtr m = models::build_model(name, cfg);
  auto params = m->named_parameters();
  int64_t stored = 0;
  for (const auto& n : f.names()) stored += n.rfind("param/", 0) == 0;
  REQUIRE_MESSAGE(stored == static_cast<int64_t>(params.size()),
                  "the fixture has " << stored << " parameters, the model " << params.size());
  for (auto& [pname, p] : params) f.copy_to("param/" + pname, p);
  for (auto& [bname, b] : m->named_buffers()) CHECK_NOTHROW(f.at("buffer/" + bname));
  return m;
}

// Re-points every f32 parameter and buffer of `m` at an f64 copy (the CPU ops run in f64), for the
// fixtures whose reference was computed in fp64 (metadata "reference": "fp64").
inline void to_f64(nn::Module& m) {
  auto convert = [](Tensor& t) {
    if (t.dtype() != DType::f32) return;
    const Tensor d = t.to_dtype(DType::f64);
    t.impl().storage = d.impl().storage;
    t.impl().offset = d.impl().offset;
    t.impl().dtype = DType::f64;
    t.impl().grad.reset();
  };
  for (auto& [name, p] : m.named_parameters()) convert(p);
  for (auto& [name, b] : m.named_buffers()) convert(b);
}

// The fp64 protocol: the model runs in f64 against fp64-accurate PyTorch values (rounded to f32),
// so the tolerances are tight whatever the network's conditioning.
inline void check_forward_backward_f64(const std::string& name, const models::ModelConfig& cfg,
                                       const std::string& file) {
  const auto f = nn::safetensors::File::load(fixture_path(file));
  nn::ModulePtr m = model_with_fixture_weights(name, cfg, f);
  to_f64(*m);
  fixture_mode(*m);
  const Tensor x = f.at("input").to_dtype(DType::f64), labels = f.at("labels");
  const Tensor weights = f.at("class_weights").to_dtype(DType::f64);
  const Tensor logits = (*m)(x);
  check_close("logits", logits, f.at("logits"), 1e-6, 1e-6);
  const Tensor loss = ops::cross_entropy(logits, labels, weights);
  check_close("loss", loss, f.at("loss"), 1e-7, 1e-6);
  loss.backward();
  int64_t checked = 0;
  for (auto& [pname, p] : m->named_parameters()) {
    check_close_scaled("grad " + pname, p.grad(), f.at("grad/" + pname), 1e-7, 1e-5, 1e-5);
    ++checked;
  }
  CHECK(checked > 0);
  for (auto& [bname, b] : m->named_buffers()) check_close("buffer " + bname, b, f.at("buffer/" + bname), 1e-7, 1e-6);
}

inline void check_forward_backward(const std::string& name, const models::ModelConfig& cfg, const std::string& file,
                                   double grad_scale_tol = 1e-3, double grad_rtol = 1e-3) {
  const auto f = nn::safetensors::File::load(fixture_path(file));
  nn::ModulePtr m = model_with_fixture_weights(name, cfg, f);
  fixture_mode(*m);
  const Tensor x = f.at("input"), labels = f.at("labels"), weights = f.at("class_weights");
  const Tensor logits = (*m)(x);
  check_close("logits", logits, f.at("logits"), 1e-5, 1e-4);
  const Tensor loss = ops::cross_entropy(logits, labels, weights);
  check_close("loss", loss, f.at("loss"), 1e-6, 1e-5);
  loss.backward();
  int64_t checked = 0;
  for (auto& [pname, p] : m->named_parameters()) {
    check_close_scaled("grad " + pname, p.grad(), f.at("grad/" + pname), 1e-5, grad_scale_tol, grad_rtol);
    ++checked;
  }
  CHECK(checked > 0);
  for (auto& [bname, b] : m->named_buffers()) check_close("buffer " + bname, b, f.at("buffer/" + bname), 1e-6, 1e-4);
}

// exact_steps < 10: only the first exact_steps losses are held to rtol; later steps of the deep
// fixtures drift apart (PyTorch updates f32 parameters, rounding differences grow chaotically step
// after step in a badly conditioned random network), so for them the test only asks that both
// curves fall by a similar amount.
inline void check_sgd_curve(const std::string& name, const models::ModelConfig& cfg, const std::string& file,
                            bool f64 = false, double rtol = 1e-3, int exact_steps = 10) {
  const auto f = nn::safetensors::File::load(fixture_path(file));
  nn::ModulePtr m = model_with_fixture_weights(name, cfg, f);
  if (f64) to_f64(*m);
  fixture_mode(*m);
  nn::FlatParameters flat(*m);
  nn::OptimizerOptions o;
  o.lr = 0.01;
  o.momentum = 0.9;
  auto opt = nn::make_optimizer("sgd", flat, o);
  const DType dt = f64 ? DType::f64 : DType::f32;
  const Tensor x = f.at("input").to_dtype(dt), labels = f.at("labels"), weights = f.at("class_weights").to_dtype(dt);
  std::vector<float> curve;
  for (int step = 0; step < 10; ++step) {
    opt->zero_grad();
    const Tensor loss = ops::cross_entropy((*m)(x), labels, weights);
    curve.push_back(static_cast<float>(loss.item()));
    loss.backward();
    opt->step();
  }
  const Tensor want = f.at("curve");
  check_close("curve", Tensor::from_vector(std::vector<float>(curve.begin(), curve.begin() + exact_steps), {exact_steps}),
              ops::slice(want, 0, 0, exact_steps), 1e-5, rtol);
  if (exact_steps < 10) {
    const auto w = want.to_vector<float>();
    CHECK(curve[9] < 0.95f * curve[0]);
    CHECK(w[9] < 0.95f * w[0]);
    CHECK(std::abs((curve[0] - curve[9]) - (w[0] - w[9])) < 0.5 * (w[0] - w[9]));
  }
}

// The protocol of a model without classes (the autoencoder; fixture config "loss": "mse"): the
// fixture holds `output` (the reconstruction) instead of logits, the loss is ops::mse_loss(output,
// input) and the curve is SGD (lr sgd_lr, momentum 0.9) on that loss; every parameter gradient and
// BN buffer is compared as in check_forward_backward.
inline void check_reconstruction_against_fixture(const std::string& name, const models::ModelConfig& cfg,
                                                 const std::string& file, double sgd_lr) {
  const auto f = nn::safetensors::File::load(fixture_path(file));
  const Tensor x = f.at("input");
  {
    nn::ModulePtr m = model_with_fixture_weights(name, cfg, f);
    fixture_mode(*m);
    const Tensor y = (*m)(x);
    check_close("output", y, f.at("output"), 1e-6, 1e-5);
    const Tensor loss = ops::mse_loss(y, x);
    check_close("loss", loss, f.at("loss"), 1e-7, 1e-5);
    loss.backward();
    int64_t checked = 0;
    for (auto& [pname, p] : m->named_parameters()) {
      check_close_scaled("grad " + pname, p.grad(), f.at("grad/" + pname), 1e-7, 1e-4, 1e-3);
      ++checked;
    }
    CHECK(checked > 0);
    for (auto& [bname, b] : m->named_buffers()) check_close("buffer " + bname, b, f.at("buffer/" + bname), 1e-6, 1e-4);
  }
  nn::ModulePtr m = model_with_fixture_weights(name, cfg, f);
  fixture_mode(*m);
  nn::FlatParameters flat(*m);
  nn::OptimizerOptions o;
  o.lr = sgd_lr;
  o.momentum = 0.9;
  auto opt = nn::make_optimizer("sgd", flat, o);
  std::vector<float> curve;
  for (int step = 0; step < 10; ++step) {
    opt->zero_grad();
    const Tensor loss = ops::mse_loss((*m)(x), x);
    curve.push_back(static_cast<float>(loss.item()));
    loss.backward();
    opt->step();
  }
  check_close("curve", Tensor::from_vector(curve, {10}), f.at("curve"), 1e-7, 1e-4);
}

// The whole f32 protocol: forward/backward values and the 10-step SGD curve.
inline void check_against_fixture(const std::string& name, const models::ModelConfig& cfg, const std::string& file) {
  check_forward_backward(name, cfg, file);
  check_sgd_curve(name, cfg, file);
}

}  // namespace fer::golden
