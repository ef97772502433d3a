// models/small_cnns.h: the small 48x48 CNNs of the reports.
//
//   cnn6      R001's six-conv network (valid 3x3 convs, pool+dropout after conv2/4/6, FC 1024-512-K)
#pragma once

#include "models/registry.h"

namespace fer::models {

nn::ModulePtr build_cnn6(const ModelConfig& config);
nn::ModulePtr build_shallow(const ModelConfig& config);  // R002's shallow CNN (models/shallow.cpp, MODELS.md 4.1)

}  // namespace fer::models
