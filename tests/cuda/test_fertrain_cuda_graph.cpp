// fertrain --device cuda --cuda-graph on: the same run as --cuda-graph off, bit for bit (per-epoch
// figures and the final weights), with the graph captured and replayed (its summary line), and a
// partial last batch in every epoch (280 synthetic faces: 224 for training; batch 30 -> 7 steps of
// 30, captured or replayed, and one of 14, uncaptured). Runs the fertrain binary, as a user would.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "nn/safetensors.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run fertrain(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_graph_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fertrain " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::vector<nlohmann::json> metrics(const fs::path& dir) {
  std::vector<nlohmann::json> v;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

}  // namespace

TEST_CASE("fertrain --cuda-graph on: the same run as off, bit for bit") {
  const std::string tag = std::to_string(::getpid());
  const fs::path off = fs::temp_directory_path() / ("fer_graph_off_" + tag);
  const fs::path on = fs::temp_directory_path() / ("fer_graph_on_" + tag);
  fs::remove_all(off);
  fs::remove_all(on);
  const std::string common =
      "--device cuda --model cnn6 --synthetic-count 280 --width 0.25 --batch-size 30 --epochs 2 --seed 4 "
      "--grad-clip 1 --sync-every 4 --no-progress ";
  const Run a = fertrain(common + "--cuda-graph off --out " + off.string());
  const Run b = fertrain(common + "--cuda-graph on --out " + on.string());
  INFO(a.output);
  INFO(b.output);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(b.output.find("cuda graph on") != std::string::npos);
  // 2 epochs x 8 steps: step 1 warm-up and the two 14-image steps uncaptured, step 2 captured, 12 replays
  CHECK(b.output.find("cuda graph: 1 capture(s), 12 replays, 3 uncaptured steps") != std::string::npos);
  const auto ma = metrics(off), mb = metrics(on);
  REQUIRE(ma.size() == 2);
  REQUIRE(mb.size() == 2);
  for (size_t e = 0; e < 2; ++e)
    for (const char* k : {"train_loss", "train_acc", "val_loss", "val_acc", "lr"}) {
      CAPTURE(e);
      CAPTURE(k);
      CHECK(ma[e].at(k).get<double>() == mb[e].at(k).get<double>());
    }
  const auto wa = fer::nn::safetensors::File::load((off / "last.safetensors").string());
  const auto wb = fer::nn::safetensors::File::load((on / "last.safetensors").string());
  REQUIRE(wa.names() == wb.names());
  for (const std::string& n : wa.names()) {
    CAPTURE(n);
    const fer::Tensor ta = wa.at(n), tb = wb.at(n);
    REQUIRE(ta.nbytes() == tb.nbytes());
    CHECK(std::memcmp(ta.raw_data(), tb.raw_data(), static_cast<size_t>(ta.nbytes())) == 0);
  }
  fs::remove_all(off);
  fs::remove_all(on);
}
