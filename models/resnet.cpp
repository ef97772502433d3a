// models/resnet.cpp: torchvision ResNet18/34, Keras-v1 ResNet50, and the heads of R001/R002 and the
// RMN pipeline (MODELS.md 1.1, 3.3, 4.3). See resnet.h.
#include "models/resnet.h"

#include <cmath>
#include <string>

#include "models/rmn.h"
#include "nn/init.h"

namespace fer::models {

namespace {

int64_t scaled(int64_t c, double width) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * width))); }

std::shared_ptr<nn::Sequential> projection(int64_t cin, int64_t cout, int64_t stride, bool bias, double eps,
                                           double momentum) {
  auto s = std::make_shared<nn::Sequential>();
  s->add(std::make_shared<nn::Conv2d>(cin, cout, 1, stride, 0, bias));
  s->add(std::make_shared<nn::BatchNorm2d>(cout, eps, momentum));
  return s;
}

// torchvision's ResNet init (conv: Kaiming-normal fan_out ReLU; BN: 1, 0) or Keras' (conv:
// Glorot-uniform kernel, zero bias; BN: 1, 0). The head is skipped here (the builders set it up:
// R002's Keras MLP head gets keras_init too).
void init_backbone(nn::Module& m, bool keras) {
  for (auto& [name, mod] : m.named_modules()) {
    if (name == "fc" || name.rfind("fc.", 0) == 0) continue;
    if (auto* conv = dynamic_cast<nn::Conv2d*>(mod)) {
      if (keras) {
        nn::init::keras_default(conv->weight, conv->bias);
      } else {
        nn::init::kaiming_normal(conv->weight, 0.0, nn::init::FanMode::fan_out);
      }
    }
  }
}

}  // namespace

// ---- blocks -------------------------------------------------------------------------------------------

BasicBlock::BasicBlock(int64_t cin, int64_t cout, int64_t stride, bool bias, double eps, double momentum) {
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(cin, cout, 3, stride, 1, bias));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(cout, eps, momentum));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(cout, cout, 3, 1, 1, bias));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(cout, eps, momentum));
  if (stride != 1 || cin != cout)
    downsample = register_module("downsample", projection(cin, cout, stride, bias, eps, momentum));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = nn::batchnorm_act(*bn1, (*conv1)(x), Activation::relu);
  h = (*bn2)((*conv2)(h));
  return ops::add_act(h, downsample ? (*downsample)(x) : x, Activation::relu);
}

Bottleneck::Bottleneck(int64_t cin, int64_t planes, int64_t stride, bool stride_on_1x1, bool bias, double eps,
                       double momentum) {
  const int64_t cout = planes * expansion;
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(cin, planes, 1, stride_on_1x1 ? stride : 1, 0, bias));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes, eps, momentum));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(planes, planes, 3, stride_on_1x1 ? 1 : stride, 1, bias));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes, eps, momentum));
  conv3 = register_module("conv3", std::make_shared<nn::Conv2d>(planes, cout, 1, 1, 0, bias));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(cout, eps, momentum));
  if (stride != 1 || cin != cout)
    downsample = register_module("downsample", projection(cin, cout, stride, bias, eps, momentum));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor h = nn::batchnorm_act(*bn1, (*conv1)(x), Activation::relu);
  h = nn::batchnorm_act(*bn2, (*conv2)(h), Activation::relu);
  h = (*bn3)((*conv3)(h));
  return ops::add_act(h, downsample ? (*downsample)(x) : x, Activation::relu);
}

// ---- the network --------------------------------------------------------------------------------------

ResNet::ResNet(const ResNetLayout& L) {
  const bool bias = L.keras_v1;
  const double eps = L.keras_v1 ? 1.001e-5 : 1e-5;
  const double momentum = L.keras_v1 ? 0.01 : 0.1;
  const int64_t stem = scaled(64, L.width);
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3, stem, 7, 2, 3, bias));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(stem, eps, momentum));
  maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(3, 2, 1));
  int64_t cin = stem;
  for (int s = 0; s < 4; ++s) {
    const int64_t planes = scaled(int64_t{64} << s, L.width);
    auto layer = std::make_shared<nn::Sequential>();
    for (int b = 0; b < L.blocks[static_cast<size_t>(s)]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      if (L.bottleneck) {
        layer->add(std::make_shared<Bottleneck>(cin, planes, stride, L.keras_v1, bias, eps, momentum));
        cin = planes * Bottleneck::expansion;
      } else {
        layer->add(std::make_shared<BasicBlock>(cin, planes, stride, bias, eps, momentum));
        cin = planes;
      }
    }
    layers[static_cast<size_t>(s)] = register_module("layer" + std::to_string(s + 1), layer);
    stage_channels_[static_cast<size_t>(s)] = cin;
  }
  init_backbone(*this, L.keras_v1);
}

void ResNet::set_head(nn::ModulePtr head, bool gap) {
  FER_CHECK(!fc, "ResNet::set_head: the head is already installed");
  fc = register_module("fc", std::move(head));
  gap_ = gap;
}

Tensor ResNet::forward(const Tensor& x) {
  FER_CHECK(fc, "ResNet: no head installed (call set_head)");
  Tensor h = (*maxpool)(nn::batchnorm_act(*bn1, (*conv1)(x), Activation::relu));
  for (int s = 0; s < 4; ++s) h = after_stage(s, (*layers[static_cast<size_t>(s)])(h));
  h = gap_ ? ops::global_avg_pool(h) : h.flatten(1);
  return (*fc)(h);
}

void set_backbone_trainable(nn::Module& model, bool on) {
  for (auto& [name, child] : model.children())
    if (name != "fc") child->set_trainable(on);
}

// ---- registry builders ----------------------------------------------------------------------------------

nn::ModulePtr build_resnet18_r001(const ModelConfig& cfg) {
  // R001 (MODELS.md 3.3): no GAP; the 2x2x512 map of a 48x48 input flattens to 2048, then VGG11's head.
  auto m = std::make_shared<ResNet>(ResNetLayout{{2, 2, 2, 2}, false, false, cfg.width});
  const int64_t flat = m->stage_channels(3) * 2 * 2;
  auto fc = std::make_shared<nn::Sequential>();
  fc->add(std::make_shared<nn::Linear>(flat, scaled(1024, cfg.width)));
  fc->add(std::make_shared<nn::Act>(Activation::relu));
  fc->add(std::make_shared<nn::Dropout>(0.3));
  fc->add(std::make_shared<nn::Linear>(scaled(1024, cfg.width), scaled(512, cfg.width)));
  fc->add(std::make_shared<nn::Act>(Activation::relu));
  fc->add(std::make_shared<nn::Linear>(scaled(512, cfg.width), cfg.num_classes));
  m->set_head(fc, false);
  return m;
}

nn::ModulePtr build_resnet34(const ModelConfig& cfg) {
  auto m = std::make_shared<ResNet>(ResNetLayout{{3, 4, 6, 3}, false, false, cfg.width});
  m->set_head(std::make_shared<nn::Linear>(m->stage_channels(3), cfg.num_classes), true);
  return m;
}

nn::ModulePtr build_resnet50_r002(const ModelConfig& cfg) {
  // R002 (MODELS.md 4.3): Keras ResNet50 v1 body, GAP, 3-layer MLP head 256-128-K.
  auto m = std::make_shared<ResNet>(ResNetLayout{{3, 4, 6, 3}, true, true, cfg.width});
  const int64_t h1 = scaled(256, cfg.width), h2 = scaled(128, cfg.width);
  auto fc = std::make_shared<nn::Sequential>();
  fc->add(std::make_shared<nn::Linear>(m->stage_channels(3), h1));
  fc->add(std::make_shared<nn::Act>(Activation::relu));
  fc->add(std::make_shared<nn::Dropout>(0.5));
  fc->add(std::make_shared<nn::Linear>(h1, h2));
  fc->add(std::make_shared<nn::Act>(Activation::relu));
  fc->add(std::make_shared<nn::Dropout>(0.5));
  fc->add(std::make_shared<nn::Linear>(h2, cfg.num_classes));
  nn::init::keras_init(*fc);  // Keras Dense layers: Glorot-uniform kernel, zero bias
  m->set_head(fc, true);
  return m;
}

}  // namespace fer::models

namespace fer::models {

void append_resnet_models(std::vector<ModelSpec>& v) {
  // Parameter and MAC counts: MODELS.md 1.3, 3.3, 4.3 and 7 (checked digit for digit against the
  // PyTorch twins in tools/fixtures_resnet.py).
  v.push_back({"resnet18", "R001", "torchvision ResNet18 body (transfer), flatten 2x2x512, FC 1024-512-K head", 3, 48, 7,
               "r001-resnet18", 13803079, 100580864, build_resnet18_r001});
  v.push_back({"resnet34", "R000 (reference)", "torchvision ResNet34 alone on the RMN pipeline, GAP, FC 512-K", 3, 224,
               7, "r000-rmn", 21288263, 3663252992, build_resnet34});
  v.push_back({"resnet50", "R002", "Keras ResNet50 v1 body (transfer), GAP, MLP 256-128-K head", 3, 48, 6,
               "r002-resnet50", 24092806, 203764480, build_resnet50_r002});
  v.push_back({"rmn", "R000", "Residual Masking Network (resmasking_dropout1): ResNet34 + masking blocks 4/3/2/1", 3,
               224, 7, "r000-rmn", 137796423, 21903232512, build_rmn});
}

}  // namespace fer::models
