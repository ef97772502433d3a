// tests/data/test_autoencoder_fer2013.cpp: R003's outlier pipeline on a small slice of the real
// FER2013 folder set ($FER_DATA/fer2013): fertrain --recipe r003-autoencoder (80/20 split of
// Training, MSE) on --limit 600 for one epoch at width 0.25 writes parseable outputs with a finite,
// plausible MSE; then ferclean --autoencoder scores a copied slice (15 Training images per class = 105,
// plus 2 test images per class) and flags exactly the images above the 98th percentile
// ((105 - 1) * 0.98 = 101.92: the top 3), none of them from test/, and fertrain --exclude accepts
// the index. Cheap (well under a minute on 2 cores); skipped visibly without FER_DATA.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/fer_data.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Run {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run run_program(const std::string& program, const std::string& args) {
  const std::string stem =
      (fs::temp_directory_path() / ("fer_test_ae_data_" + program + "_" + std::to_string(::getpid()))).string();
  const std::string cmd =
      std::string(FER_BINARY_DIR) + "/bin/" + program + " " + args + " > " + stem + ".out 2> " + stem + ".err";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(stem + ".out"), slurp(stem + ".err")};
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  return r;
}

// The first `count` files (sorted) of each class folder of data/split, copied to out/split.
void copy_slice(const fs::path& data, const fs::path& out, const std::string& split, size_t count) {
  for (const auto& cls : fs::directory_iterator(data / split)) {
    if (!cls.is_directory()) continue;
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(cls.path()))
      if (f.is_regular_file()) files.push_back(f.path());
    std::sort(files.begin(), files.end());
    fs::create_directories(out / split / cls.path().filename());
    for (size_t i = 0; i < std::min(count, files.size()); ++i)
      fs::copy_file(files[i], out / split / cls.path().filename() / files[i].filename());
  }
}

}  // namespace

TEST_CASE("fer2013 autoencoder: r003-autoencoder trains on a slice and ferclean flags the top 2% of a slice") {
  const fs::path data = fer::test::fer_data_root() / "fer2013";
  const fs::path tmp = fs::temp_directory_path() / ("fer_test_ae_data_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  const fs::path run = tmp / "run";
  const Run t = run_program("fertrain", "--recipe r003-autoencoder --data " + data.string() +
                                            " --limit 600 --epochs 1 --width 0.25 --threads 2 --no-progress --out " +
                                            run.string());
  INFO(t.out);
  INFO(t.err);
  REQUIRE(t.code == 0);
  const json summary = json::parse(slurp(run / "summary.json"));
  const double mse = summary.at("val").at("mse").get<double>();
  CHECK(mse > 0.0);
  CHECK(mse < 0.1);  // sigmoid output vs [0,1] faces; a constant 0.5 would score about 0.07
  const json config = json::parse(slurp(run / "config.json"));
  CHECK(config.at("val") == "split:0.2");
  CHECK(config.at("batch_size") == 32);
  CHECK(config.at("optimizer") == "adam");
  std::ifstream metrics(run / "metrics.jsonl");
  std::string line;
  REQUIRE(std::getline(metrics, line));
  CHECK(json::parse(line).at("val_acc").is_null());

  const fs::path slice = tmp / "slice";
  copy_slice(data, slice, "train", 15);
  copy_slice(data, slice, "test", 2);
  const fs::path index = tmp / "ae.exclude";
  const Run c = run_program("ferclean", "--data " + slice.string() + " --autoencoder " +
                                            (run / "best.safetensors").string() + " --json --out " + index.string());
  INFO(c.out);
  INFO(c.err);
  REQUIRE(c.code == 0);
  const json j = json::parse(c.out);
  CHECK(j.at("autoencoder").at("scored").get<int>() == 105);
  CHECK(j.at("autoencoder").at("above_threshold").get<int>() == 3);
  std::ifstream idx(index);
  int listed = 0;
  while (std::getline(idx, line)) {
    if (line.empty() || line[0] == '#') continue;
    ++listed;
    CHECK(line.rfind("train/", 0) == 0);  // test images are never flagged
    CHECK(line.find("# ae_outlier score=") != std::string::npos);
  }
  CHECK(listed == 3);
  const Run e = run_program("fertrain", "--data " + slice.string() + " --exclude " + index.string() +
                                            " --epochs 1 --width 0.25 --batch-size 16 --threads 2 --no-progress --out " +
                                            (tmp / "clean").string());
  INFO(e.out);
  INFO(e.err);
  CHECK(e.code == 0);
  CHECK((e.out + e.err).find("excluded " + std::to_string(j.at("excluded").get<int>()) + " images listed in") !=
        std::string::npos);
  fs::remove_all(tmp);
}
