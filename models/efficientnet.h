// models/efficientnet.h: R002's EfficientNet-B0 with a 3-layer MLP head (MODELS.md 4.3, 4.4).
#pragma once

#include <vector>

#include "models/registry.h"

namespace fer::models {

nn::ModulePtr build_efficientnet_b0(const ModelConfig& config);

void append_efficientnet_models(std::vector<ModelSpec>& v);

}  // namespace fer::models
