// tests/unit/test_tta.cpp: the test-time augmentation protocols of predict_probs against the same
// views computed by hand: tencrop (usef-kh: the ten crops' logits averaged, then one softmax) and
// rmn10 (R000: 10 seeded flip + rotation views, softmax per view, averaged).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/loader.h"
#include "data/synthetic.h"
#include "models/registry.h"
#include "tensor/autograd.h"
#include "tools/common/checkpoint_model.h"

namespace {

using fer::Tensor;

fer::tools::LoadedModel small_model(const std::string& name, int64_t input_size, const Tensor& calibration) {
  fer::tools::LoadedModel m;
  fer::models::ModelConfig mc;
  mc.num_classes = 7;
  mc.width = 0.0625;
  m.model = fer::models::build_model(name, mc);
  m.model->eval();
  // A freshly initialised model in eval mode (BatchNorm running stats 0 / 1) shrinks its activations
  // layer by layer, so every view gets nearly the same logits and the mean of logits would agree with
  // the mean of softmaxes to 1e-8. Forward passes in training mode first set the running statistics
  // to those of real inputs; then the views' logits differ (checked below).
  {
    fer::NoGradGuard no_grad;
    m.model->train(true);
    for (int i = 0; i < 40; ++i) (*m.model)(calibration);
    m.model->eval();
  }
  auto params = m.model->named_parameters();  // and a 20x output layer spreads the logits further
  for (auto it = params.rbegin(); it != params.rend(); ++it)
    if (it->second.ndim() == 2) {
      float* w = it->second.data<float>();
      for (int64_t i = 0; i < it->second.numel(); ++i) w[i] *= 20.0f;
      break;
    }
  m.name = name;
  m.classes = fer::data::class_set_from_name("fer7");
  m.input = {1, input_size};
  return m;
}

// Row-wise softmax in double of logits [rows, k].
std::vector<double> softmax_rows(const std::vector<float>& logits, size_t k) {
  std::vector<double> p(logits.size());
  for (size_t r = 0; r < logits.size() / k; ++r) {
    double mx = -INFINITY, z = 0;
    for (size_t c = 0; c < k; ++c) mx = std::max(mx, static_cast<double>(logits[r * k + c]));
    for (size_t c = 0; c < k; ++c) z += std::exp(logits[r * k + c] - mx);
    for (size_t c = 0; c < k; ++c) p[r * k + c] = std::exp(logits[r * k + c] - mx) / z;
  }
  return p;
}

}  // namespace

TEST_CASE("TTA tencrop: the mean of the ten crops' logits, then one softmax (usef-kh)") {
  const fer::data::Dataset ds = fer::data::make_synthetic_faces(5, 11);
  const fer::data::DeviceImages images(ds, fer::Device::cpu);
  const fer::tools::LoadedModel m =
      small_model("vggnet", 40, fer::data::make_batch(images, {0, 1, 2, 3, 4}, {1, 40}).images);
  const std::vector<int64_t> idx = {0, 1, 2, 3, 4};
  const std::vector<float> got = fer::tools::predict_probs(m, images, idx, fer::tools::Tta::tencrop, 2);
  REQUIRE(got.size() == 5 * 7);

  fer::NoGradGuard no_grad;
  const Tensor full = fer::data::make_batch(images, idx, {1, 48}).images;
  const std::vector<float> logits = (*m.model)(fer::tools::ten_crop_images(full, 40)).to_vector<float>();  // [50, 7]
  std::vector<float> mean(5 * 7, 0.0f);
  for (size_t i = 0; i < 5; ++i)
    for (size_t c = 0; c < 7; ++c) {
      double s = 0;
      for (size_t v = 0; v < 10; ++v) s += logits[(i * 10 + v) * 7 + c];
      mean[i * 7 + c] = static_cast<float>(s / 10);
    }
  const std::vector<double> want = softmax_rows(mean, 7);
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
  // ... which is not the mean of the crops' softmaxes (the protocols really differ here)
  const std::vector<double> crop_probs = softmax_rows(logits, 7);
  double max_diff = 0;
  for (size_t i = 0; i < 5; ++i)
    for (size_t c = 0; c < 7; ++c) {
      double s = 0;
      for (size_t v = 0; v < 10; ++v) s += crop_probs[(i * 10 + v) * 7 + c] / 10;
      max_diff = std::max(max_diff, std::abs(s - want[i * 7 + c]));
    }
  INFO("max difference " << max_diff);
  CHECK(max_diff > 1e-3);
}

TEST_CASE("TTA rmn10: ten seeded flip + rotate views, softmax each, averaged; reproducible") {
  const fer::data::Dataset ds = fer::data::make_synthetic_faces(3, 5);
  const fer::data::DeviceImages images(ds, fer::Device::cpu);
  const fer::tools::LoadedModel m = small_model("cnn6", 48, fer::data::make_batch(images, {0, 1, 2}, {1, 48}).images);
  const std::vector<int64_t> idx = {2, 0, 1};
  const std::vector<float> got = fer::tools::predict_probs(m, images, idx, fer::tools::Tta::rmn10, 2);
  REQUIRE(got.size() == 3 * 7);
  CHECK(fer::tools::predict_probs(m, images, idx, fer::tools::Tta::rmn10, 3) == got);  // batching-independent

  fer::NoGradGuard no_grad;
  fer::AugmentSpec spec;
  spec.hflip = true;
  spec.rotate_deg = 30.0;
  std::vector<double> want(3 * 7, 0.0);
  std::vector<float> first_view;
  for (int v = 0; v < 10; ++v) {
    const Tensor x = fer::data::make_batch(images, idx, m.input, {spec, v, 1234, 0.0f, 1.0f}).images;
    if (v == 0) first_view = x.to_vector<float>();
    if (v == 1) CHECK(x.to_vector<float>() != first_view);  // the views really differ
    const std::vector<double> p = softmax_rows((*m.model)(x).to_vector<float>(), 7);
    for (size_t i = 0; i < want.size(); ++i) want[i] += p[i] / 10;
  }
  double row0 = 0;
  for (size_t c = 0; c < 7; ++c) row0 += got[c];
  CHECK(row0 == doctest::Approx(1.0).epsilon(1e-5));
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
}
