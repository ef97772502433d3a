// usef-kh's two stages end to end (CPU, synthetic faces, VGGNet at width 1/16): the usefkh-vggnet
// recipe trains on ten crops per image with per-crop erasing and validates on the mean of the crops'
// logits; usefkh-vggnet-finetune refuses to start without --init-from and, given the first stage's
// best checkpoint, anneals the lr along a cosine from its first epoch on.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_fertrain(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_usefkh_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fertrain " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace

TEST_CASE("fertrain: usef-kh ten-crop training, then the cosine fine-tuning stage from its best checkpoint") {
  const fs::path work = fs::temp_directory_path() / ("fer_test_usefkh_" + std::to_string(::getpid()));
  fs::remove_all(work);
  const std::string small = "--width 0.0625 --synthetic-count 120 --batch-size 8 --threads 2 --no-progress --seed 2 ";
  const Run first = run_fertrain("--recipe usefkh-vggnet --epochs 1 " + small + "--out " + (work / "a").string());
  INFO(first.output);
  REQUIRE(first.code == 0);
  CHECK(first.output.find("augment:   usefkh, flip") != std::string::npos);
  CHECK(first.output.find("ten crops of 40x40 per image (batch 8 = 80 crops)") != std::string::npos);
  const auto m1 = read_metrics(work / "a");
  REQUIRE(m1.size() == 1);
  CHECK(m1[0].at("val_acc").get<double>() >= 0.0);
  REQUIRE(fs::exists(work / "a" / "best.safetensors"));

  const Run refused = run_fertrain("--recipe usefkh-vggnet-finetune --epochs 1 " + small + "--out " + (work / "x").string());
  CHECK(refused.code == 1);
  CHECK(refused.output.find("give --init-from CKPT") != std::string::npos);

  const Run second = run_fertrain("--recipe usefkh-vggnet-finetune --epochs 3 --cosine-t0 3 " + small + "--init-from " +
                                  (work / "a" / "best.safetensors").string() + " --out " + (work / "b").string());
  INFO(second.output);
  REQUIRE(second.code == 0);
  const auto m2 = read_metrics(work / "b");
  REQUIRE(m2.size() == 3);
  // cosine annealing over T0 = 3 epochs from 1e-3 to 0: 1e-3, 7.5e-4, 2.5e-4
  CHECK(m2[0].at("lr").get<double>() == doctest::Approx(1e-3));
  CHECK(m2[1].at("lr").get<double>() == doctest::Approx(7.5e-4));
  CHECK(m2[2].at("lr").get<double>() == doctest::Approx(2.5e-4));
  fs::remove_all(work);
}
