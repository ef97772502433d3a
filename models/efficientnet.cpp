// models/efficientnet.cpp: EfficientNet-B0 with R002's 3-layer MLP head (MODELS.md 4.3 and 4.4).
//
// torchvision's layout and state-dict names (features.0 ... features.8, MBConv as `block` +
// `stochastic_depth`, squeeze-excitation fc1/fc2 as 1x1 convs), symmetric k//2 padding and
// PyTorch BatchNorm settings (eps 1e-5, momentum 0.1):
//   features.0    conv3 s2 3->32 BN SiLU                                      32x24x24
//   features.1-7  MBConv stages (expand e, kernel k, stride s, cin->cout, repeats):
//                 (1,3,1,32->16,1) (6,3,2,16->24,2) (6,5,2,24->40,2) (6,3,2,40->80,3)
//                 (6,5,1,80->112,3) (6,5,2,112->192,4) (6,3,1,192->320,1)          320x2x2
//   features.8    conv1x1 320->1280 BN SiLU -> GAP                            1280
//   classifier    Linear(1280,256) ReLU Dropout(0.5) Linear(256,128) ReLU Dropout(0.5) Linear(128,K)
// MBConv: [expand 1x1 BN SiLU] -> depthwise kxk stride s BN SiLU -> SE (GAP, fc1 1x1 -> c_se, SiLU,
// fc2 1x1 -> e*cin, sigmoid, channel-wise scale; c_se = max(1, cin/4)) -> project 1x1 BN; when
// s = 1 and cin = cout: drop-path with rate 0.2 i/16 (block i = 0..15), then the residual add.
// 4,369,154 parameters (body 4,007,548) and 23.1 M MACs at 48x48x3 with 6 classes. `width` scales
// every channel count and the head widths (not the block table), for reduced golden fixtures.
// The body keeps torchvision's layout, init and BN settings because the transfer recipe loads
// torchvision's ImageNet weights into it; Keras' EfficientNetB0 (R002's model) uses BatchNormalization
// eps 1e-3 (and momentum 0.99, i.e. 0.01 in PyTorch's convention) instead. The R002 MLP head is new
// in either framework, so its Dense layers start as Keras' do: Glorot-uniform kernel, zero bias.
#include <cmath>

#include "models/efficientnet.h"
#include "nn/init.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

// Conv2d (no bias) -> BN [-> SiLU], torchvision's Conv2dNormActivation (children 0, 1, 2).
std::shared_ptr<nn::Sequential> conv_bn(int64_t in, int64_t out, int64_t k, int64_t s, int64_t groups, bool act) {
  auto seq = std::make_shared<nn::Sequential>();
  seq->add(std::make_shared<nn::Conv2d>(in, out, k, s, k / 2, false, groups));
  seq->add(std::make_shared<nn::BatchNorm2d>(out));
  if (act) seq->add(std::make_shared<nn::Act>(Activation::silu));
  return seq;
}

class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t squeeze) {
    fc1 = register_module("fc1", std::make_shared<nn::Conv2d>(channels, squeeze, 1, 1, 0, true));
    fc2 = register_module("fc2", std::make_shared<nn::Conv2d>(squeeze, channels, 1, 1, 0, true));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor s = ops::global_avg_pool(x).reshape({x.size(0), x.size(1), 1, 1});
    const Tensor scale = ops::sigmoid((*fc2)(ops::silu((*fc1)(s))));
    return ops::mul(x, scale);  // [N, C, H, W] * [N, C, 1, 1]
  }
  std::string type_name() const override { return "SqueezeExcitation"; }
  std::shared_ptr<nn::Conv2d> fc1, fc2;
};

class MBConv : public nn::Module {
 public:
  MBConv(int64_t expand, int64_t k, int64_t stride, int64_t cin, int64_t cout, double drop_rate)
      : use_residual(stride == 1 && cin == cout) {
    const int64_t hidden = cin * expand;
    block = register_module("block", std::make_shared<nn::Sequential>());
    if (expand != 1) block->add(conv_bn(cin, hidden, 1, 1, 1, true));
    block->add(conv_bn(hidden, hidden, k, stride, hidden, true));  // depthwise
    block->add(std::make_shared<SqueezeExcitation>(hidden, std::max<int64_t>(1, cin / 4)));
    block->add(conv_bn(hidden, cout, 1, 1, 1, false));
    stochastic_depth = register_module("stochastic_depth", std::make_shared<nn::DropPath>(drop_rate));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = (*block)(x);
    if (use_residual) y = ops::add((*stochastic_depth)(y), x);
    return y;
  }
  std::string type_name() const override { return "MBConv"; }
  bool use_residual;
  std::shared_ptr<nn::Sequential> block;
  std::shared_ptr<nn::DropPath> stochastic_depth;
};

struct StageSpec {
  int64_t expand, kernel, stride, cin, cout, repeats;
};
constexpr StageSpec kB0[7] = {{1, 3, 1, 32, 16, 1},   {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},
                              {6, 3, 2, 40, 80, 3},   {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4},
                              {6, 3, 1, 192, 320, 1}};
constexpr double kStochasticDepth = 0.2;

class EfficientNetB0 : public nn::Module {
 public:
  explicit EfficientNetB0(const ModelConfig& cfg) {
    auto w = [&](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * cfg.width))); };
    int64_t total_blocks = 0;
    for (const auto& s : kB0) total_blocks += s.repeats;
    features = register_module("features", std::make_shared<nn::Sequential>());
    features->add(conv_bn(3, w(32), 3, 2, 1, true));
    int64_t block_id = 0;
    for (const auto& s : kB0) {
      auto stage = std::make_shared<nn::Sequential>();
      for (int64_t r = 0; r < s.repeats; ++r) {
        const double rate = kStochasticDepth * static_cast<double>(block_id++) / static_cast<double>(total_blocks);
        stage->add(std::make_shared<MBConv>(s.expand, s.kernel, r == 0 ? s.stride : 1, r == 0 ? w(s.cin) : w(s.cout),
                                            w(s.cout), rate));
      }
      features->add(stage);
    }
    features->add(conv_bn(w(320), w(1280), 1, 1, 1, true));
    classifier = register_module("classifier", std::make_shared<nn::Sequential>());
    classifier->add(std::make_shared<nn::Linear>(w(1280), w(256)));
    classifier->add(std::make_shared<nn::Act>(Activation::relu));
    classifier->add(std::make_shared<nn::Dropout>(0.5));
    classifier->add(std::make_shared<nn::Linear>(w(256), w(128)));
    classifier->add(std::make_shared<nn::Act>(Activation::relu));
    classifier->add(std::make_shared<nn::Dropout>(0.5));
    classifier->add(std::make_shared<nn::Linear>(w(128), cfg.num_classes));
    nn::init::keras_init(*classifier);
  }

  Tensor forward(const Tensor& x) override {
    FER_CHECK(x.ndim() == 4 && x.size(1) == 3, "efficientnet-b0: expected [N, 3, H, W], got " << fer::describe(x)
                                                   << "; hint: replicate grey images to 3 channels");
    return (*classifier)(ops::global_avg_pool((*features)(x)));
  }
  std::string type_name() const override { return "EfficientNetB0"; }

  std::shared_ptr<nn::Sequential> features, classifier;
};

}  // namespace

nn::ModulePtr build_efficientnet_b0(const ModelConfig& config) { return std::make_shared<EfficientNetB0>(config); }

void append_efficientnet_models(std::vector<ModelSpec>& v) {
  v.push_back({"efficientnet-b0", "R002",
               "EfficientNet-B0 (torchvision layout, MBConv + SE + drop-path) with a 3-layer MLP head 256-128-K", 3, 48,
               6, "r002-efficientnet-b0", 4369154, 23112784, build_efficientnet_b0});
}

}  // namespace fer::models
