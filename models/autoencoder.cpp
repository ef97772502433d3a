// models/autoencoder.cpp: R003's convolutional autoencoder for outlier detection (MODELS.md 5.2).
//
//   encoder.0 conv3 p1 1->32   ReLU maxpool2     32x24x24
//   encoder.3 conv3 p1 32->64  ReLU maxpool2     64x12x12
//   encoder.6 conv3 p1 64->128 ReLU maxpool2     128x6x6 (latent, 4,608 values)
//   decoder.0 convT k2 s2 128->64 ReLU           64x12x12
//   decoder.2 convT k2 s2 64->32  ReLU           32x24x24
//   decoder.4 convT k2 s2 32->16  ReLU           16x48x48
//   decoder.6 conv3 p1 16->1      sigmoid        1x48x48
//
// The output is the reconstruction, the same shape as the input; train it with
// ops::mse_loss(output, input). There are no classes: ModelConfig::num_classes is ignored.
// 135,937 parameters and 25.8 M MACs at width 1.
#include <cmath>

#include "models/r003.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

class ConvAutoencoder : public nn::Module {
 public:
  explicit ConvAutoencoder(const ModelConfig& cfg) {
    auto w = [&](int64_t c) { return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * cfg.width))); };
    const int64_t c1 = w(32), c2 = w(64), c3 = w(128), d3 = w(16);
    encoder = register_module("encoder", std::make_shared<nn::Sequential>());
    int64_t in = 1;
    for (int64_t c : {c1, c2, c3}) {
      encoder->add(std::make_shared<nn::Conv2d>(in, c, 3, 1, 1, true));
      encoder->add(std::make_shared<nn::Act>(Activation::relu));
      encoder->add(std::make_shared<nn::MaxPool2d>(2, 2));
      in = c;
    }
    decoder = register_module("decoder", std::make_shared<nn::Sequential>());
    for (int64_t c : {c2, c1, d3}) {
      decoder->add(std::make_shared<nn::ConvTranspose2d>(in, c, 2, 2, 0, true));
      decoder->add(std::make_shared<nn::Act>(Activation::relu));
      in = c;
    }
    decoder->add(std::make_shared<nn::Conv2d>(in, 1, 3, 1, 1, true));
    decoder->add(std::make_shared<nn::Act>(Activation::sigmoid));
  }

  Tensor forward(const Tensor& x) override {
    FER_CHECK(x.ndim() == 4 && x.size(1) == 1 && x.size(2) % 8 == 0 && x.size(3) % 8 == 0,
              "autoencoder: expected [N, 1, H, W] with H and W multiples of 8 (three 2x poolings undone by three "
              "2x transposed convolutions), got " << fer::describe(x) << "; hint: the model is specified for 48x48 inputs");
    return (*decoder)((*encoder)(x));
  }
  std::string type_name() const override { return "ConvAutoencoder"; }

  std::shared_ptr<nn::Sequential> encoder, decoder;
};

}  // namespace

nn::ModulePtr build_autoencoder(const ModelConfig& config) { return std::make_shared<ConvAutoencoder>(config); }

}  // namespace fer::models
