// models/registry.h: every model fer can build, by name.
//
// A registry entry knows how to build the model (plain C++ in models/<family>.cpp), its input
// (channels, size), its default class count and recipe, and the exact parameter and MAC counts
// MODELS.md gives, which the tests hold the built model to.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nn/module.h"

namespace fer::models {

struct ModelConfig {
  int64_t num_classes = 7;
  double width = 1.0;       // channel multiplier (reduced-width variants for golden fixtures)
  std::string variant;      // model-specific option (e.g. RMN head "dropout1", mask "sigmoid")
};

struct ModelSpec {
  std::string name;
  std::string source;          // which report / reference it reproduces
  std::string description;
  int64_t input_channels = 1;
  int64_t input_size = 48;     // square inputs
  int64_t default_classes = 7;  // 0: not a classifier (autoencoder: the output is a reconstruction, num_classes is ignored)
  std::string default_recipe;
  int64_t expected_params = 0;  // MODELS.md, at width 1 and default classes (0: not tabulated)
  int64_t expected_macs = 0;    // MODELS.md, forward MACs per image
  std::function<nn::ModulePtr(const ModelConfig&)> build;
};

const std::vector<ModelSpec>& all_models();
// The spec for `name`; throws fer::Error listing the known names when it is unknown.
const ModelSpec& find_model(const std::string& name);
nn::ModulePtr build_model(const std::string& name, const ModelConfig& config = {});

// Forward MACs per image of `model` for an input [1, channels, size, size], counted by the ops.
int64_t count_forward_macs(nn::Module& model, int64_t channels, int64_t size);

}  // namespace fer::models
