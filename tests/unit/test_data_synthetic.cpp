// tests/unit/test_data_synthetic.cpp: the synthetic face generator: determinism, independence of
// image i from the count, class balance and split, non-degenerate and class-dependent images,
// and the PNG preview grid.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/image_io.h"
#include "data/pixel_hash.h"
#include "data/preview.h"
#include "data/sampler.h"
#include "data/synthetic.h"
#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer::data;

TEST_CASE("synthetic: same seed -> identical bytes; image i does not depend on the count") {
  const Dataset a = make_synthetic_faces(60, 7);
  const Dataset b = make_synthetic_faces(60, 7);
  CHECK(a.pixels == b.pixels);
  CHECK(a.labels == b.labels);
  const Dataset c = make_synthetic_faces(60, 8);
  CHECK(a.pixels != c.pixels);
  const Dataset small = make_synthetic_faces(25, 7);
  CHECK(std::memcmp(small.pixels.data(), a.pixels.data(), small.pixels.size()) == 0);
  std::vector<uint8_t> one(kImagePixels);
  CHECK(render_synthetic_face(7, 37, one.data()) == a.labels[37]);
  CHECK(std::memcmp(one.data(), a.image(37), kImagePixels) == 0);
  CHECK(a.sources[37] == "synthetic:37");
  CHECK(a.origin == "synthetic(count=60, seed=7)");
  a.validate();
}

TEST_CASE("synthetic: balanced classes, 80/20 Training/PublicTest, FER-like frequencies on request") {
  const Dataset ds = make_synthetic_faces(700, 1);
  CHECK(class_counts(ds) == std::vector<int64_t>(7, 100));
  const auto pub = indices_of_split(ds, Split::public_test);
  CHECK(pub.size() == 140);
  CHECK(class_counts(ds, pub) == std::vector<int64_t>(7, 20));
  CHECK(indices_of_split(ds, Split::training).size() == 560);

  SyntheticOptions opt;
  opt.fer_frequencies = true;
  const Dataset fer = make_synthetic_faces(7000, 1, opt);
  const auto counts = class_counts(fer);
  // Expected (FER2013 Training shares): angry 974, disgust 106, fear 999, happy 1759, sad 1178, surprise 773, neutral 1211.
  const double expected[7] = {974.1, 106.3, 999.0, 1759.2, 1177.6, 773.2, 1210.6};
  for (int c = 0; c < 7; ++c) {
    CAPTURE(c);
    CHECK(std::fabs(counts[c] - expected[c]) < 5 * std::sqrt(expected[c]) + 1);
  }
}

TEST_CASE("synthetic: images are varied and not degenerate") {
  const Dataset ds = make_synthetic_faces(1400, 3);
  // No two images are identical.
  CHECK(find_duplicates(ds).groups.empty());
  // Every image has contrast.
  int flat = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const uint8_t* img = ds.image(i);
    double m = 0, s = 0;
    for (int p = 0; p < kImagePixels; ++p) m += img[p];
    m /= kImagePixels;
    for (int p = 0; p < kImagePixels; ++p) s += (img[p] - m) * (img[p] - m);
    flat += std::sqrt(s / kImagePixels) < 12.0;
  }
  CHECK(flat == 0);
}

TEST_CASE("synthetic: a linear classifier on raw pixels learns something, far from everything") {
  // Softmax regression on standardized pixels (each image minus its mean, over its standard
  // deviation), plain SGD in a fixed order: deterministic. It must beat chance (1/7) clearly,
  // showing the classes carry signal, and stay well below what a small CNN reaches (> 90%),
  // showing the task is not linearly trivial. Measured figures go to the test log.
  const Dataset ds = make_synthetic_faces(2800, 4);
  std::vector<float> x(static_cast<size_t>(ds.size()) * kImagePixels);
  for (int64_t i = 0; i < ds.size(); ++i) {
    double m = 0, s = 0;
    for (int p = 0; p < kImagePixels; ++p) m += ds.image(i)[p] / static_cast<double>(kImagePixels);
    for (int p = 0; p < kImagePixels; ++p) s += std::pow(ds.image(i)[p] - m, 2) / kImagePixels;
    for (int p = 0; p < kImagePixels; ++p) x[i * kImagePixels + p] = static_cast<float>((ds.image(i)[p] - m) / (std::sqrt(s) + 1e-6));
  }
  std::vector<float> w(7 * kImagePixels, 0.0f), b(7, 0.0f);
  auto logits = [&](int64_t i, float* z) {
    for (int c = 0; c < 7; ++c) {
      float acc = b[c];
      for (int p = 0; p < kImagePixels; ++p) acc += w[c * kImagePixels + p] * x[i * kImagePixels + p];
      z[c] = acc;
    }
  };
  const auto train = indices_of_split(ds, Split::training);
  const auto val = indices_of_split(ds, Split::public_test);
  const Sampler order(SamplerKind::shuffled, train, ds.labels, 7, 1);
  for (int epoch = 0; epoch < 8; ++epoch) {
    for (int64_t i : order.epoch(epoch)) {
      float z[7], mx = -1e30f, sum = 0;
      logits(i, z);
      for (float v : z) mx = std::max(mx, v);
      for (float& v : z) sum += (v = std::exp(v - mx));
      for (int c = 0; c < 7; ++c) {
        const float g = z[c] / sum - (c == ds.labels[i] ? 1.0f : 0.0f);
        b[c] -= 0.002f * g;
        for (int p = 0; p < kImagePixels; ++p) w[c * kImagePixels + p] -= 0.002f * g * x[i * kImagePixels + p];
      }
    }
  }
  auto accuracy = [&](const std::vector<int64_t>& idx) {
    int ok = 0;
    for (int64_t i : idx) {
      float z[7];
      logits(i, z);
      ok += static_cast<int>(std::max_element(z, z + 7) - z) == ds.labels[i];
    }
    return static_cast<double>(ok) / static_cast<double>(idx.size());
  };
  const double train_acc = accuracy(train), val_acc = accuracy(val);
  MESSAGE("linear softmax on raw pixels (2,240 training faces, 8 epochs): train " << train_acc << ", validation " << val_acc);
  CHECK(val_acc > 0.25);
  CHECK(val_acc < 0.7);
}

TEST_CASE("synthetic: the class grid PNG has one row per class") {
  fer::test::TempDir dir;
  const Dataset ds = make_synthetic_faces(70, 2);
  write_class_grid_png(ds, dir / "grid.png", 4, 2);
  const std::vector<uint8_t> png = read_file_bytes(dir / "grid.png");
  REQUIRE(png.size() > 24);
  auto be32 = [&](size_t o) { return (png[o] << 24) | (png[o + 1] << 16) | (png[o + 2] << 8) | png[o + 3]; };
  CHECK(be32(16) == 4 * 96 + 5 * 4);  // width: 4 cells of 96 px + 5 gaps of 4 px
  CHECK(be32(20) == 7 * 96 + 8 * 4);  // height: 7 rows
  CHECK_THROWS_AS(write_class_grid_png(ds, dir / "x.png", 0, 2), fer::Error);
  CHECK_THROWS_WITH_AS(make_synthetic_faces(0, 1), doctest::Contains("count must be positive"), fer::Error);
}
