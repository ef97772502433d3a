// fertrain's training stages end to end (CPU, synthetic faces, VGG11 at width 0.125): with
// --freeze features --unfreeze-epoch 2 the backbone's weights after epoch 1 are bit for bit the
// initial ones (given with --init-from) while the head has moved; after epoch 2 the backbone has
// moved too; and a run interrupted in the frozen epoch and resumed twice (--resume re-applies the
// stage of its epoch) ends with exactly the weights of the uninterrupted run.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/registry.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tensor/rng.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_fertrain(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_stages_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fertrain " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("fer_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

bool same_tensor(const fer::nn::safetensors::File& a, const fer::nn::safetensors::File& b, const std::string& name) {
  return a.at(name).to_vector<float>() == b.at(name).to_vector<float>();
}

// Parameter names (weights and biases; BatchNorm-free VGG11 has no buffers) starting with `prefix`.
std::vector<std::string> params_with_prefix(const fer::nn::safetensors::File& f, const std::string& prefix) {
  std::vector<std::string> v;
  for (const std::string& n : f.names())
    if (n.rfind(prefix, 0) == 0 && (n.find(".weight") != std::string::npos || n.find(".bias") != std::string::npos))
      v.push_back(n);
  return v;
}

const std::string kStages =
    "--model vgg11 --width 0.125 --synthetic-count 140 --batch-size 32 --threads 2 "
    "--freeze features --unfreeze-epoch 2 --seed 3 --no-progress ";

}  // namespace

TEST_CASE("fertrain: --freeze features --unfreeze-epoch 2 keeps the backbone fixed in epoch 1 only") {
  const fs::path work = fresh_dir("fertrain_stages");
  fs::create_directories(work);
  const fs::path init = work / "init.safetensors";
  fer::manual_seed(11);
  {
    fer::nn::ModulePtr model = fer::models::build_model("vgg11", {7, 0.125, ""});
    fer::nn::save_state_dict(init.string(), *model, {});
  }
  const std::string common = kStages + "--init-from " + init.string() + " ";
  const fs::path a = work / "staged", b = work / "uninterrupted";

  // the staged run: interrupted after 1 step of epoch 1 (112 training images / 32 = 4 steps per epoch)
  const Run first = run_fertrain(common + "--epochs 2 --stop-after-steps 1 --out " + a.string());
  INFO(first.output);
  REQUIRE(first.code == 130);
  CHECK(first.output.find("features frozen") != std::string::npos);
  // resumed to the end of epoch 1: still the frozen stage
  const Run second = run_fertrain("--resume " + a.string() + " --epochs 1 --no-progress");
  INFO(second.output);
  REQUIRE(second.code == 0);
  CHECK(second.output.find("unfreezing") == std::string::npos);
  const auto f0 = fer::nn::safetensors::File::load(init.string());
  const auto f1 = fer::nn::safetensors::File::load((a / "last.safetensors").string());
  REQUIRE(f1.metadata().at("fer.epoch") == "1");
  const auto backbone = params_with_prefix(f0, "features.");
  const auto head = params_with_prefix(f0, "classifier.");
  REQUIRE(backbone.size() == 16);  // 8 convs, weight and bias
  REQUIRE(!head.empty());
  for (const std::string& n : backbone) CHECK_MESSAGE(same_tensor(f0, f1, n), n);
  int head_moved = 0;
  for (const std::string& n : head) head_moved += !same_tensor(f0, f1, n);
  CHECK(head_moved == static_cast<int>(head.size()));

  // resumed into epoch 2: the backbone trains
  const Run third = run_fertrain("--resume " + a.string() + " --epochs 2 --no-progress");
  INFO(third.output);
  REQUIRE(third.code == 0);
  CHECK(third.output.find("epoch 2: unfreezing features") != std::string::npos);
  const auto f2 = fer::nn::safetensors::File::load((a / "last.safetensors").string());
  REQUIRE(f2.metadata().at("fer.epoch") == "2");
  int backbone_moved = 0;
  for (const std::string& n : backbone) backbone_moved += !same_tensor(f1, f2, n);
  CHECK(backbone_moved == static_cast<int>(backbone.size()));

  // the same two epochs without interruption: identical weights, so the resumed run re-applied the
  // frozen stage in epoch 1 and the unfrozen one in epoch 2
  const Run whole = run_fertrain(common + "--epochs 2 --out " + b.string());
  INFO(whole.output);
  REQUIRE(whole.code == 0);
  const auto g2 = fer::nn::safetensors::File::load((b / "last.safetensors").string());
  for (const std::string& n : f2.names()) CHECK_MESSAGE(same_tensor(f2, g2, n), n);
  fs::remove_all(work);
}

TEST_CASE("fertrain: an unknown --freeze path names the model's modules") {
  const Run r = run_fertrain(
      "--model vgg11 --width 0.125 --synthetic-count 140 --epochs 1 --freeze backbone "
      "--no-progress --out " +
      fresh_dir("fertrain_badfreeze").string());
  CHECK(r.code == 1);
  CHECK(r.output.find("no module 'backbone'; its top-level modules are: features") != std::string::npos);
  fs::remove_all(fresh_dir("fertrain_badfreeze"));
}

TEST_CASE("fertrain: gradual unfreezing (--unfreeze-every) releases the last listed module first") {
  const fs::path work = fresh_dir("fertrain_gradual");
  fs::create_directories(work);
  const fs::path init = work / "init.safetensors";
  fer::manual_seed(12);
  {
    fer::nn::ModulePtr model = fer::models::build_model("vgg11", {7, 0.125, ""});
    fer::nn::save_state_dict(init.string(), *model, {});
  }
  // features.0 and features.3 are VGG11's first two convs; released at epoch 2 (features.3) and 3
  const std::string common =
      "--model vgg11 --width 0.125 --synthetic-count 140 --batch-size 32 --threads 2 --seed 4 --no-progress "
      "--freeze features.0,features.3 --unfreeze-epoch 2 --unfreeze-every 1 --init-from " +
      init.string() + " ";
  const fs::path a = work / "run";
  const Run e1 = run_fertrain(common + "--epochs 1 --out " + a.string());
  INFO(e1.output);
  REQUIRE(e1.code == 0);
  CHECK(e1.output.find("gradual unfreezing") != std::string::npos);
  const auto f0 = fer::nn::safetensors::File::load(init.string());
  const auto f1 = fer::nn::safetensors::File::load((a / "last.safetensors").string());
  for (const char* n : {"features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias"})
    CHECK_MESSAGE(same_tensor(f0, f1, n), n);
  CHECK(!same_tensor(f0, f1, "features.6.weight"));  // never frozen

  const Run e2 = run_fertrain("--resume " + a.string() + " --epochs 2 --no-progress");
  INFO(e2.output);
  REQUIRE(e2.code == 0);
  CHECK(e2.output.find("epoch 2: unfreezing features.3 (still frozen: features.0)") != std::string::npos);
  const auto f2 = fer::nn::safetensors::File::load((a / "last.safetensors").string());
  CHECK(same_tensor(f1, f2, "features.0.weight"));
  CHECK(!same_tensor(f1, f2, "features.3.weight"));

  const Run e3 = run_fertrain("--resume " + a.string() + " --epochs 3 --no-progress");
  INFO(e3.output);
  REQUIRE(e3.code == 0);
  CHECK(e3.output.find("epoch 3: unfreezing features.0") != std::string::npos);
  const auto f3 = fer::nn::safetensors::File::load((a / "last.safetensors").string());
  CHECK(!same_tensor(f2, f3, "features.0.weight"));
  fs::remove_all(work);
}
