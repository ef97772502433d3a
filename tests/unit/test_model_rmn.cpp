// Residual Masking Network (MODELS.md 1.1-1.3): the exact size and cost of resmasking_dropout1 at
// 224x224x3 (137,796,423 params, 21.903 G MACs; one full-size forward, a few seconds on the CPU),
// the head and mask variants, the reference initialisation inside the masks, PyTorch state-dict
// names, and golden comparisons with PyTorch on a reduced-width twin
// (tests/fixtures/rmn.safetensors: width 0.024 -> stages 2/3/6/12 channels, 64x64 input, which keeps
// every mask's pool/up-sample shapes valid; tools/fixtures_resnet.py).
#include <doctest/doctest.h>

#include <set>

#include "models/resnet.h"
#include "models/rmn.h"
#include "test_model_golden.h"

using namespace fer;

namespace {

const models::ModelConfig kFixtureConfig{7, 0.024, ""};

}  // namespace

TEST_CASE("rmn: 137,796,423 params and 21.903 G MACs at 224x224x3 (resmasking_dropout1)") {
  const models::ModelSpec& spec = models::find_model("rmn");
  CHECK(spec.input_channels == 3);
  CHECK(spec.input_size == 224);
  CHECK(spec.default_recipe == "r000-rmn");
  nn::ModulePtr m = models::build_model("rmn");
  CHECK(m->parameter_count() == 137796423);
  CHECK(spec.expected_params == 137796423);
  // MODELS.md 1.3 per part
  auto count = [&](const char* child) { return m->find(child)->parameter_count(); };
  CHECK(count("mask1") == 32366080);
  CHECK(count("mask2") == 31885312);
  CHECK(count("mask3") == 29965312);
  CHECK(count("mask4") == 22291456);
  CHECK(models::count_forward_macs(*m, 3, 224) == spec.expected_macs);
  CHECK(spec.expected_macs == 21903232512);
  const std::set<std::string> names = [&] {
    std::set<std::string> s;
    for (auto& [name, p] : m->named_parameters()) s.insert(name);
    return s;
  }();
  for (const char* n : {"conv1.weight", "layer3.5.conv2.weight", "fc.1.weight", "fc.1.bias",
                        "mask1.conv1.downsample.0.weight", "mask1.conv4.conv2.weight", "mask1.up_pool5.0.weight",
                        "mask1.up_pool5.0.bias", "mask1.up_pool7.1.weight", "mask1.conv8.bn2.weight",
                        "mask2.up_pool4.0.weight", "mask2.conv6.conv1.weight", "mask3.up_pool3.0.bias",
                        "mask3.conv4.downsample.1.weight", "mask4.conv1.conv1.weight", "mask4.conv2.downsample.0.weight"})
    CHECK_MESSAGE(names.count(n) == 1, n);
  CHECK(names.count("mask4.up_pool2.0.weight") == 0);  // depth 1: no decoder
  // reference init: every BasicBlock inside a mask starts with bn2 = 0; the backbone does not
  for (auto& [name, p] : m->named_parameters()) {
    if (name.rfind("mask", 0) == 0 && name.size() > 10 && name.compare(name.size() - 11, 11, ".bn2.weight") == 0)
      CHECK_MESSAGE(ops::sum(ops::mul(p, p)).item() == 0.0, name);
  }
  CHECK(ops::sum(ops::mul(m->find("layer1.0.bn2")->named_parameters()[0].second,
                          m->find("layer1.0.bn2")->named_parameters()[0].second))
            .item() > 0.0);
}

TEST_CASE("rmn: head variants (plain, dropout2), mask variant sigmoid, and bad variants") {
  // The heads differ only in fc (checked at reduced width; a full-size build takes seconds):
  // resmasking = dropout1 = 137,796,423; dropout2 = 137,796,423 - (512*7+7) + (512*128+128) + (128*7+7).
  const int64_t base = models::build_model("rmn", kFixtureConfig)->parameter_count();
  const int64_t c4 = 12, hidden = 3;  // stage-4 channels and lround(128 * 0.024) at width 0.024
  CHECK(models::build_model("rmn", {7, 0.024, "plain"})->parameter_count() == base);
  CHECK(models::build_model("rmn", {7, 0.024, "dropout2,sigmoid"})->parameter_count() ==
        base - (c4 * 7 + 7) + (c4 * hidden + hidden) + (hidden * 7 + 7));
  CHECK(137796423 - (512 * 7 + 7) + (512 * 128 + 128) + (128 * 7 + 7) == 137859399);  // tools/fixtures_resnet.py
  nn::ModulePtr plain = models::build_model("rmn", {7, 0.024, "plain"});
  CHECK(plain->find("fc") != nullptr);
  CHECK(dynamic_cast<nn::Linear*>(plain->find("fc")) != nullptr);
  nn::ModulePtr d2 = models::build_model("rmn", {7, 0.024, "dropout2"});
  CHECK(dynamic_cast<nn::Linear*>(d2->find("fc.0")) != nullptr);
  CHECK(dynamic_cast<nn::Dropout*>(d2->find("fc.2")) != nullptr);
  CHECK(dynamic_cast<nn::Linear*>(d2->find("fc.3")) != nullptr);
  CHECK_THROWS_AS(models::build_model("rmn", {7, 1.0, "tanh"}), fer::Error);
  CHECK_THROWS_AS(models::build_masking_block(8, 5), fer::Error);
}

TEST_CASE("rmn: output shape; an input whose stage maps do not halve evenly is a clear error") {
  nn::ModulePtr m = models::build_model("rmn", kFixtureConfig);
  m->eval();
  CHECK((*m)(Tensor::zeros({2, 3, 64, 64})).shape() == Shape{2, 7});
  CHECK_THROWS_AS((*m)(Tensor::zeros({1, 3, 48, 48})), fer::Error);  // mask1 sees 12x12: 12 -> 6 -> 3 -> 1
}

TEST_CASE("rmn: the sigmoid variant computes x * (1 + sigmoid(z)) after every stage") {
  const auto f = nn::safetensors::File::load(golden::fixture_path("rmn.safetensors"));
  nn::ModulePtr soft = golden::model_with_fixture_weights("rmn", kFixtureConfig, f);
  nn::ModulePtr sig = golden::model_with_fixture_weights("rmn", {7, 0.024, "sigmoid"}, f);
  soft->eval();
  sig->eval();
  const Tensor x = f.at("input");
  // the same network by hand, with the sigmoid mask composed from elementwise ops
  auto& net = *sig;
  Tensor h = (*net.find("maxpool"))(ops::relu((*net.find("bn1"))((*net.find("conv1"))(x))));
  for (int s = 1; s <= 4; ++s) {
    h = (*net.find("layer" + std::to_string(s)))(h);
    const Tensor z = (*net.find("mask" + std::to_string(s)))(h);
    h = ops::mul(h, ops::add_scalar(ops::sigmoid(z), 1.0));
  }
  const Tensor want = (*net.find("fc"))(ops::global_avg_pool(h));
  const Tensor got = net(x);
  golden::check_close("sigmoid-variant logits", got, want, 1e-6, 1e-5);
  // and it is a different model from the softmax one
  const auto a = got.to_vector<float>(), b = (*soft)(x).to_vector<float>();
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
  CHECK(diff > 1e-4);
}

TEST_CASE("rmn: logits, loss, gradients and BN statistics equal PyTorch's") {
  golden::check_forward_backward_f64("rmn", kFixtureConfig, "rmn.safetensors");
}

TEST_CASE("rmn: 10 SGD steps follow PyTorch's loss curve") {
  golden::check_sgd_curve("rmn", kFixtureConfig, "rmn.safetensors", true, 1e-4, 3);
}
