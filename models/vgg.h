// models/vgg.h: the VGG family of the reports (MODELS.md sections 2, 3.2, 4.2, 4.3, 6).
//
//   vggnet           usef-kh VGGNet on one 40x40x1 crop (R004's reference; MODELS.md 2.1)
//   vggnet-ensemble  R004's three VGGNets; forward returns log(mean of the members' softmax)
//   vgg11            R001's modified VGG11 on 48x48x3 (torchvision names; `features` is the
//                    backbone to freeze with set_trainable(false))
//   vgg16mod         R002's Keras VGG16 body trained from scratch on 48x48x1 + two conv/BN/pool
//                    stages + Dense 256 head
//   vgg16            R002's Keras VGG16 body (`backbone`) + GAP + 3-layer MLP head on 48x48x3
// The shallow CNN of R002 (models/shallow.cpp, declared in models/small_cnns.h) is registered here
// too, so the registry needs one line for this family.
#pragma once

#include <vector>

#include "models/registry.h"

namespace fer::models {

nn::ModulePtr build_vggnet(const ModelConfig& config);
nn::ModulePtr build_vggnet_ensemble(const ModelConfig& config);
nn::ModulePtr build_vgg11(const ModelConfig& config);
nn::ModulePtr build_vgg16mod(const ModelConfig& config);
nn::ModulePtr build_vgg16_mlp(const ModelConfig& config);

void append_vgg_models(std::vector<ModelSpec>& v);

}  // namespace fer::models
