// models/resnet.h: the ResNet family (MODELS.md 1.1, 3.3, 4.3) and the hooks the Residual Masking
// Network (models/rmn.cpp) builds on.
//
//   resnet18   R001: torchvision ResNet18 body at 48x48x3, GAP dropped, flatten 2x2x512 = 2048 ->
//              fc: Linear 1024 ReLU Dropout(0.3) Linear 512 ReLU Linear K   (13,803,079 params)
//   resnet34   RMN pipeline reference: torchvision ResNet34 at 224x224x3, GAP -> fc Linear(512, K)
//   resnet50   R002: Keras ResNet50 v1 body (stride on the first 1x1 conv of a stage, conv biases,
//              BN eps 1.001e-5 / Keras momentum 0.99) at 48x48x3, GAP ->
//              fc: Linear 256 ReLU Dropout(0.5) Linear 128 ReLU Dropout(0.5) Linear K (6 classes)
//
// Parameter names are PyTorch's (torchvision): conv1, bn1, layer1.0.conv1, layer1.0.bn1, ...,
// layer2.0.downsample.0 (1x1 conv) / .1 (BN), fc (a Linear or a Sequential "fc.0", "fc.3", ...).
// `width` scales every channel count and hidden width (reduced-width golden fixtures).
// Transfer learning: set_backbone_trainable(model, false) freezes everything but the head `fc`.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "models/registry.h"
#include "nn/layers.h"

namespace fer::models {

void append_resnet_models(std::vector<ModelSpec>& v);

struct ResNetLayout {
  std::array<int, 4> blocks = {2, 2, 2, 2};
  bool bottleneck = false;
  // Keras ResNet50 v1: stride on the first 1x1 conv of a bottleneck, every conv with a bias,
  // BN eps 1.001e-5 and momentum 0.99 (PyTorch momentum 0.01), Glorot-uniform kernels.
  bool keras_v1 = false;
  double width = 1.0;
};

// torchvision BasicBlock: conv3x3(s) BN ReLU conv3x3 BN (+ shortcut) ReLU. The shortcut is a
// 1x1 conv(s) + BN ("downsample.0", "downsample.1") when stride != 1 or cin != cout.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t cin, int64_t cout, int64_t stride, bool bias = false, double bn_eps = 1e-5,
             double bn_momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;  // nullptr: identity shortcut
};

// Bottleneck: conv1x1 BN ReLU conv3x3 BN ReLU conv1x1(x4) BN (+ shortcut) ReLU. The stride sits
// on the 3x3 conv (torchvision v1.5) or on the first 1x1 conv (Keras v1).
class Bottleneck : public nn::Module {
 public:
  Bottleneck(int64_t cin, int64_t planes, int64_t stride, bool stride_on_1x1, bool bias, double bn_eps,
             double bn_momentum);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }
  static constexpr int64_t expansion = 4;
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Sequential> downsample;
};

// Stem (conv1 k7 s2 p3, bn1, ReLU, maxpool k3 s2 p1), layer1..layer4, then the head:
// optional global average pool (else flatten) -> fc. after_stage(i, x) runs after layer i+1;
// subclasses (the RMN) override it to refine the features.
class ResNet : public nn::Module {
 public:
  explicit ResNet(const ResNetLayout& layout);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }
  // Output channels of stage i (0..3).
  int64_t stage_channels(int i) const { return stage_channels_[static_cast<size_t>(i)]; }
  // Installs the head (registered as "fc"); gap=false flattens the last feature map instead.
  void set_head(nn::ModulePtr fc, bool gap);

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> maxpool;
  std::array<std::shared_ptr<nn::Sequential>, 4> layers;
  nn::ModulePtr fc;

 protected:
  virtual Tensor after_stage(int /*stage*/, const Tensor& x) { return x; }

 private:
  std::array<int64_t, 4> stage_channels_{};
  bool gap_ = true;
};

// Freezes (false) or unfreezes every parameter outside the head `fc` (Module::set_trainable on
// each child but fc). Works for every model in this file and for the RMN.
void set_backbone_trainable(nn::Module& model, bool on);

// Registry builders (config.width scales channels; config.variant unused).
nn::ModulePtr build_resnet18_r001(const ModelConfig& config);
nn::ModulePtr build_resnet34(const ModelConfig& config);
nn::ModulePtr build_resnet50_r002(const ModelConfig& config);

}  // namespace fer::models
