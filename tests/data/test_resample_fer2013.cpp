// tests/data/test_resample_fer2013.cpp: resampling on the real FER2013 Training split ($FER_DATA):
// ROS/SMOTE counts, exact k-NN on all 28,709 Training images (timed, spot-checked against the
// integer loops), the leak guard on the official split (the raw Training/PublicTest overlap, no new
// leak from resampling the training split), SMOTE+Tomek / SMOTE+ENN on a stratified subset, and
// R004's resample-then-split protocol leaking. Timings are printed, not checked.
#include <doctest/doctest.h>
#include <omp.h>

#include <chrono>
#include <cstring>

#include "data/image_folder.h"
#include "data/knn.h"
#include "data/pixel_hash.h"
#include "data/resample.h"
#include "data/splits.h"
#include "kernels/common.h"
#include "tests/support/fer_data.h"

using namespace fer::data;

namespace {
const Dataset& fer2013() {
  static const Dataset ds = read_image_folders(fer::test::fer_data_root() / "fer2013");
  return ds;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr int64_t kTrain = 28709, kMajority = 7215;  // happy
}  // namespace

TEST_CASE("fer2013 resample: ROS raises every class to 7,215 and adds no evaluation leak") {
  const Dataset& ds = fer2013();
  const auto train = indices_of_split(ds, Split::training);
  const auto pub = indices_of_split(ds, Split::public_test);
  REQUIRE(static_cast<int64_t>(train.size()) == kTrain);
  const Resampled r = resample(ds, train, ResampleMethod::ros, {});
  CHECK(r.counts_after == std::vector<int64_t>(7, kMajority));
  CHECK(r.added == 7 * kMajority - kTrain);  // 21,796
  CHECK(r.train.size() == 7 * kMajority);
  // The raw official split already shares images with Training; ROS copies Training images only, so
  // the resampled set leaks exactly the same PublicTest images, and the guard refuses them.
  const std::vector<int64_t> raw = find_overlap(ds, train, pub);
  const LeakReport rep = leak_report(r.train, ds, pub);
  CHECK(rep.train_test_overlap == static_cast<int64_t>(raw.size()));
  CHECK(rep.leaked == raw);
  CHECK(rep.train_val_overlap == 0);
  CHECK(raw.size() >= 260);
  CHECK(raw.size() <= 290);
  CHECK_THROWS_WITH_AS(check_no_leak(r.train, ds, pub, "PublicTest"),
                       doctest::Contains("PublicTest images have pixels"), fer::Error);
  const std::vector<int64_t> clean = without_leaks(r.train, ds, pub);
  CHECK(clean.size() == pub.size() - raw.size());
  CHECK_NOTHROW(check_no_leak(r.train, ds, clean, "PublicTest minus its Training duplicates"));
  MESSAGE("leak guard on the official split: " << rep.train_test_overlap << " of " << pub.size()
                                               << " PublicTest images occur in (ROS-resampled) Training; e.g. "
                                               << rep.examples.at(0));
}

TEST_CASE("fer2013 resample: SMOTE (k = 5) on Training, timed; samples stay in their class's pixel range") {
  const Dataset& ds = fer2013();
  const auto train = indices_of_split(ds, Split::training);
  const auto pub = indices_of_split(ds, Split::public_test);
  const auto t0 = std::chrono::steady_clock::now();
  ResampleOptions opt;
  opt.seed = 1;
  const Resampled r = resample(ds, train, ResampleMethod::smote, opt);
  const double s = seconds_since(t0);
  CHECK(r.counts_after == std::vector<int64_t>(7, kMajority));
  CHECK(r.added == 7 * kMajority - kTrain);
  CHECK(r.train.sources.back() == "smote:neutral:2249");  // 7,215 - 4,965 = 2,250 neutral samples
  // Interpolated faces are new pixels: they add no exact leak beyond the raw overlap.
  CHECK(leak_report(r.train, ds, pub).leaked == find_overlap(ds, train, pub));
  // Fraction of SMOTE samples that are byte-identical to some training image (u ~ 0 or x = x_nn).
  std::vector<int64_t> gen(static_cast<size_t>(r.added));
  for (int64_t i = 0; i < r.added; ++i) gen[i] = kTrain + i;
  const std::vector<int64_t> m = match_images(ds, &train, r.train, &gen);
  int64_t copies = 0;
  for (int64_t j : m) copies += j >= 0 ? 1 : 0;
  // Mostly x_nn = x (FER2013's exact duplicates are each other's nearest neighbours), rarely u ~ 0.
  CHECK(copies < r.added / 10);
  MESSAGE("SMOTE on Training: " << r.added << " samples in " << s << " s (" << omp_get_max_threads() << " threads), "
                                << copies << " identical to a training image");
}

TEST_CASE("fer2013 resample: exact 5-NN over all 28,709 Training images, timed, spot-checked against the loops") {
  const Dataset& ds = fer2013();
  const auto train = indices_of_split(ds, Split::training);
  const auto t0 = std::chrono::steady_clock::now();
  KnnOptions g;
  g.method = KnnMethod::gemm;
  const Neighbours nn = knn(ds, train, train, 5, g);
  const double s = seconds_since(t0);
  // 48 queries spread over the set, by the exact integer loops.
  std::vector<int64_t> q;
  for (int64_t i = 0; i < 48; ++i) q.push_back(train[(i * 7919) % kTrain]);
  KnnOptions l;
  l.method = KnnMethod::loops;
  const Neighbours ref = knn(ds, train, q, 5, l);
  for (size_t t = 0; t < q.size(); ++t) {
    const int64_t row = (static_cast<int64_t>(t) * 7919) % kTrain;  // the row of q[t] in nn
    for (int c = 0; c < 5; ++c) {
      CHECK(nn.row(row)[c] == ref.row(static_cast<int64_t>(t))[c]);
      CHECK(nn.row_dist2(row)[c] == ref.row_dist2(static_cast<int64_t>(t))[c]);
    }
  }
  // Tomek links of the raw Training split, from the same neighbours' first column.
  int64_t zero = 0, same_label = 0;
  for (int64_t i = 0; i < kTrain; ++i) {
    zero += nn.row_dist2(i)[0] == 0 ? 1 : 0;
    same_label += ds.labels[nn.row(i)[0]] == ds.labels[i] ? 1 : 0;
  }
  MESSAGE("exact 5-NN, 28,709 x 28,709 Training images: "
          << s << " s with " << omp_get_max_threads() << " threads; 1-NN has the same label for " << same_label
          << " images (" << 100.0 * same_label / kTrain << "%), is an exact duplicate for " << zero);
  CHECK(zero > 0);
}

TEST_CASE("fer2013 resample: SMOTE+Tomek and SMOTE+ENN on a stratified 10% of Training") {
  const Dataset& ds = fer2013();
  const auto train = indices_of_split(ds, Split::training);
  const auto part = stratified_split(ds, train, 0.1, 4).first;  // 2,871 images
  for (ResampleMethod m : {ResampleMethod::smote_tomek, ResampleMethod::smote_enn}) {
    const auto t0 = std::chrono::steady_clock::now();
    const Resampled r = resample(ds, part, m, {});
    const double s = seconds_since(t0);
    const int64_t maj = r.counts_before[3];
    CHECK(r.added == 7 * maj - static_cast<int64_t>(part.size()));
    CHECK(r.removed > 0);
    CHECK(r.train.size() == 7 * maj - r.removed);
    int64_t total = 0;
    for (int64_t c : r.counts_after) total += c;
    CHECK(total == r.train.size());
    MESSAGE(std::string(resample_method_name(m))
            << " on " << part.size() << " Training images: +" << r.added << " -" << r.removed << " in " << s << " s; "
            << r.notes.back() << "; " << r.notes[r.notes.size() - 2]);
  }
}

TEST_CASE("fer2013 resample: R004's protocol (resample all of FER2013, then split 80/10/10) leaks") {
  const Dataset& ds = fer2013();
  std::vector<int64_t> all(static_cast<size_t>(ds.size()));
  for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
  const R004Split none = r004_resample_then_split(ds, all, ResampleMethod::none, {});
  const R004Split ros = r004_resample_then_split(ds, all, ResampleMethod::ros, {});
  CHECK(ros.resampled.train.size() == 7 * (7215 + 895));
  // Without resampling the random split only inherits FER2013's own duplicates (about 7%); ROS puts
  // twins of training images into a large part of the test split.
  const double f_none = double(none.leak.train_test_overlap) / double(none.test.size());
  const double f_ros = double(ros.leak.train_test_overlap) / double(ros.test.size());
  CHECK(f_none < 0.10);  // FER2013's own duplicates: 2,805 of 32,298 images sit in duplicate groups
  CHECK(f_ros > 0.40);
  MESSAGE("R004 protocol on " << ds.size() << " images: no resampling: " << none.leak.train_test_overlap << " of "
                              << none.test.size() << " test images (" << 100 * f_none
                              << "%) occur in train; ROS: " << ros.leak.train_test_overlap << " of " << ros.test.size()
                              << " (" << 100 * f_ros << "%), val " << ros.leak.train_val_overlap << " of "
                              << ros.val.size() << "; " << ros.generated_in_test << " test images are ROS copies");
}
