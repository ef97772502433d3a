// tools/common/reconstruction.h: percentile_linear against numpy.percentile's default ('linear')
// values (worked by hand below: sorted v, h = (n - 1) q / 100, v[floor h] + frac(h) (v[floor h + 1] -
// v[floor h])), its errors, and reconstruction_errors against a direct per-image MSE of the model's
// output (the autoencoder at width 0.25) and its clear error for a classifier.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "data/loader.h"
#include "kernels/common.h"
#include "models/registry.h"
#include "tensor/autograd.h"
#include "tensor/rng.h"
#include "tools/common/reconstruction.h"

using fer::tools::percentile_linear;

TEST_CASE("percentile_linear: numpy's linear method, by hand") {
  // np.percentile([1, 2, 3, 4], 50) = 2.5       (h = 1.5)
  CHECK(percentile_linear({4, 1, 3, 2}, 50) == doctest::Approx(2.5).epsilon(1e-15));
  // np.percentile([3, 1, 2, 4, 5], 98) = 4.92   (h = 3.92: 4 + 0.92 * 1)
  CHECK(percentile_linear({3, 1, 2, 4, 5}, 98) == doctest::Approx(4.92).epsilon(1e-15));
  // np.percentile([10, 20], 25) = 12.5           (h = 0.25)
  CHECK(percentile_linear({20, 10}, 25) == doctest::Approx(12.5).epsilon(1e-15));
  // np.percentile([0.1, 0.5, 0.2, 0.9, 0.3], 90) = 0.74   (h = 3.6: 0.5 + 0.6 * 0.4)
  CHECK(percentile_linear({0.1, 0.5, 0.2, 0.9, 0.3}, 90) == doctest::Approx(0.74).epsilon(1e-14));
  // np.percentile(np.arange(100), 98) = 97.02    (h = 97.02)
  std::vector<double> r(100);
  for (int i = 0; i < 100; ++i) r[static_cast<size_t>(99 - i)] = i;
  CHECK(percentile_linear(r, 98) == doctest::Approx(97.02).epsilon(1e-14));
  // R003's case: 22,968 scores 0..22967 -> h = 22967 * 0.98 = 22507.66; 460 values lie above it
  std::vector<double> big(22968);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i);
  const double t = percentile_linear(big, 98);
  CHECK(t == doctest::Approx(22507.66).epsilon(1e-14));
  int above = 0;
  for (double v : big) above += v > t;
  CHECK(above == 460);
  // ends and a single value
  CHECK(percentile_linear({5, -1, 3}, 0) == -1);
  CHECK(percentile_linear({5, -1, 3}, 100) == 5);
  CHECK(percentile_linear({7}, 98) == 7);
  // ties: the threshold equals the tied value, so nothing above it
  CHECK(percentile_linear({1, 2, 2, 2}, 98) == 2);
}

TEST_CASE("percentile_linear: empty input, q outside [0, 100] and non-finite values are errors") {
  CHECK_THROWS_WITH_AS(percentile_linear({}, 50), doctest::Contains("no values"), fer::Error);
  CHECK_THROWS_WITH_AS(percentile_linear({1, 2}, -1), doctest::Contains("[0, 100]"), fer::Error);
  CHECK_THROWS_WITH_AS(percentile_linear({1, 2}, 100.5), doctest::Contains("[0, 100]"), fer::Error);
  CHECK_THROWS_WITH_AS(percentile_linear({1, std::nan("")}, 50), doctest::Contains("not finite"), fer::Error);
}

TEST_CASE("reconstruction_errors: the per-image MSE of the autoencoder's output; a classifier is an error") {
  fer::manual_seed(3);
  fer::data::Dataset ds;
  ds.classes = fer::data::class_set_from_name("fer7");
  for (int i = 0; i < 5; ++i) {
    std::vector<uint8_t> img(fer::data::kImagePixels);
    for (size_t p = 0; p < img.size(); ++p) img[p] = static_cast<uint8_t>((p * static_cast<size_t>(3 + i) + 17 * i) % 256);
    ds.push_back(img.data(), i % 7, fer::data::Split::training, "img" + std::to_string(i));
  }
  const fer::data::DeviceImages images(ds, fer::Device::cpu);
  const std::vector<int64_t> indices = {4, 0, 2, 1, 3};
  fer::nn::ModulePtr ae = fer::models::build_model("autoencoder", {7, 0.25, ""});
  ae->train(true);
  const std::vector<double> e = fer::tools::reconstruction_errors(*ae, images, indices, {1, 48}, 2);  // 3 batches
  REQUIRE(e.size() == indices.size());
  CHECK(ae->is_training());  // mode restored
  ae->eval();
  fer::NoGradGuard no_grad;
  for (size_t j = 0; j < indices.size(); ++j) {
    const fer::data::Batch b = fer::data::make_batch(images, {indices[j]}, {1, 48});
    const std::vector<float> x = b.images.to_vector<float>();
    const std::vector<float> y = (*ae)(b.images).to_vector<float>();
    double sum = 0;
    for (size_t p = 0; p < x.size(); ++p) sum += (double(y[p]) - x[p]) * (double(y[p]) - x[p]);
    CHECK(e[j] == doctest::Approx(sum / 2304.0).epsilon(1e-5));
    CHECK(e[j] > 0);
  }
  fer::nn::ModulePtr cnn = fer::models::build_model("cnn6", {7, 0.125, ""});
  CHECK_THROWS_WITH_AS(fer::tools::reconstruction_errors(*cnn, images, indices, {1, 48}, 4),
                       doctest::Contains("only an autoencoder"), fer::Error);
}
