// models/small_cnns.h: the small 48x48 CNNs of the reports.
//
//   cnn6      R001's six-conv network (valid 3x3 convs, pool+dropout after conv2/4/6, FC 1024-512-K)
#pragma once

#include "models/registry.h"

namespace fer::models {

// Keras BatchNormalization defaults for R002's Keras models (shallow, vgg16mod): epsilon 1e-3 and
// momentum 0.99 in Keras' convention (running = 0.99 running + 0.01 batch), which is 0.01 in
// PyTorch's convention that nn::BatchNorm2d takes. Their conv/linear layers use nn::init::keras_init.
inline constexpr double kKerasBnEps = 1e-3;
inline constexpr double kKerasBnMomentum = 0.01;

nn::ModulePtr build_cnn6(const ModelConfig& config);
nn::ModulePtr build_shallow(const ModelConfig& config);  // R002's shallow CNN (models/shallow.cpp, MODELS.md 4.1)

}  // namespace fer::models
