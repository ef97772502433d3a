// models/shallow.cpp: R002's custom shallow CNN (MODELS.md section 4.1).
//
//   input 1x48x48
//   conv1 3x3 p1 1->32  BN ReLU; conv2 32->32 BN ReLU; maxpool2; dropout 0.25     32x24x24
//   conv3 3x3 p1 32->64 BN ReLU; conv4 64->64 BN ReLU; maxpool2; dropout 0.25     64x12x12
//   flatten 9216 -> fc1 256 -> ReLU -> dropout 0.5 -> fc2 K (6 in R002)
// 2,426,470 parameters and 56,108,544 MACs at width 1 with 6 classes. BN comes before ReLU here;
// MODELS.md notes that Keras code often puts it after, with the same primitives. `width` scales every
// hidden width (used for small golden fixtures).
// R002 is a Keras model, so it uses Keras' settings (MODELS.md 4 and 8.1 item 3): BatchNormalization
// eps 1e-3 and momentum 0.99 (Keras' convention; 0.01 in PyTorch's, which nn::BatchNorm2d takes), and
// Keras' initialisation: Glorot-uniform Conv2D/Dense kernels, zero biases, BN gamma 1 and beta 0.
#include <cmath>

#include "models/small_cnns.h"
#include "nn/init.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

class Shallow : public nn::Module {
 public:
  explicit Shallow(const ModelConfig& cfg) {
    auto w = [&](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * cfg.width))); };
    const int64_t widths[4] = {w(32), w(32), w(64), w(64)};
    int64_t in = 1;
    for (int i = 0; i < 4; ++i) {
      const std::string k = std::to_string(i + 1);
      conv[i] = register_module("conv" + k, std::make_shared<nn::Conv2d>(in, widths[i], 3, 1, 1, true));
      bn[i] = register_module("bn" + k, std::make_shared<nn::BatchNorm2d>(widths[i], kKerasBnEps, kKerasBnMomentum));
      in = widths[i];
    }
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2, 2));
    drop_conv = register_module("drop_conv", std::make_shared<nn::Dropout>(0.25));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(widths[3] * 12 * 12, w(256)));
    drop_fc = register_module("drop_fc", std::make_shared<nn::Dropout>(0.5));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(w(256), cfg.num_classes));
    nn::init::keras_init(*this);
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (int i = 0; i < 4; ++i) {
      h = nn::batchnorm_act(*bn[i], (*conv[i])(h), Activation::relu);
      if (i % 2 == 1) h = (*drop_conv)((*pool)(h));  // after conv2 and conv4
    }
    h = (*drop_fc)(ops::relu((*fc1)(h.flatten(1))));
    return (*fc2)(h);
  }
  std::string type_name() const override { return "ShallowCNN"; }

  std::shared_ptr<nn::Conv2d> conv[4];
  std::shared_ptr<nn::BatchNorm2d> bn[4];
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Dropout> drop_conv, drop_fc;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

}  // namespace

nn::ModulePtr build_shallow(const ModelConfig& config) { return std::make_shared<Shallow>(config); }

}  // namespace fer::models
