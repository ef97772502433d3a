// fertrain's --exclude on FER2013 (tools/common/train_data.h): the list filters the training split
// only, after the split. With R003's 80/20 split of Training the validation images are exactly
// those of the run without the list (the list moves no image between the parts), listed
// validation and PublicTest images stay where they are (with a note), and unknown entries fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/fer_data.h"
#include "tests/unit/test_data_fixtures.h"
#include "tools/common/train_data.h"

using namespace fer;
namespace fs = std::filesystem;

namespace {

tools::TrainConfig r003_split_config() {
  tools::TrainConfig c;
  c.data = (test::fer_data_root() / "fer2013").string();
  c.val = "split:0.2";
  c.seed = 1;
  return c;
}

// The source of dataset image i relative to the data folder, as ferclean writes it.
std::string relative(const data::Dataset& ds, int64_t i, const std::string& root) {
  return fs::path(ds.sources[static_cast<size_t>(i)]).lexically_relative(root).generic_string();
}

bool has_note(const tools::TrainData& td, const std::string& text) {
  return std::any_of(td.notes.begin(), td.notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("train data: --exclude with split:0.2 removes listed training images only; validation is unchanged") {
  const tools::TrainConfig plain = r003_split_config();
  const tools::TrainData base = tools::load_train_data(plain);
  REQUIRE(base.plan.train.size() == 22968);  // R003: 22,968 training / 5,741 validation images
  REQUIRE(base.plan.val.size() == 5741);

  // 50 training-part images (every 400th), 7 validation-part images and 3 PublicTest images
  std::vector<int64_t> listed_train, listed_val, listed_test;
  for (size_t j = 0; j < base.plan.train.size() && listed_train.size() < 50; j += 400)
    listed_train.push_back(base.plan.train[j]);
  for (size_t j = 0; j < 7; ++j) listed_val.push_back(base.plan.val[j * 800]);
  for (size_t j = 0; j < 3; ++j) listed_test.push_back(base.plan.test[j * 1000]);
  test::TempDir dir;
  const fs::path list = dir / "some.exclude";
  {
    std::ofstream out(list);
    out << "# a test list\n";
    for (const auto* group : {&listed_train, &listed_val, &listed_test})
      for (int64_t i : *group) out << relative(base.dataset, i, plain.data) << "  # listed\n";
  }
  tools::TrainConfig c = plain;
  c.exclude = list.string();
  const tools::TrainData td = tools::load_train_data(c);

  CHECK(td.plan.val == base.plan.val);
  CHECK(td.plan.test == base.plan.test);
  std::vector<int64_t> expected;
  std::set_difference(base.plan.train.begin(), base.plan.train.end(), listed_train.begin(), listed_train.end(),
                      std::back_inserter(expected));
  CHECK(td.plan.train == expected);
  CHECK(td.plan.train.size() == 22968 - 50);
  CHECK(has_note(td, "excluded 50 images listed in " + list.string() + " from the training split (22968 -> 22918)"));
  CHECK(has_note(td, "10 listed images belong to the validation or test split and stay there"));
  CHECK(td.plan.train_desc.find("minus --exclude") != std::string::npos);
}

TEST_CASE("train data: --exclude with the PublicTest validation split keeps PublicTest whole") {
  tools::TrainConfig c;
  c.data = (test::fer_data_root() / "fer2013").string();
  const tools::TrainData base = tools::load_train_data(c);
  REQUIRE(base.plan.val.size() == 3589);
  test::TempDir dir;
  const fs::path list = dir / "x.exclude";
  {
    std::ofstream out(list);
    out << relative(base.dataset, base.plan.train[5], c.data) << "\n"
        << relative(base.dataset, base.plan.val[5], c.data) << "\n";
  }
  c.exclude = list.string();
  const tools::TrainData td = tools::load_train_data(c);
  CHECK(td.plan.val.size() == 3589);
  CHECK(td.plan.train.size() == base.plan.train.size() - 1);
  CHECK(std::find(td.plan.train.begin(), td.plan.train.end(), base.plan.train[5]) == td.plan.train.end());
  CHECK(has_note(td, "1 listed images belong to the validation or test split"));

  // an image listed twice (as ferclean's path and as a shorter suffix) is fine
  {
    std::ofstream out(list, std::ios::app);
    const std::string rel = relative(base.dataset, base.plan.train[5], c.data);
    out << rel.substr(rel.find('/') + 1) << "\n";
  }
  CHECK(tools::load_train_data(c).plan.train.size() == base.plan.train.size() - 1);

  // an entry that names no image is an error naming it
  {
    std::ofstream out(list, std::ios::app);
    out << "train/happy/NoSuchImage.jpg\n";
  }
  CHECK_THROWS_WITH(tools::load_train_data(c),
                    doctest::Contains("entry 'train/happy/NoSuchImage.jpg' names no image of the data"));
}
