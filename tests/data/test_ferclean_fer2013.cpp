// tests/data/test_ferclean_fer2013.cpp: ferclean on the real FER2013 folder set ($FER_DATA/fer2013):
// the figures data/README.md measured (280 of 3,589 PublicTest images also in Training; about 1,273
// duplicate groups, 47 cross-label) come out, the index has one entry per excluded image, relative to
// the data folder, and the run finishes (its time is printed, not checked).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/fer_data.h"

namespace fs = std::filesystem;

TEST_CASE("fer2013 ferclean: plausible duplicate, cross-label and PublicTest-overlap counts") {
  const fs::path data = fer::test::fer_data_root() / "fer2013";
  const std::string stem =
      (fs::temp_directory_path() / ("fer_test_ferclean_data_" + std::to_string(::getpid()))).string();
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/ferclean --data " + data.string() + " --out " + stem +
                          ".exclude --json > " + stem + ".out 2> " + stem + ".err";
  const auto t0 = std::chrono::steady_clock::now();
  const int status = std::system(cmd.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string out = slurp(stem + ".out"), err = slurp(stem + ".err");
  INFO(out);
  INFO(err);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  const int64_t images = j.at("images").get<int64_t>();
  CHECK(images >= 32000);
  int64_t public_overlap = -1, public_images = 0;
  for (const auto& o : j.at("test_overlap"))
    if (o.at("split") == "PublicTest") {
      public_overlap = o.at("in_training").get<int64_t>();
      public_images = o.at("images").get<int64_t>();
    }
  CHECK(public_images == 3589);
  CHECK(public_overlap == 280);  // data/README.md "Duplicates and leaks"
  const int64_t groups = j.at("duplicate_groups").get<int64_t>();
  const int64_t cross = j.at("cross_label_groups").get<int64_t>();
  CHECK(groups >= 1200);
  CHECK(groups <= 1350);
  CHECK(cross >= 40);
  CHECK(cross <= 60);
  // Training copies of the 280 PublicTest images: at least one per image (some are in larger groups).
  const int64_t train_in_test = j.at("training_in_test").get<int64_t>();
  CHECK(train_in_test >= 280);
  CHECK(train_in_test <= 400);
  const auto& reasons = j.at("reasons");
  const int64_t cross_images = reasons.at("cross_label").at("images").get<int64_t>();
  const int64_t dup_images = reasons.at("duplicate").at("images").get<int64_t>();
  const int64_t overlap_images = reasons.at("test_overlap").at("images").get<int64_t>();
  CHECK(cross_images >= 2 * cross);
  CHECK(dup_images + cross_images <= j.at("images_in_groups").get<int64_t>());
  CHECK(overlap_images <= train_in_test);
  const int64_t excluded = j.at("excluded").get<int64_t>();
  CHECK(excluded == cross_images + dup_images + overlap_images);
  CHECK(excluded < images / 10);  // a few percent, never a large part of the data

  // The index: one entry per excluded image, each a path relative to the data folder.
  std::ifstream in(stem + ".exclude");
  std::string line;
  int64_t entries = 0, relative = 0;
  while (std::getline(in, line)) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (line.empty()) continue;
    entries++;
    relative += (line.rfind("train/", 0) == 0 || line.rfind("test/", 0) == 0) && fs::exists(data / line);
  }
  CHECK(entries == excluded);
  CHECK(relative == entries);
  MESSAGE("ferclean on " << data.string() << ": " << images << " images, " << groups << " duplicate groups (" << cross
                         << " cross-label), PublicTest " << public_overlap << "/" << public_images
                         << " in Training; excluded " << excluded << " (" << cross_images << " cross-label, "
                         << dup_images << " duplicate, " << overlap_images << " test-overlap) in " << seconds << " s");
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  fs::remove(stem + ".exclude");
}
