// models/registry.cpp: the list of models (one entry per architecture/variant).
#include "models/registry.h"

#include <sstream>

#include "models/efficientnet.h"
#include "models/r003.h"
#include "models/resnet.h"
#include "models/small_cnns.h"
#include "models/vgg.h"
#include "tensor/autograd.h"
#include "tensor/op_stats.h"

namespace fer::models {

const std::vector<ModelSpec>& all_models() {
  static const std::vector<ModelSpec> specs = [] {
    std::vector<ModelSpec> v;
    v.push_back({"cnn6", "R001", "six valid 3x3 convs with BN, pool+dropout every second layer, FC 1024-512", 1, 48, 7,
                 "r001-cnn6", 1512295, 70210624, build_cnn6});
    append_vgg_models(v);
    append_r003_models(v);
    append_efficientnet_models(v);
    append_resnet_models(v);
    return v;
  }();
  return specs;
}

const ModelSpec& find_model(const std::string& name) {
  for (const auto& s : all_models())
    if (s.name == name) return s;
  std::ostringstream known;
  for (const auto& s : all_models()) known << (known.tellp() ? ", " : "") << s.name;
  FER_FAIL("unknown model '" << name << "'; known models: " << known.str() << " (see fertrain --list-models)");
}

nn::ModulePtr build_model(const std::string& name, const ModelConfig& config) {
  const ModelSpec& spec = find_model(name);
  FER_CHECK(config.num_classes >= 2, "model " << name << ": num_classes must be at least 2, got " << config.num_classes);
  FER_CHECK(config.width > 0, "model " << name << ": width must be positive, got " << config.width);
  return spec.build(config);
}

int64_t count_forward_macs(nn::Module& model, int64_t channels, int64_t size) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  MacCounter counter;
  model(Tensor::zeros({1, channels, size, size}, DType::f32, model.device()));
  model.train(was_training);
  return counter.macs();
}

}  // namespace fer::models
