// fertrain --init-from with weights that are not a checkpoint of the same model and classes: a
// torchvision-style file (backbone names as torchvision's, a 1000-class fc the model lacks) loads
// into ResNet18's backbone by name and shape, the head keeps its initialisation, and the start-up
// lines say both; a 7-class checkpoint starts a 6-class run with everything but the last layer;
// tools/import_torchvision.py's output loads the same way (skipped without torchvision); and a file
// with nothing in common is one clear error.
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
namespace st = fer::nn::safetensors;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_command(const std::string& cmd_line) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_init_" + std::to_string(::getpid()) + ".log");
  const int status = std::system((cmd_line + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

Run run_fertrain(const std::string& args) { return run_command(std::string(FER_BINARY_DIR) + "/bin/fertrain " + args); }

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("fer_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("fertrain --init-from: a torchvision-style backbone loads by name and shape, the head stays") {
  const fs::path work = fresh_dir("fertrain_init_tv");
  const fs::path file = work / "backbone.safetensors";
  fer::manual_seed(21);
  {
    // our ResNet18 at width 0.125 under torchvision's names, without our head, plus ImageNet's fc
    fer::nn::ModulePtr donor = fer::models::build_model("resnet18", {7, 0.125, ""});
    std::vector<st::TensorRef> refs;
    for (auto& r : fer::nn::state_dict(*donor))
      if (r.name.rfind("fc.", 0) != 0) refs.push_back(r);
    const fer::Tensor fc_w = fer::Tensor::zeros({1000, 64}), fc_b = fer::Tensor::zeros({1000});
    refs.push_back({"fc.weight", fc_w});
    refs.push_back({"fc.bias", fc_b});
    st::save(file.string(), refs, {{"format", "pytorch-state-dict"}, {"source", "torchvision-style test file"}});
  }
  const Run r = run_fertrain("--model resnet18 --width 0.125 --synthetic-count 40 --batch-size 16 --epochs 1 "
                             "--freeze conv1,bn1,layer1,layer2,layer3,layer4 --seed 2 --no-progress --init-from " +
                             file.string() + " --out " + (work / "run").string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(has(r.output, "(torchvision-style test file), by name and shape: 120 of 126 tensors"));
  CHECK(has(r.output, "kept as initialised: fc.0.weight, fc.0.bias, fc.3.weight, fc.3.bias, fc.5.weight, fc.5.bias (6)"));
  CHECK(has(r.output, "not used from the file: fc.bias [1000] (not in the model), fc.weight [1000, 64] (not in the model) (2)"));
  // the frozen backbone's weights after an epoch are the file's
  const auto given = st::File::load(file.string());
  const auto trained = st::File::load((work / "run" / "last.safetensors").string());
  int compared = 0;
  for (const std::string& name : given.names()) {
    if (name.find("conv") == std::string::npos || name.find(".weight") == std::string::npos) continue;
    CHECK_MESSAGE(given.at(name).to_vector<float>() == trained.at(name).to_vector<float>(), name);
    ++compared;
  }
  CHECK(compared == 17);  // conv1 and the 16 block convs (the downsample convs are named downsample.0)
  fs::remove_all(work);
}

TEST_CASE("fertrain --init-from: a 7-class checkpoint starts a 6-class run; the same classes load strictly") {
  const fs::path work = fresh_dir("fertrain_init_classes");
  const std::string common = "--model cnn6 --width 0.25 --synthetic-count 70 --batch-size 16 --epochs 1 --seed 4 --no-progress ";
  const Run seven = run_fertrain(common + "--out " + (work / "seven").string());
  REQUIRE(seven.code == 0);
  const std::string ckpt = (work / "seven" / "best.safetensors").string();
  const Run six = run_fertrain(common + "--classes 6 --init-from " + ckpt + " --out " + (work / "six").string());
  INFO(six.output);
  REQUIRE(six.code == 0);
  CHECK(has(six.output, "(a fer checkpoint of cnn6 (fer7)), by name and shape: 44 of 46 tensors"));
  CHECK(has(six.output, "kept as initialised: fc2.weight, fc2.bias (2)"));
  CHECK(has(six.output, "not used from the file: fc2.bias [7] (model [6]), fc2.weight [7, 128] (model [6, 128]) (2)"));
  const Run again = run_fertrain(common + "--init-from " + ckpt + " --out " + (work / "again").string());
  INFO(again.output);
  REQUIRE(again.code == 0);
  CHECK(has(again.output, "(a fer checkpoint of cnn6, every tensor)"));
  fs::remove_all(work);
}

TEST_CASE("fertrain --init-from: a frozen module the file does not fill is an error; a fer checkpoint of the same model loads strictly") {
  const fs::path work = fresh_dir("fertrain_init_freeze");
  const fs::path file = work / "partial.safetensors";
  fer::manual_seed(22);
  {
    // layer4 left out of the file
    fer::nn::ModulePtr donor = fer::models::build_model("resnet18", {7, 0.125, ""});
    std::vector<st::TensorRef> refs;
    for (auto& r : fer::nn::state_dict(*donor))
      if (r.name.rfind("layer4.", 0) != 0 && r.name.rfind("fc.", 0) != 0) refs.push_back(r);
    st::save(file.string(), refs, {{"format", "pytorch-state-dict"}});
  }
  const std::string common = "--model resnet18 --width 0.125 --synthetic-count 40 --batch-size 16 --epochs 1 --no-progress ";
  const Run r = run_fertrain(common + "--freeze conv1,bn1,layer1,layer2,layer3,layer4 --init-from " + file.string() +
                             " --out " + (work / "a").string());
  CHECK(r.code == 1);
  CHECK(has(r.output, "--freeze layer4: 30 of its tensors (layer4.0.conv1.weight, ...) are not in"));
  // without layer4 in --freeze it trains (layer4 learns from its initialisation)
  const Run ok = run_fertrain(common + "--freeze conv1,bn1,layer1,layer2,layer3 --init-from " + file.string() +
                              " --out " + (work / "b").string());
  INFO(ok.output);
  CHECK(ok.code == 0);
  // a fer checkpoint of resnet18 at another width: the same model, so every tensor must fit
  const Run wide = run_fertrain("--model resnet18 --width 0.25 --synthetic-count 40 --batch-size 16 --epochs 1 "
                                "--no-progress --init-from " + (work / "b" / "best.safetensors").string() +
                                " --out " + (work / "c").string());
  CHECK(wide.code == 1);
  CHECK(has(wide.output, "does not match the model"));
  fs::remove_all(work);
}

TEST_CASE("fertrain --init-from: a file with nothing in common is one clear error") {
  const fs::path work = fresh_dir("fertrain_init_none");
  const fs::path file = work / "other.safetensors";
  st::save(file.string(), {{"module.encoder.weight", fer::Tensor::zeros({4, 4})}}, {});
  const Run r = run_fertrain("--model cnn6 --width 0.25 --synthetic-count 70 --epochs 1 --no-progress --init-from " +
                             file.string() + " --out " + (work / "run").string());
  CHECK(r.code == 1);
  CHECK(has(r.output, "none of its 1 tensors matches a weight of the model by name and shape"));
  CHECK(has(r.output, "module.encoder.weight"));
  fs::remove_all(work);
}

TEST_CASE("tools/import_torchvision.py: torchvision's resnet18 loads into fer's resnet18 backbone") {
  const Run probe = run_command("/usr/bin/python3 -c 'import torch, torchvision'");
  if (probe.code != 0) {
    MESSAGE("skipped: /usr/bin/python3 has no torch + torchvision (Debian: python3-torchvision)");
    return;
  }
  const fs::path work = fresh_dir("fertrain_init_import");
  const fs::path file = work / "resnet18.safetensors";
  const Run conv = run_command("/usr/bin/python3 " + std::string(FER_SOURCE_DIR) +
                               "/tools/import_torchvision.py --arch resnet18 --weights none --out " + file.string());
  INFO(conv.output);
  REQUIRE(conv.code == 0);
  CHECK(has(conv.output, "122 tensors, 11.70 M values from torchvision resnet18 (random initialisation)"));
  const Run r = run_fertrain("--model resnet18 --synthetic-count 20 --batch-size 10 --epochs 1 --seed 5 --no-progress "
                             "--init-from " + file.string() + " --out " + (work / "run").string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(has(r.output, "(torchvision resnet18 (random initialisation)), by name and shape: 120 of 126 tensors"));
  CHECK(has(r.output, "not used from the file: fc.bias [1000] (not in the model), fc.weight [1000, 512] (not in the model) (2)"));
  fs::remove_all(work);
}
