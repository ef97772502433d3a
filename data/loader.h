// data/loader.h: from dataset indices to training/evaluation batches (tensors on a device).
//
// DeviceImages uploads a dataset's images (uint8 [N, 48, 48], 66 MB for all of FER2013) and labels
// (i32 [N]) to the device once. A batch is then made on that device without touching the host's
// pixels again:
//   gather the batch's rows (index_select_rows) -> uint8 [B, 48, 48]
//   -> float in [0, 1] (pixel / 255) -> [B, 1, 48, 48]
//   -> resized (bilinear, half-pixel centres, as cv2.resize) and replicated to the model's input
//      channels when the model wants e.g. 3 x 224 x 224 (RMN).
// With an AugmentOptions (kernels/augment.h) the last three steps are one augment_batch() call on
// the device instead: image i of the batch uses key augment_key(epoch, dataset index), so its
// augmentation depends only on (seed, epoch, index), the same on the CPU and on CUDA.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "kernels/augment.h"
#include "tensor/tensor.h"

namespace fer::data {

struct DeviceImages {
  DeviceImages(const Dataset& ds, Device device);
  Tensor pixels;  // u8 [N, 48, 48]
  Tensor labels;  // i32 [N]
  int64_t size() const { return labels.numel(); }
};

// What a model takes as input.
struct InputSpec {
  int64_t channels = 1;
  int64_t size = 48;
};

struct Batch {
  Tensor images;  // f32 [B, channels, size, size] in [0, 1]
  Tensor labels;  // i32 [B]
  std::vector<int64_t> indices;  // dataset indices of the batch, in order
};

// The batch of the given dataset indices (no augmentation).
Batch make_batch(const DeviceImages& images, const std::vector<int64_t>& indices, const InputSpec& input);

// Augmentation of a batch: spec (augment_preset(name)), the epoch and seed that key the draws, and
// the normalisation (x - mean) / std applied after /255 (mean 0, std 1: images in [0, 1]).
struct AugmentOptions {
  AugmentSpec spec;
  int64_t epoch = 0;
  uint64_t seed = 0;
  float mean = 0.0f, std = 1.0f;
};

// The batch of the given dataset indices, augmented; images f32 [B, channels, size, size].
// With spec "none", mean 0 and std 1 this equals make_batch() above (within 1 float ulp).
Batch make_batch(const DeviceImages& images, const std::vector<int64_t>& indices, const InputSpec& input,
                 const AugmentOptions& augment);

// usef-kh's training batch (MODELS.md 2.2, TenCrop then RandomErasing per crop): each image is
// augmented at 48x48 with augment.spec minus its erasing (key augment_key(epoch, index)), cut into its
// ten crops of input.size (kernels/augment.h ten_crop), and each crop is erased on its own draw
// (key ten_crop_erase_key(epoch, index, view)). images f32 [B * 10, channels, size, size], row
// b * 10 + v = view v of image b; labels and indices repeated accordingly. input.size must be < 48.
Batch make_ten_crop_batch(const DeviceImages& images, const std::vector<int64_t>& indices, const InputSpec& input,
                          const AugmentOptions& augment);

}  // namespace fer::data
