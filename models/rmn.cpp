// models/rmn.cpp: the Residual Masking Network (MODELS.md 1.1-1.3). See rmn.h.
#include "models/rmn.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "models/resnet.h"
#include "nn/init.h"

namespace fer::models {

namespace {

// The U-Net-like mask branch; forward returns the mask logits z (the last block's ReLU'd output).
class MaskingBlock : public nn::Module {
 public:
  MaskingBlock(int64_t c, int depth) : depth_(depth) {
    FER_CHECK(depth >= 1 && depth <= 4, "MaskingBlock: depth must be 1..4, got " << depth);
    auto bb = [](int64_t cin, int64_t cout) { return std::make_shared<BasicBlock>(cin, cout, 1); };
    for (int k = 1; k <= depth; ++k)  // encoder: C*2^(k-1) -> C*2^k
      enc_.push_back(register_module("conv" + std::to_string(k), bb(c << (k - 1), c << k)));
    pool_ = register_module("down_pooling", std::make_shared<nn::MaxPool2d>(2, 2));
    for (int k = 1; k < depth; ++k) {  // decoder: C*2^(d-k+1) -> C*2^(d-k)
      const int64_t hi = c << (depth - k + 1), lo = c << (depth - k);
      auto up = std::make_shared<nn::Sequential>();
      up->add(std::make_shared<nn::ConvTranspose2d>(hi, lo, 2, 2, 0, true));
      up->add(std::make_shared<nn::BatchNorm2d>(lo));
      up->add(std::make_shared<nn::Act>(Activation::relu));
      up_.push_back(register_module("up_pool" + std::to_string(depth + k), up));
      dec_.push_back(register_module("conv" + std::to_string(depth + k), bb(hi, lo)));
    }
    out_ = register_module("conv" + std::to_string(2 * depth), bb(2 * c, c));
    // Reference init: convs Kaiming-normal (fan_out, ReLU), BN 1/0, every block's bn2 zeroed;
    // the transposed convs keep the default.
    for (auto& [name, mod] : named_modules())
      if (auto* conv = dynamic_cast<nn::Conv2d*>(mod)) nn::init::kaiming_normal(conv->weight, 0.0, nn::init::FanMode::fan_out);
    for (auto& [name, mod] : named_modules())
      if (auto* block = dynamic_cast<BasicBlock*>(mod)) block->bn2->weight.zero_();
  }

  Tensor forward(const Tensor& x) override {
    std::vector<Tensor> skips;
    Tensor h = x;
    for (int k = 0; k < depth_; ++k) {
      if (k > 0) h = (*pool_)(h);
      h = (*enc_[static_cast<size_t>(k)])(h);
      skips.push_back(h);
    }
    for (int k = 0; k + 1 < depth_; ++k) {
      const Tensor up = (*up_[static_cast<size_t>(k)])(h);
      const Tensor& skip = skips[static_cast<size_t>(depth_ - 2 - k)];
      FER_CHECK(up.shape() == skip.shape(),
                "RMN masking block: up-sampled " << fer::describe(up) << " does not match the skip " << fer::describe(skip)
                                                  << "; hint: the stage's map size must be divisible by "
                                                  << (1 << (depth_ - 1)) << " (224x224 input gives 56/28/14/7)");
      h = (*dec_[static_cast<size_t>(k)])(ops::concat({up, skip}, 1));
    }
    return (*out_)(h);
  }
  std::string type_name() const override { return "MaskingBlock"; }

 private:
  int depth_;
  std::vector<std::shared_ptr<BasicBlock>> enc_, dec_;
  std::vector<std::shared_ptr<nn::Sequential>> up_;
  std::shared_ptr<BasicBlock> out_;
  std::shared_ptr<nn::MaxPool2d> pool_;
};

class ResMasking : public ResNet {
 public:
  ResMasking(const ModelConfig& cfg, const std::string& head, MaskKind kind)
      : ResNet(ResNetLayout{{3, 4, 6, 3}, false, false, cfg.width}), kind_(kind) {
    const int64_t c = stage_channels(3);
    if (head == "plain") {
      set_head(std::make_shared<nn::Linear>(c, cfg.num_classes), true);
    } else if (head == "dropout1") {
      auto fc = std::make_shared<nn::Sequential>();
      fc->add(std::make_shared<nn::Dropout>(0.4));
      fc->add(std::make_shared<nn::Linear>(c, cfg.num_classes));
      set_head(fc, true);
    } else {  // dropout2
      const int64_t hidden = std::max<int64_t>(1, static_cast<int64_t>(std::lround(128 * cfg.width)));
      auto fc = std::make_shared<nn::Sequential>();
      fc->add(std::make_shared<nn::Linear>(c, hidden));
      fc->add(std::make_shared<nn::Act>(Activation::relu));
      fc->add(std::make_shared<nn::Dropout>(0.5));
      fc->add(std::make_shared<nn::Linear>(hidden, cfg.num_classes));
      set_head(fc, true);
    }
    for (int s = 0; s < 4; ++s)
      masks_[static_cast<size_t>(s)] = register_module(
          "mask" + std::to_string(s + 1), std::make_shared<MaskingBlock>(stage_channels(s), 4 - s));
  }
  std::string type_name() const override { return "ResMasking"; }

 protected:
  Tensor after_stage(int stage, const Tensor& x) override {
    return ops::mask_apply(x, (*masks_[static_cast<size_t>(stage)])(x), kind_);
  }

 private:
  MaskKind kind_;
  std::array<std::shared_ptr<MaskingBlock>, 4> masks_;
};

}  // namespace

nn::ModulePtr build_masking_block(int64_t channels, int depth) { return std::make_shared<MaskingBlock>(channels, depth); }

nn::ModulePtr build_rmn(const ModelConfig& cfg) {
  std::string head = "dropout1";
  MaskKind kind = MaskKind::softmax;
  std::istringstream in(cfg.variant);
  for (std::string opt; std::getline(in, opt, ',');) {
    if (opt.empty()) continue;
    if (opt == "dropout1" || opt == "plain" || opt == "dropout2") {
      head = opt;
    } else if (opt == "softmax" || opt == "sigmoid") {
      kind = opt == "softmax" ? MaskKind::softmax : MaskKind::sigmoid;
    } else {
      FER_FAIL("rmn: unknown variant option '" << opt << "' in '" << cfg.variant
                                               << "'; known: dropout1 (default), plain, dropout2, softmax (default), "
                                                  "sigmoid (comma-separated, e.g. \"dropout2,sigmoid\")");
    }
  }
  return std::make_shared<ResMasking>(cfg, head, kind);
}

}  // namespace fer::models
