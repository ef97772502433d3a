// tools/common/evaluate.cpp: see evaluate.h.
#include "tools/common/evaluate.h"

#include <algorithm>

#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tools/common/checkpoint_model.h"

namespace fer::tools {

int32_t Predictions::predicted(int64_t i) const {
  const float* row = probs.data() + i * num_classes;
  return static_cast<int32_t>(std::max_element(row, row + num_classes) - row);
}

double Predictions::accuracy() const {
  if (labels.empty()) return 0.0;
  int64_t correct = 0;
  for (int64_t i = 0; i < size(); ++i) correct += predicted(i) == labels[static_cast<size_t>(i)];
  return static_cast<double>(correct) / static_cast<double>(size());
}

Predictions predict(nn::Module& model, const data::DeviceImages& images, const std::vector<int64_t>& indices,
                    const data::InputSpec& input, int64_t batch_size, bool ten_crop) {
  FER_CHECK(batch_size >= 1, "predict: batch size must be positive");
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Predictions p;
  p.indices = indices;
  double loss_sum = 0;
  for (size_t start = 0; start < indices.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(indices.size(), start + static_cast<size_t>(batch_size));
    const std::vector<int64_t> chunk(indices.begin() + static_cast<std::ptrdiff_t>(start),
                                     indices.begin() + static_cast<std::ptrdiff_t>(end));
    // ten-crop: the 48x48 images, cut into the model's input size by ten_crop_mean_logits
    const data::Batch batch =
        data::make_batch(images, chunk, ten_crop ? data::InputSpec{input.channels, data::kImageSide} : input);
    const Tensor logits = ten_crop ? ten_crop_mean_logits(model, batch.images, input.size) : model(batch.images);
    FER_CHECK(logits.ndim() == 2 && logits.size(0) == static_cast<int64_t>(chunk.size()),
              "predict: the model returned " << describe(logits) << " for a batch of " << chunk.size());
    p.num_classes = logits.size(1);
    loss_sum += ops::cross_entropy(logits, batch.labels).item() * static_cast<double>(chunk.size());
    const auto probs = ops::softmax(logits, 1).to_vector<float>();
    p.probs.insert(p.probs.end(), probs.begin(), probs.end());
    const auto labels = batch.labels.to_vector<int32_t>();
    p.labels.insert(p.labels.end(), labels.begin(), labels.end());
  }
  p.loss = indices.empty() ? 0.0 : loss_sum / static_cast<double>(indices.size());
  model.train(was_training);
  return p;
}

}  // namespace fer::tools
