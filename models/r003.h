// models/r003.h: R003's models (MODELS.md section 5).
//
//   unet         attention U-Net classifier, base width 32, 48x48x1, 7 classes   (models/unet.cpp)
//   autoencoder  convolutional autoencoder; output = reconstruction [N, 1, 48, 48],
//                trained with MSE against the input (models/autoencoder.cpp)
//   vit          small ViT, patch 4, width 192, depth 6, 3 heads, 48x48x1         (models/vit.cpp)
//
// The autoencoder has no classes: its spec has default_classes 0 and the builder ignores
// ModelConfig::num_classes (build_model still requires the generic num_classes >= 2, which the
// default config satisfies).
#pragma once

#include <vector>

#include "models/registry.h"

namespace fer::models {

nn::ModulePtr build_unet(const ModelConfig& config);
nn::ModulePtr build_autoencoder(const ModelConfig& config);
// config.variant: "" (6 blocks) or "depth=<n>" (fewer/more blocks, same structure; golden fixtures)
nn::ModulePtr build_vit(const ModelConfig& config);

void append_r003_models(std::vector<ModelSpec>& v);

}  // namespace fer::models
