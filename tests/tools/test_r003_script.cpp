// scripts/r003-outliers.sh end to end on a small slice of real FER2013 faces: the autoencoder, its
// outliers (ferclean --autoencoder, percentile 98, scored over the training part of the 80/20 split
// only), the baseline with and without them (the same validation images), and the summary; a second
// call finds every step done and repeats nothing. Needs $FER_DATA (suite "data").
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/fer_data.h"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("scripts/r003-outliers.sh: autoencoder, outliers, baseline with and without them, summary" *
          doctest::test_suite("data")) {
  const fs::path src = fer::test::fer_data_root() / "fer2013";
  if (!fs::is_directory(src / "train") || !fs::is_directory(src / "test")) {
    MESSAGE("skipped: needs $FER_DATA with fer2013/train and fer2013/test");
    return;
  }
  const fs::path work = fs::temp_directory_path() / ("fer_test_r003_script_" + std::to_string(::getpid()));
  fs::remove_all(work);
  // 30 Training and 8 PublicTest faces per class (the first in path order)
  for (const auto& [top, count] : std::vector<std::pair<std::string, int>>{{"train", 30}, {"test", 8}})
    for (const auto& cls : fs::directory_iterator(src / top)) {
      std::vector<fs::path> files;
      for (const auto& f : fs::directory_iterator(cls.path())) files.push_back(f.path());
      std::sort(files.begin(), files.end());
      fs::create_directories(work / "data" / top / cls.path().filename());
      for (size_t i = 0; i < files.size() && i < static_cast<size_t>(count); ++i)
        fs::copy_file(files[i], work / "data" / top / cls.path().filename() / files[i].filename());
    }
  const std::string cmd = "cd " + std::string(FER_SOURCE_DIR) + " && FER_BIN=" + std::string(FER_BINARY_DIR) +
                          "/bin scripts/r003-outliers.sh " + (work / "data").string() + " " + (work / "out").string() +
                          " --epochs 1 --threads 2 > " + (work / "log").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string log = slurp(work / "log");
  INFO(log);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const fs::path out = work / "out";
  for (const char* f : {"autoencoder/best.safetensors", "outliers.exclude", "baseline/summary.json",
                        "baseline-outliers-removed/summary.json", "summary.txt"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  // 210 Training faces, 168 in the training part of split:0.2 (24 per class): the 98th percentile of
  // their scores leaves 4 above it (numpy-linear: rank 0.98 * 167 = 163.66), all listed
  const std::string outliers = slurp(out / "outliers.exclude");
  CHECK(count_of(outliers, "  # ae_outlier score=") == 4);  // entry lines (the header has "# ae_outlier: 4 images")
  CHECK(count_of(outliers, "  # duplicate") + count_of(outliers, "  # cross_label") +
            count_of(outliers, "  # test_overlap") ==
        0);
  CHECK(outliers.find("percentile 98 of 168 training scores") != std::string::npos);
  CHECK(slurp(out / "baseline-outliers-removed.log")
            .find("images listed in " + (out / "outliers.exclude").string() + " from the training split (168 -> 164)") !=
        std::string::npos);
  CHECK(slurp(out / "baseline.log").find("excluded ") == std::string::npos);
  // both runs select on the same 42 validation images
  const auto val_of = [&](const char* run) {
    return nlohmann::json::parse(slurp(out / run / "summary.json")).at("val").at("images").get<int>();
  };
  CHECK(val_of("baseline") == 42);
  CHECK(val_of("baseline-outliers-removed") == 42);
  const std::string summary = slurp(out / "summary.txt");
  CHECK(summary.find("baseline:                  ") != std::string::npos);
  CHECK(summary.find("% on PublicTest (56 images)") != std::string::npos);
  CHECK(summary.find(" points (R003 reports +4)") != std::string::npos);
  // a second call repeats nothing
  const int again = std::system(cmd.c_str());
  const std::string log2 = slurp(work / "log");
  INFO(log2);
  CHECK(WEXITSTATUS(again) == 0);
  CHECK(count_of(log2, " done (") == 3);
  CHECK(log2.find("output:") == std::string::npos);
  // an index made for another split is set aside and made again, never reused
  const std::string other_seed = cmd;
  const size_t at = other_seed.find(" --epochs 1 ");
  REQUIRE(at != std::string::npos);
  const int again2 = std::system((other_seed.substr(0, at) + " --epochs 1 --seed 2 " + other_seed.substr(at + 12)).c_str());
  const std::string log3 = slurp(work / "log");
  INFO(log3);
  CHECK(WEXITSTATUS(again2) == 0);
  CHECK(log3.find("outliers.exclude was made for another split; moved to") != std::string::npos);
  CHECK(fs::exists(out / "outliers.exclude.stale"));
  CHECK(slurp(out / "outliers.exclude").find("fertrain --val split:0.2 --seed 2)") != std::string::npos);
  fs::remove_all(work);
}
