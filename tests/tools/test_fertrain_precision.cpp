// fertrain --precision fp32|tf32|bf16 end to end (CPU: the emulation of the tensor-core numerics,
// kernels/precision.h): the start-up line says what it does, config.json and the checkpoint's
// fer.config record the precision, and a bf16 run's losses track the fp32 run's (same seed) without
// being identical; an unknown precision is one clear error line.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "nn/safetensors.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_fertrain(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_precision_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fertrain " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::vector<double> train_losses(const fs::path& dir) {
  std::vector<double> v;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line).at("train_loss").get<double>());
  return v;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("fer_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

const std::string kSmall = "--synthetic-count 280 --width 0.25 --batch-size 32 --threads 2 --no-progress --epochs 2 ";

}  // namespace

TEST_CASE("fertrain --precision bf16 on the CPU: recorded, announced, and trains like fp32") {
  const fs::path a = fresh_dir("precision_fp32"), b = fresh_dir("precision_bf16");
  const Run r32 = run_fertrain(kSmall + "--precision fp32 --out " + a.string());
  INFO(r32.output);
  REQUIRE(r32.code == 0);
  const Run r16 = run_fertrain(kSmall + "--precision bf16 --out " + b.string());
  INFO(r16.output);
  REQUIRE(r16.code == 0);
  CHECK(r16.output.find("precision: bf16 (CPU emulation of the tensor-core numerics") != std::string::npos);
  std::ifstream cfg(b / "config.json");
  CHECK(nlohmann::json::parse(cfg).at("precision") == "bf16");
  const auto best = fer::nn::safetensors::File::load((b / "best.safetensors").string());
  CHECK(nlohmann::json::parse(best.metadata().at("fer.config")).at("precision") == "bf16");
  const std::vector<double> l32 = train_losses(a), l16 = train_losses(b);
  REQUIRE(l32.size() == 2);
  REQUIRE(l16.size() == 2);
  CHECK(l16 != l32);                                                                  // the rounding took place
  for (size_t i = 0; i < 2; ++i) CHECK(std::fabs(l16[i] - l32[i]) <= 0.05 * l32[i]);  // within 5%
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("fertrain --precision: tf32 is accepted, an unknown name is one clear error") {
  const Run bad = run_fertrain("--precision fp16 --no-progress");
  CHECK(bad.code != 0);
  CHECK(bad.output.find("--precision 'fp16' is not one of") != std::string::npos);
  const fs::path c = fresh_dir("precision_tf32");
  const Run r = run_fertrain(
      "--synthetic-count 140 --width 0.25 --batch-size 32 --threads 2 --no-progress --epochs 1 "
      "--precision tf32 --out " +
      c.string());
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("precision: tf32 (CPU emulation") != std::string::npos);
  fs::remove_all(c);
}
