// fertrain's data step with --resample on FER2013 (tools/common/train_data.h): the training split is
// oversampled to equal class counts, validation stays the official PublicTest images minus those
// whose pixels occur in the (resampled) training set, and the leak guard leaves no overlap behind.
#include <doctest/doctest.h>

#include <set>

#include "data/resample.h"
#include "tests/support/fer_data.h"
#include "tools/common/train_data.h"

using namespace fer;

TEST_CASE("train data: --limit 3000 --resample ros on FER2013 balances training and guards validation") {
  tools::TrainConfig c;
  c.data = (test::fer_data_root() / "fer2013").string();
  c.limit = 3000;
  c.resample = "ros";
  c.seed = 3;
  const tools::TrainData td = tools::load_train_data(c);
  const std::vector<int64_t> counts = data::class_counts(td.dataset, td.plan.train);
  for (int64_t n : counts) CHECK(n == counts[3]);  // every class raised to the majority (happy)
  CHECK(counts[3] > 700);
  // PublicTest has 3,589 images; the ones duplicated in the training subset are left out.
  CHECK(td.plan.val.size() + static_cast<size_t>(td.leaked_left_out) >= 3589);
  CHECK(td.plan.val.size() < 3589);
  // PublicTest is also the test split here: it carries the same images and says it lost some
  CHECK(td.plan.test == td.plan.val);
  CHECK(td.plan.val_desc == "PublicTest minus training duplicates");
  CHECK(td.plan.test_desc == "PublicTest minus training duplicates");
  const data::Dataset train = data::subset(td.dataset, td.plan.train);
  const data::LeakReport after = data::leak_report(train, td.dataset, td.plan.val, td.plan.test);
  CHECK(after.train_val_overlap == 0);
  CHECK(after.train_test_overlap == 0);
  bool noted = false;
  for (const std::string& n : td.notes) noted = noted || n.find("leak guard") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("train data: without resampling the raw Training/PublicTest overlap is reported") {
  tools::TrainConfig c;
  c.data = (test::fer_data_root() / "fer2013").string();
  const tools::TrainData td = tools::load_train_data(c);
  CHECK(td.plan.val.size() == 3589);
  bool noted = false;
  for (const std::string& n : td.notes) noted = noted || n.find("280 validation") != std::string::npos;
  CHECK_MESSAGE(noted, "expected the raw overlap note (280 PublicTest images occur in Training)");
}
