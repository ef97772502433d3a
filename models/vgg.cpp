// models/vgg.cpp: the VGG family (MODELS.md sections 2, 3.2, 4.2, 4.3, 6). See models/vgg.h.
//
// Parameter names follow the source each model reproduces, so weights exchange by name:
//   vggnet    usef-kh models/vgg.py: conv1a..conv4b, bn1a..bn4b, lin1..lin3 (pool/drop have none)
//   vgg11     torchvision vgg11: features.<i> (i = position in the layer list), classifier.<i>
//   vgg16*    Keras VGG16 layer names: backbone.block<b>_conv<i>; the added layers stage6/7_conv,
//             stage6/7_bn, fc1..fc3
// `width` scales every hidden width (reduced-width golden fixtures); the structure is unchanged.
#include "models/vgg.h"

#include <cmath>
#include <sstream>
#include <string>

#include "models/small_cnns.h"
#include "nn/init.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

auto width_fn(const ModelConfig& cfg) {
  return [w = cfg.width](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * w))); };
}

// ---- usef-kh VGGNet (MODELS.md 2.1) -------------------------------------------------------------
//   4 stages of two conv3 p1 (bias) -> BN -> ReLU, maxpool 2 after each: 40 -> 20 -> 10 -> 5 -> 2 (floor)
//   flatten 512*2*2 -> lin1 4096 -> dropout 0.2 -> ReLU -> lin2 4096 -> dropout -> ReLU -> lin3 K
// 29,890,759 parameters and 350,519,296 MACs per 40x40 crop at width 1 with 7 classes.
class VggNet : public nn::Module {
 public:
  explicit VggNet(const ModelConfig& cfg) {
    auto w = width_fn(cfg);
    static const char* names[8] = {"1a", "1b", "2a", "2b", "3a", "3b", "4a", "4b"};
    const int64_t widths[8] = {w(64), w(64), w(128), w(128), w(256), w(256), w(512), w(512)};
    int64_t in = 1;
    for (int i = 0; i < 8; ++i) {
      conv[i] = register_module(std::string("conv") + names[i], std::make_shared<nn::Conv2d>(in, widths[i], 3, 1, 1, true));
      in = widths[i];
    }
    for (int i = 0; i < 8; ++i)
      bn[i] = register_module(std::string("bn") + names[i], std::make_shared<nn::BatchNorm2d>(widths[i]));
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2, 2));
    lin1 = register_module("lin1", std::make_shared<nn::Linear>(widths[7] * 2 * 2, w(4096)));
    lin2 = register_module("lin2", std::make_shared<nn::Linear>(w(4096), w(4096)));
    lin3 = register_module("lin3", std::make_shared<nn::Linear>(w(4096), cfg.num_classes));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.2));
  }

  Tensor forward(const Tensor& x) override {
    FER_CHECK(x.ndim() == 4 && x.shape()[2] >= 32 && x.shape()[2] < 48 && x.shape()[3] >= 32 && x.shape()[3] < 48,
              "VGGNet: expects [N, 1, H, W] crops with 32 <= H, W < 48 (40x40 in the reference, so that the "
              "last map is 2x2 and lin1 sees 512*2*2 features), got " << fer::describe(x)
                                                                   << "; hint: feed TenCrop(40) crops");
    Tensor h = x;
    for (int i = 0; i < 8; ++i) {
      h = nn::batchnorm_act(*bn[i], (*conv[i])(h), Activation::relu);
      if (i % 2 == 1) h = (*pool)(h);
    }
    h = ops::relu((*drop)((*lin1)(h.flatten(1))));
    h = ops::relu((*drop)((*lin2)(h)));
    return (*lin3)(h);
  }
  std::string type_name() const override { return "VGGNet"; }

  std::shared_ptr<nn::Conv2d> conv[8];
  std::shared_ptr<nn::BatchNorm2d> bn[8];
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Linear> lin1, lin2, lin3;
  std::shared_ptr<nn::Dropout> drop;
};

// A holder of named children that is never run itself (PyTorch's nn.ModuleList).
class ModuleList : public nn::Module {
 public:
  void append(nn::ModulePtr m) { add_child(std::to_string(children().size()), std::move(m)); }
  Tensor forward(const Tensor&) override { FER_FAIL("ModuleList: has no forward; call its members"); }
  std::string type_name() const override { return "ModuleList"; }
};

// ---- R004 ensemble of three VGGNets (MODELS.md 6) ------------------------------------------------
// Output: log of the mean of the members' softmax vectors, [N, K]. Its argmax is the ensemble's
// prediction, softmax() of it gives back the averaged probabilities exactly (they already sum to 1),
// and cross_entropy() on it is the NLL of the averaged probabilities. Ten-crop TTA stays outside the
// model: MODELS.md 6 has each member average its 10 crop logits before the softmax, which a caller
// can do by running the members (members.<i>) itself.
class VggNetEnsemble : public nn::Module {
 public:
  explicit VggNetEnsemble(const ModelConfig& cfg) {
    members = register_module("members", std::make_shared<ModuleList>());
    for (int i = 0; i < 3; ++i) members->append(std::make_shared<VggNet>(cfg));
  }

  Tensor forward(const Tensor& x) override {
    std::vector<Tensor> logp;  // each [N, 1, K]
    for (auto& [name, m] : members->children()) {
      const Tensor lp = ops::log_softmax((*m)(x), 1);
      logp.push_back(lp.reshape({lp.shape()[0], 1, lp.shape()[1]}));
    }
    const int64_t n = logp[0].shape()[0], k = logp[0].shape()[2];
    const auto count = static_cast<int64_t>(logp.size());
    // logsumexp over members, stably and with existing ops: for any member j,
    // LSE_i(a_i) = a_j - log_softmax_i(a)_j. Then log(mean) = LSE - log(count).
    const Tensor stacked = ops::concat(logp, 1);                                      // [N, M, K]
    const Tensor first_ls = ops::slice(ops::log_softmax(stacked, 1), 1, 0, 1);       // [N, 1, K]
    const Tensor lse = ops::sub(logp[0], first_ls).reshape({n, k});
    return ops::add_scalar(lse, -std::log(static_cast<double>(count)));
  }
  std::string type_name() const override { return "VGGNetEnsemble"; }

  std::shared_ptr<ModuleList> members;
};

// ---- R001 modified VGG11 (MODELS.md 3.2) ---------------------------------------------------------
// torchvision VGG11 (config A, no BN) on 48x48x3; its last maxpool and the adaptive 7x7 avgpool are
// one AvgPool k2 s1 (3x3 -> 2x2, 512*2*2 = 2048). Head: classifier = Linear(2048,1024) ReLU
// Dropout(0.3) Linear(1024,512) ReLU Linear(512,K). `features` is the (ImageNet) backbone R001 freezes:
// 11,847,047 parameters, 2,626,567 of them in the head; 346,344,960 MACs.
class Vgg11Mod : public nn::Module {
 public:
  explicit Vgg11Mod(const ModelConfig& cfg) {
    auto w = width_fn(cfg);
    features = register_module("features", std::make_shared<nn::Sequential>());
    // 64 M 128 M 256 256 M 512 512 M 512 512 A (A: the collapsed average pool)
    const int64_t plan[] = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -2};
    int64_t in = 3;
    for (int64_t c : plan) {
      if (c == -1) {
        features->add(std::make_shared<nn::MaxPool2d>(2, 2));
      } else if (c == -2) {
        features->add(std::make_shared<nn::AvgPool2d>(2, 1));
      } else {
        features->add(std::make_shared<nn::Conv2d>(in, w(c), 3, 1, 1, true));
        features->add(std::make_shared<nn::Act>(Activation::relu));
        in = w(c);
      }
    }
    classifier = register_module("classifier", std::make_shared<nn::Sequential>());
    classifier->add(std::make_shared<nn::Linear>(in * 2 * 2, w(1024)));
    classifier->add(std::make_shared<nn::Act>(Activation::relu));
    classifier->add(std::make_shared<nn::Dropout>(0.3));
    classifier->add(std::make_shared<nn::Linear>(w(1024), w(512)));
    classifier->add(std::make_shared<nn::Act>(Activation::relu));
    classifier->add(std::make_shared<nn::Linear>(w(512), cfg.num_classes));
  }

  Tensor forward(const Tensor& x) override { return (*classifier)((*features)(x).flatten(1)); }
  std::string type_name() const override { return "VGG11-mod"; }

  std::shared_ptr<nn::Sequential> features, classifier;
};

// ---- Keras VGG16 body (13 conv3 p1 with bias + ReLU, maxpool 2 after each block) ------------------
class KerasVgg16Body : public nn::Module {
 public:
  KerasVgg16Body(int64_t in_channels, const ModelConfig& cfg, bool last_pool) : last_pool(last_pool) {
    auto w = width_fn(cfg);
    const int64_t widths[5] = {w(64), w(128), w(256), w(512), w(512)};
    const int convs[5] = {2, 2, 3, 3, 3};
    int64_t in = in_channels;
    for (int b = 0; b < 5; ++b)
      for (int i = 0; i < convs[b]; ++i) {
        std::ostringstream name;
        name << "block" << b + 1 << "_conv" << i + 1;
        conv.push_back(register_module(name.str(), std::make_shared<nn::Conv2d>(in, widths[b], 3, 1, 1, true)));
        block_end.push_back(i + 1 == convs[b]);
        in = widths[b];
      }
    out_channels = in;
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (size_t i = 0; i < conv.size(); ++i) {
      h = ops::relu((*conv[i])(h));
      if (block_end[i] && (last_pool || i + 1 < conv.size())) h = ops::max_pool2d(h, ops::PoolOptions::make(2, 2));
    }
    return h;
  }
  std::string type_name() const override { return "VGG16-body"; }

  std::vector<std::shared_ptr<nn::Conv2d>> conv;
  std::vector<bool> block_end;
  bool last_pool;
  int64_t out_channels = 0;
};

// ---- R002 modified VGG16 from scratch (MODELS.md 4.2) ---------------------------------------------
// Body without block5_pool on 48x48x1 (48 -> 24 -> 12 -> 6 -> 3), then two stages conv3 p1 512->512
// -> BN -> ReLU -> maxpool k2 s2 ceil ('same'): 3 -> 2 -> 1; flatten 512 -> fc1 256 -> ReLU ->
// Dropout(0.5) -> fc2 K. 19,568,070 parameters and 732,841,472 MACs at 6 classes. Keras settings
// throughout (R002 is a Keras model; MODELS.md 4 and 8.1 item 3): BN eps 1e-3, momentum 0.99 in
// Keras' convention (0.01 here), Glorot-uniform kernels and zero biases on every conv and Dense layer.
class Vgg16Mod : public nn::Module {
 public:
  explicit Vgg16Mod(const ModelConfig& cfg) {
    auto w = width_fn(cfg);
    backbone = register_module("backbone", std::make_shared<KerasVgg16Body>(1, cfg, false));
    const int64_t c = backbone->out_channels;
    for (int s = 0; s < 2; ++s) {
      const std::string k = std::to_string(s + 6);
      conv[s] = register_module("stage" + k + "_conv", std::make_shared<nn::Conv2d>(c, c, 3, 1, 1, true));
      bn[s] = register_module("stage" + k + "_bn", std::make_shared<nn::BatchNorm2d>(c, kKerasBnEps, kKerasBnMomentum));
    }
    pool = register_module("pool", std::make_shared<nn::MaxPool2d>(2, 2, 0, true));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(c, w(256)));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.5));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(w(256), cfg.num_classes));
    nn::init::keras_init(*this);
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = (*backbone)(x);
    for (int s = 0; s < 2; ++s) h = (*pool)(nn::batchnorm_act(*bn[s], (*conv[s])(h), Activation::relu));
    FER_CHECK(h.shape()[2] == 1 && h.shape()[3] == 1,
              "VGG16-mod: expects 48x48 inputs (the last map must be 1x1 before fc1), got a "
                  << h.shape()[2] << "x" << h.shape()[3] << " map; hint: resize the images to 48x48");
    return (*fc2)((*drop)(ops::relu((*fc1)(h.flatten(1)))));
  }
  std::string type_name() const override { return "VGG16-mod"; }

  std::shared_ptr<KerasVgg16Body> backbone;
  std::shared_ptr<nn::Conv2d> conv[2];
  std::shared_ptr<nn::BatchNorm2d> bn[2];
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Dropout> drop;
};

// ---- R002 VGG16 + 3-layer MLP head (MODELS.md 4.3) ------------------------------------------------
// Full body (5 pools; 48x48x3 -> 1x1x512) `backbone`, GAP -> fc1 256 -> ReLU -> Dropout(0.5) -> fc2 128
// -> ReLU -> Dropout(0.5) -> fc3 K. 14,879,686 parameters (body 14,714,688) and 704,856,832 MACs.
// The head's Dense layers start as Keras' do (Glorot-uniform kernel, zero bias); the body keeps the
// layers' defaults, since the transfer recipe loads ImageNet weights into it.
class Vgg16Mlp : public nn::Module {
 public:
  explicit Vgg16Mlp(const ModelConfig& cfg) {
    auto w = width_fn(cfg);
    backbone = register_module("backbone", std::make_shared<KerasVgg16Body>(3, cfg, true));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(backbone->out_channels, w(256)));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(w(256), w(128)));
    fc3 = register_module("fc3", std::make_shared<nn::Linear>(w(128), cfg.num_classes));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.5));
    for (nn::Linear* fc : {fc1.get(), fc2.get(), fc3.get()}) nn::init::keras_init(*fc);
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = ops::global_avg_pool((*backbone)(x));
    h = (*drop)(ops::relu((*fc1)(h)));
    h = (*drop)(ops::relu((*fc2)(h)));
    return (*fc3)(h);
  }
  std::string type_name() const override { return "VGG16-MLP"; }

  std::shared_ptr<KerasVgg16Body> backbone;
  std::shared_ptr<nn::Linear> fc1, fc2, fc3;
  std::shared_ptr<nn::Dropout> drop;
};

}  // namespace

nn::ModulePtr build_vggnet(const ModelConfig& config) { return std::make_shared<VggNet>(config); }
nn::ModulePtr build_vggnet_ensemble(const ModelConfig& config) { return std::make_shared<VggNetEnsemble>(config); }
nn::ModulePtr build_vgg11(const ModelConfig& config) { return std::make_shared<Vgg11Mod>(config); }
nn::ModulePtr build_vgg16mod(const ModelConfig& config) { return std::make_shared<Vgg16Mod>(config); }
nn::ModulePtr build_vgg16_mlp(const ModelConfig& config) { return std::make_shared<Vgg16Mlp>(config); }

void append_vgg_models(std::vector<ModelSpec>& v) {
  v.push_back({"vggnet", "R004 (usef-kh/fer)",
               "usef-kh VGGNet on one 40x40 crop: 4 stages of 2 conv3+BN+ReLU and maxpool, FC 4096-4096", 1, 40, 7,
               "r004-vggnet", 29890759, 350519296, build_vggnet});
  v.push_back({"vggnet-ensemble", "R004",
               "three VGGNets; output log(mean of the members' softmax) per 40x40 crop", 1, 40, 7, "r004-vggnet",
               89672277, 1051557888, build_vggnet_ensemble});
  v.push_back({"vgg11", "R001",
               "modified VGG11 (no BN) on 48x48x3, last pools collapsed to avgpool k2 s1, FC 2048-1024-512; "
               "backbone `features` (freeze for R001's transfer recipe)",
               3, 48, 7, "r001-vgg11", 11847047, 346344960, build_vgg11});
  v.push_back({"shallow", "R002", "two pairs of conv3+BN+ReLU with maxpool and dropout, FC 9216-256", 1, 48, 6,
               "r002-shallow", 2426470, 56108544, build_shallow});
  v.push_back({"vgg16mod", "R002",
               "Keras VGG16 body from scratch on 48x48x1 without block5_pool, two conv+BN+ceil-pool stages, FC 256",
               1, 48, 6, "r002-vgg16mod", 19568070, 732841472, build_vgg16mod});
  v.push_back({"vgg16", "R002",
               "Keras VGG16 body (`backbone`) on 48x48x3, GAP, MLP 256-128 head", 3, 48, 6, "r002-vgg16", 14879686,
               704856832, build_vgg16_mlp});
}

}  // namespace fer::models
