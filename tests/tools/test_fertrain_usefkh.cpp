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

#include "tests/unit/test_data_fixtures.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_program(const std::string& program, const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_usefkh_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/" + program + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

Run run_fertrain(const std::string& args) { return run_program("fertrain", args); }

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

  // fereval scores a ten-crop checkpoint as its run validated (the ten crops' mean) unless told otherwise
  {
    const fer::test::TempDir data;
    int id = 0;
    for (const char* c : {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"})
      for (const char* part : {"train/Training_", "test/PublicTest_"}) {
        const std::string name = part;
        const std::string folder = name.substr(0, name.find('/'));
        fer::test::write_gray48(data / (folder + "/" + c + "/" + name.substr(folder.size() + 1) + std::to_string(id) + ".png"),
                                fer::test::pattern(id));
        ++id;
      }
    const std::string eval = "--checkpoint " + (work / "a" / "best.safetensors").string() + " --data " +
                             data.path().string() + " --split val --json";
    const Run automatic = run_program("fereval", eval);
    INFO(automatic.output);
    REQUIRE(automatic.code == 0);
    const auto j = nlohmann::json::parse(automatic.output);
    CHECK(j.at("tta") == "tencrop");
    CHECK(j.at("tta_auto") == true);
    const Run plain = run_program("fereval", eval + " --tta none");
    REQUIRE(plain.code == 0);
    CHECK(nlohmann::json::parse(plain.output).at("tta") == "none");
  }

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
