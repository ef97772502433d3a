// models/unet.cpp: R003's attention U-Net classifier (MODELS.md section 5.1).
//
//   input 1x48x48, base width b = 32 (scaled by `width`)
//   enc1 DoubleConv(1->b)                                        b  x48x48
//   enc2 maxpool2, DoubleConv(b->2b)                             2b x24x24
//   enc3 maxpool2, DoubleConv(2b->4b)                            4b x12x12
//   enc4 maxpool2, DoubleConv(4b->8b)                            8b x6x6
//   bottleneck maxpool2, DoubleConv(8b->16b)                     16b x3x3
//   dec4 u = up4(16b->8b); x = att4(g=u, x=enc4); DoubleConv(cat[x, u] 16b->8b)   8b x6x6
//   dec3 ... 8b->4b with enc3                                    4b x12x12
//   dec2 ... 4b->2b with enc2                                    2b x24x24
//   dec1 ... 2b->b with enc1                                     b  x48x48
//   head cat[GAP(bottleneck), GAP(dec1)] -> fc1 128 ReLU dropout0.5 -> fc2 K
//
// DoubleConv = [conv3 p1 (no bias) BN ReLU] x 2; Up = ConvTranspose2d k2 s2 (no bias) BN ReLU;
// the attention gate (RMN's runet Attention_block layout: W_g, W_x, psi as conv1x1+BN sequences)
// computes alpha = sigmoid(BN(psi(ReLU(BN(W_g g) + BN(W_x x))))) [N,1,H,W] and returns x * alpha.
// 7,922,307 parameters and 432.6 M MACs at width 1 with 7 classes.
#include <cmath>

#include "models/r003.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

class DoubleConv : public nn::Module {
 public:
  DoubleConv(int64_t in, int64_t out) {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, false));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(out, out, 3, 1, 1, false));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = nn::batchnorm_act(*bn1, (*conv1)(x), Activation::relu);
    return nn::batchnorm_act(*bn2, (*conv2)(h), Activation::relu);
  }
  std::string type_name() const override { return "DoubleConv"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
};

class Up : public nn::Module {
 public:
  Up(int64_t in, int64_t out) {
    up = register_module("up", std::make_shared<nn::ConvTranspose2d>(in, out, 2, 2, 0, false));
    bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(out));
  }
  Tensor forward(const Tensor& x) override { return nn::batchnorm_act(*bn, (*up)(x), Activation::relu); }
  std::string type_name() const override { return "Up"; }
  std::shared_ptr<nn::ConvTranspose2d> up;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

std::shared_ptr<nn::Sequential> conv1x1_bn(int64_t in, int64_t out) {
  auto s = std::make_shared<nn::Sequential>();
  s->add(std::make_shared<nn::Conv2d>(in, out, 1, 1, 0, true));
  s->add(std::make_shared<nn::BatchNorm2d>(out));
  return s;
}

// Additive attention gate with the gating signal at the skip's resolution.
class AttentionGate : public nn::Module {
 public:
  AttentionGate(int64_t channels, int64_t inter) {
    W_g = register_module("W_g", conv1x1_bn(channels, inter));
    W_x = register_module("W_x", conv1x1_bn(channels, inter));
    psi = register_module("psi", conv1x1_bn(inter, 1));
  }
  Tensor forward(const Tensor&) override { FER_FAIL("AttentionGate: call gate(g, x), not forward(x)"); }
  Tensor gate(const Tensor& g, const Tensor& x) {
    const Tensor a = ops::add_act((*W_g)(g), (*W_x)(x), Activation::relu);
    const Tensor alpha = ops::sigmoid((*psi)(a));  // [N, 1, H, W], broadcast over channels
    return ops::mul(x, alpha);
  }
  std::string type_name() const override { return "AttentionGate"; }
  std::shared_ptr<nn::Sequential> W_g, W_x, psi;
};

class AttentionUNet : public nn::Module {
 public:
  explicit AttentionUNet(const ModelConfig& cfg) {
    auto w = [&](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * cfg.width))); };
    const int64_t c1 = w(32), c2 = w(64), c3 = w(128), c4 = w(256), c5 = w(512);
    enc1 = register_module("enc1", std::make_shared<DoubleConv>(1, c1));
    enc2 = register_module("enc2", std::make_shared<DoubleConv>(c1, c2));
    enc3 = register_module("enc3", std::make_shared<DoubleConv>(c2, c3));
    enc4 = register_module("enc4", std::make_shared<DoubleConv>(c3, c4));
    bottleneck = register_module("bottleneck", std::make_shared<DoubleConv>(c4, c5));
    const int64_t below[4] = {c5, c4, c3, c2}, at[4] = {c4, c3, c2, c1};
    for (int i = 0; i < 4; ++i) {
      const std::string k = std::to_string(4 - i);
      up[i] = register_module("up" + k, std::make_shared<Up>(below[i], at[i]));
      att[i] = register_module("att" + k, std::make_shared<AttentionGate>(at[i], std::max<int64_t>(1, at[i] / 2)));
      dec[i] = register_module("dec" + k, std::make_shared<DoubleConv>(2 * at[i], at[i]));
    }
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2, 2));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(c5 + c1, w(128)));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.5));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(w(128), cfg.num_classes));
  }

  Tensor forward(const Tensor& x) override {
    FER_CHECK(x.ndim() == 4 && x.size(2) % 16 == 0 && x.size(3) % 16 == 0,
              "unet: expected [N, 1, H, W] with H and W multiples of 16 (four 2x poolings undone by four 2x "
              "up-samplings), got " << fer::describe(x) << "; hint: the model is specified for 48x48 inputs");
    const Tensor e1 = (*enc1)(x);
    const Tensor e2 = (*enc2)((*pool)(e1));
    const Tensor e3 = (*enc3)((*pool)(e2));
    const Tensor e4 = (*enc4)((*pool)(e3));
    const Tensor b = (*bottleneck)((*pool)(e4));
    const Tensor skips[4] = {e4, e3, e2, e1};
    Tensor d = b;
    for (int i = 0; i < 4; ++i) {
      const Tensor u = (*up[i])(d);
      const Tensor gated = att[i]->gate(u, skips[i]);
      d = (*dec[i])(ops::concat({gated, u}, 1));
    }
    const Tensor feat = ops::concat({ops::global_avg_pool(b), ops::global_avg_pool(d)}, 1);
    return (*fc2)((*drop)(ops::relu((*fc1)(feat))));
  }
  std::string type_name() const override { return "AttentionUNet"; }

  std::shared_ptr<DoubleConv> enc1, enc2, enc3, enc4, bottleneck, dec[4];
  std::shared_ptr<Up> up[4];
  std::shared_ptr<AttentionGate> att[4];
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Dropout> drop;
};

}  // namespace

nn::ModulePtr build_unet(const ModelConfig& config) { return std::make_shared<AttentionUNet>(config); }

void append_r003_models(std::vector<ModelSpec>& v) {
  v.push_back({"unet", "R003",
               "attention U-Net classifier: 4-level encoder-decoder (base width 32), additive attention gates on the "
               "skips, transposed-conv up-sampling, head on GAP(bottleneck) + GAP(decoder)",
               1, 48, 7, "r003-unet", 7922307, 432554368, build_unet});
  v.push_back({"autoencoder", "R003",
               "convolutional autoencoder for outlier detection (output: the reconstruction, trained with MSE; "
               "no classes)",
               1, 48, 0, "r003-autoencoder", 135937, 25767936, build_autoencoder});
  v.push_back({"vit", "R003", "small ViT: patch 4, width 192, depth 6, 3 heads, class token, pre-norm blocks", 1, 48, 7,
               "r003-vit", 2702215, 433745472, build_vit});
}

}  // namespace fer::models
