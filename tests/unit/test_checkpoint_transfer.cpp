// nn::load_matching (fertrain --init-from with foreign weights): tensors of equal name and shape load,
// the rest of the model keeps its values, the report lists both sides, no match at all is one clear
// error. And the backbones whose names follow torchvision's do match torchvision's state_dict
// (tests/fixtures/torchvision_state_dicts.json: names, shapes and dtypes of torchvision 0.14's
// resnet18, resnet34, vgg11 and efficientnet_b0, written by tools/import_torchvision.py --manifest),
// so ImageNet weights converted by that script reach every backbone tensor (rmn's too) and only the
// head keeps its initialisation.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "nn/checkpoint.h"
#include "tensor/rng.h"

using namespace fer;
namespace fs = std::filesystem;
namespace st = fer::nn::safetensors;

namespace {

fs::path temp_file(const std::string& stem) {
  return fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + ".safetensors");
}

std::vector<float> values(const Tensor& t) { return t.to_dtype(DType::f32).to_vector<float>(); }

std::map<std::string, Tensor> tensors_of(nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& r : nn::state_dict(m)) out.emplace(r.name, r.tensor);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

Tensor src_tensor(nn::Module& m, const std::string& name) { return tensors_of(m).at(name); }

}  // namespace

TEST_CASE("load_matching: the backbone of a 7-class checkpoint into a 6-class model, the head kept") {
  models::ModelConfig seven{7, 0.25, ""}, six{6, 0.25, ""};
  manual_seed(1);
  nn::ModulePtr source = models::build_model("cnn6", seven);
  manual_seed(2);
  nn::ModulePtr target = models::build_model("cnn6", six);
  const auto before = tensors_of(*target);
  std::map<std::string, std::vector<float>> initial;
  for (auto& [name, t] : before) initial[name] = values(t);

  const fs::path file = temp_file("fer_test_transfer");
  // conv1.weight stored as f64 (converted on load), and an extra tensor the model does not have
  const Tensor extra = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  const Tensor conv1_f64 = src_tensor(*source, "conv1.weight").to_dtype(DType::f64);
  st::save(file.string(), [&] {
    std::vector<st::TensorRef> refs;
    for (auto& r : nn::state_dict(*source)) refs.push_back(r.name == "conv1.weight" ? st::TensorRef{r.name, conv1_f64} : r);
    refs.push_back({"projection.weight", extra});
    return refs;
  }(), {});
  const nn::LoadReport r = nn::load_matching(file.string(), *target);

  const auto src = tensors_of(*source), dst = tensors_of(*target);
  CHECK(r.model_tensors == static_cast<int64_t>(dst.size()));
  CHECK(r.kept == std::vector<std::string>{"fc2.weight", "fc2.bias"});  // state_dict order
  CHECK(r.loaded_tensors == r.model_tensors - 2);
  CHECK(r.loaded_values == r.model_values - 6 * 128 - 6);  // fc2: [6, 512 * 0.25] + [6]
  REQUIRE(r.unused.size() == 3);
  CHECK(r.unused[0] == "fc2.bias [7] (model [6])");
  CHECK(r.unused[1] == "fc2.weight [7, 128] (model [6, 128])");
  CHECK(r.unused[2] == "projection.weight [3] (not in the model)");
  for (auto& [name, t] : dst) {
    if (starts_with(name, "fc2.")) {
      CHECK_MESSAGE(values(t) == initial[name], name);  // the head keeps its initialisation
    } else {
      CHECK_MESSAGE(values(t) == values(src.at(name)), name);
    }
  }
  fs::remove(file);
}

TEST_CASE("load_matching: no tensor in common is one error naming both sides") {
  const fs::path file = temp_file("fer_test_transfer_none");
  st::save(file.string(), {{"module.conv1.weight", Tensor::from_vector(std::vector<float>{1, 2}, {2})}}, {});
  nn::ModulePtr model = models::build_model("cnn6", {7, 0.25, ""});
  std::string message;
  try {
    nn::load_matching(file.string(), *model);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("none of its 1 tensors matches a weight of the model") != std::string::npos);
  CHECK(message.find("module.conv1.weight") != std::string::npos);
  CHECK(message.find("conv1.weight") != std::string::npos);
  CHECK(message.find("hint:") != std::string::npos);
  fs::remove(file);
}

TEST_CASE("load_matching: weights of another width (a head bias and BatchNorm's counters match) are no match") {
  nn::ModulePtr narrow = models::build_model("cnn6", {7, 0.25, ""});
  nn::ModulePtr wide = models::build_model("cnn6", {7, 0.5, ""});
  const fs::path file = temp_file("fer_test_transfer_width");
  st::save(file.string(), nn::state_dict(*narrow), {});
  std::string message;
  try {
    nn::load_matching(file.string(), *wide);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("none of its") != std::string::npos);
  CHECK(message.find("(1 match, 7 of the model's") != std::string::npos);  // fc2.bias
  CHECK(message.find("--width") != std::string::npos);
  // a file of nothing but BatchNorm's counters
  nn::ModulePtr resnet = models::build_model("resnet18", {7, 0.125, ""});
  std::vector<st::TensorRef> counters;
  for (auto& r : nn::state_dict(*resnet))
    if (r.name.find("num_batches_tracked") != std::string::npos) counters.push_back(r);
  st::save(file.string(), counters, {});
  message.clear();
  try {
    nn::load_matching(file.string(), *resnet);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("(only 20 scalar counters such as num_batches_tracked do)") != std::string::npos);
  fs::remove(file);
}

TEST_CASE("torchvision's state_dict names and shapes reach every backbone tensor of our models") {
  std::ifstream in(fs::path(FER_SOURCE_DIR) / "tests" / "fixtures" / "torchvision_state_dicts.json");
  REQUIRE(in.good());
  const nlohmann::json manifest = nlohmann::json::parse(in);
  struct Case {
    std::string model, arch;
    std::vector<std::string> head;  // prefixes of the model's own (not ImageNet) tensors
    std::vector<std::string> unused;  // the torchvision tensors that do not load (its classifier)
  };
  const std::vector<Case> cases = {
      {"resnet18", "resnet18", {"fc."}, {"fc.bias", "fc.weight"}},  // R001's 3-FC head is fc.0/3/5
      {"resnet34", "resnet34", {"fc."}, {"fc.bias", "fc.weight"}},
      {"vgg11", "vgg11", {"classifier."}, {}},
      {"efficientnet-b0", "efficientnet_b0", {"classifier."}, {"classifier.1.bias", "classifier.1.weight"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.model);
    REQUIRE(manifest.contains(c.arch));
    std::map<std::string, std::pair<Shape, std::string>> tv;
    for (const auto& e : manifest.at(c.arch)) tv[e.at(0).get<std::string>()] = {e.at(1).get<Shape>(), e.at(2).get<std::string>()};
    const models::ModelSpec& spec = models::find_model(c.model);
    nn::ModulePtr model = spec.build({spec.default_classes, 1.0, ""});
    std::set<std::string> matched;
    int64_t backbone = 0;
    for (auto& r : nn::state_dict(*model)) {
      bool is_head = false;
      for (const auto& h : c.head) is_head = is_head || starts_with(r.name, h);
      auto it = tv.find(r.name);
      const bool match = it != tv.end() && it->second.first == r.tensor.shape();
      if (is_head) continue;
      ++backbone;
      CHECK_MESSAGE(match, r.name << " " << describe(r.tensor) << " has no torchvision tensor of that name and shape");
      if (match) {
        matched.insert(r.name);
        const bool integer = it->second.second == "int64";
        CHECK_MESSAGE(integer == (r.tensor.dtype() == DType::i64), r.name);
      }
    }
    CHECK(backbone > 0);
    std::vector<std::string> left;
    for (const auto& [name, unused] : tv)
      if (!matched.count(name)) left.push_back(name);
    // torchvision's classifier may still load where our head has the same name and shape; the
    // listed ones must not be what a backbone tensor needed
    for (const auto& name : left) {
      bool expected = false;
      for (const auto& u : c.unused) expected = expected || name == u;
      for (const auto& h : c.head) expected = expected || starts_with(name, h);
      CHECK_MESSAGE(expected, c.arch << "'s " << name << " reaches no tensor of " << c.model);
    }
  }
}

TEST_CASE("rmn's ResNet34 backbone has torchvision resnet34's names (R000 starts from its ImageNet weights)") {
  // at width 0.25 (the full model has 138 M parameters): the names, not the shapes; the shapes at
  // width 1 are resnet34's, checked above on the same backbone code
  std::ifstream in(fs::path(FER_SOURCE_DIR) / "tests" / "fixtures" / "torchvision_state_dicts.json");
  REQUIRE(in.good());
  const nlohmann::json manifest = nlohmann::json::parse(in);
  std::set<std::string> tv;
  for (const auto& e : manifest.at("resnet34")) tv.insert(e.at(0).get<std::string>());
  nn::ModulePtr model = models::build_model("rmn", {7, 0.25, ""});
  std::set<std::string> backbone;
  for (auto& r : nn::state_dict(*model))
    if (!starts_with(r.name, "mask") && !starts_with(r.name, "fc.")) backbone.insert(r.name);
  for (const auto& name : backbone) CHECK_MESSAGE(tv.count(name) == 1, name);
  CHECK(backbone.size() + 2 == tv.size());  // all of torchvision's but fc.weight, fc.bias
}
