// tools/common/evaluate.h: running a model over a split (no gradients, eval mode).
#pragma once

#include <cstdint>
#include <vector>

#include "data/loader.h"
#include "nn/module.h"

namespace fer::tools {

struct Predictions {
  int64_t num_classes = 0;
  std::vector<int64_t> indices;  // dataset indices, in the order evaluated
  std::vector<int32_t> labels;   // true labels
  std::vector<float> probs;      // softmax probabilities [N, K], row-major
  double loss = 0;               // mean (unweighted) cross-entropy
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int32_t predicted(int64_t i) const;  // argmax of row i
  double accuracy() const;
};

// Evaluates `model` on the images at `indices` in batches; restores the model's train/eval mode.
// ten_crop (a model whose input is smaller than 48x48, trained on ten crops): each image's ten crops
// are evaluated and their logits averaged before the softmax and the loss (usef-kh's protocol).
Predictions predict(nn::Module& model, const data::DeviceImages& images, const std::vector<int64_t>& indices,
                    const data::InputSpec& input, int64_t batch_size, bool ten_crop = false);

}  // namespace fer::tools
