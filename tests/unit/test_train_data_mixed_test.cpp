// fertrain's data step with --resample when test/ mixes PublicTest_* files (the validation split)
// with unprefixed ones (tools/common/train_data.h): the test split keeps both parts after
// resampling, as without it (it used to lose its PublicTest part).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "tests/unit/test_data_fixtures.h"
#include "tools/common/train_data.h"

using namespace fer;

TEST_CASE("train data: --resample keeps the validation part of a mixed test/ folder in the test split") {
  test::TempDir dir;
  const std::vector<std::string> classes = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
  int id = 0;
  for (size_t c = 0; c < classes.size(); ++c) {
    const int n_train = c == 3 ? 6 : 3;  // happy is the majority, so ROS has something to do
    for (int i = 0; i < n_train; ++i, ++id)
      test::write_gray48(dir / ("train/" + classes[c] + "/Training_" + std::to_string(id) + ".png"), test::pattern(id));
    for (int i = 0; i < 2; ++i, ++id)
      test::write_gray48(dir / ("test/" + classes[c] + "/PublicTest_" + std::to_string(id) + ".png"), test::pattern(id));
    test::write_gray48(dir / ("test/" + classes[c] + "/img_" + std::to_string(id) + ".png"), test::pattern(id));
    ++id;
  }
  tools::TrainConfig c;
  c.data = dir.path().string();
  c.val = "publictest";
  const tools::TrainData plain = tools::load_train_data(c);
  REQUIRE(plain.plan.val.size() == 14);
  REQUIRE(plain.plan.test.size() == 21);  // PublicTest + the unprefixed images
  c.resample = "ros";
  const tools::TrainData td = tools::load_train_data(c);
  CHECK(td.leaked_left_out == 0);  // every image is distinct
  CHECK(td.plan.val.size() == 14);
  REQUIRE(td.plan.test.size() == 21);
  std::set<std::string> test_sources, val_sources;
  for (int64_t i : td.plan.test) test_sources.insert(td.dataset.sources[static_cast<size_t>(i)]);
  for (int64_t i : td.plan.val) val_sources.insert(td.dataset.sources[static_cast<size_t>(i)]);
  CHECK(test_sources.size() == 21);
  for (const std::string& v : val_sources) CHECK_MESSAGE(test_sources.count(v), v);
  for (int64_t i : plain.plan.test) CHECK(test_sources.count(plain.dataset.sources[static_cast<size_t>(i)]));
  const std::vector<int64_t> counts = data::class_counts(td.dataset, td.plan.train);
  for (int64_t n : counts) CHECK(n == 6);
}
