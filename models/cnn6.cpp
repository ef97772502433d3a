// models/cnn6.cpp: R001's custom six-convolution CNN (MODELS.md section 3.1).
//
//   input 1x48x48
//   c1 conv3 p0 1->16   BN ReLU                      16x46x46
//   c2 conv3 p0 16->32  BN ReLU maxpool2 dropout0.2  32x22x22
//   c3 conv3 p0 32->64  BN ReLU                      64x20x20
//   c4 conv3 p0 64->128 BN ReLU maxpool2 dropout0.2  128x9x9
//   c5 conv3 p0 128->256 BN ReLU                     256x7x7
//   c6 conv3 p0 256->256 BN ReLU maxpool2 dropout0.2 256x2x2 (floor 5->2)
//   flatten 1024 -> fc1 512 ReLU dropout0.5 -> fc2 K
// 1,512,295 parameters and 70.2 M MACs at width 1 with 7 classes. `width` scales every hidden width
// (used for small golden fixtures); the layer structure is unchanged.
#include <cmath>

#include "models/small_cnns.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

class Cnn6 : public nn::Module {
 public:
  explicit Cnn6(const ModelConfig& cfg) {
    auto w = [&](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * cfg.width))); };
    const int64_t widths[6] = {w(16), w(32), w(64), w(128), w(256), w(256)};
    int64_t in = 1;
    for (int i = 0; i < 6; ++i) {
      const std::string k = std::to_string(i + 1);
      conv[i] = register_module("conv" + k, std::make_shared<nn::Conv2d>(in, widths[i], 3, 1, 0, true));
      bn[i] = register_module("bn" + k, std::make_shared<nn::BatchNorm2d>(widths[i]));
      in = widths[i];
    }
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2, 2));
    drop_conv = register_module("drop_conv", std::make_shared<nn::Dropout>(0.2));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(widths[5] * 2 * 2, w(512)));
    drop_fc = register_module("drop_fc", std::make_shared<nn::Dropout>(0.5));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(w(512), cfg.num_classes));
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (int i = 0; i < 6; ++i) {
      h = nn::batchnorm_act(*bn[i], (*conv[i])(h), Activation::relu);
      if (i % 2 == 1) h = (*drop_conv)((*pool)(h));  // after conv2, conv4, conv6
    }
    h = (*drop_fc)(ops::relu((*fc1)(h.flatten(1))));
    return (*fc2)(h);
  }
  std::string type_name() const override { return "CNN6"; }

  std::shared_ptr<nn::Conv2d> conv[6];
  std::shared_ptr<nn::BatchNorm2d> bn[6];
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Dropout> drop_conv, drop_fc;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

}  // namespace

nn::ModulePtr build_cnn6(const ModelConfig& config) { return std::make_shared<Cnn6>(config); }

}  // namespace fer::models
