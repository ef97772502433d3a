// tools/common/checkpoint_model.h: a trained model back from its checkpoint, and its predictions
// (with test-time augmentation) for the evaluation programs (fereval, ferpredict).
//
// A fer checkpoint (fertrain's best.safetensors / last.safetensors) carries, besides the weights,
// the metadata fer.model (registry name), fer.config (the run's TrainConfig as JSON: width,
// model_variant, ...), fer.classes (JSON array of class names, in output order) and fer.class_set
// ("fer7" | "fer6"). load_model_from_checkpoint() rebuilds the model from those, loads the weights
// strictly and puts it in eval mode.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "nn/module.h"
#include "tensor/tensor.h"

namespace fer::tools {

struct LoadedModel {
  nn::ModulePtr model;     // on `device`, eval mode
  std::string path;        // the checkpoint file
  std::string name;        // registry name (fer.model)
  data::ClassSet classes;  // output k = classes.names[k]
  data::InputSpec input;   // what the model takes (channels, size)
  nlohmann::json config;   // fer.config
  Device device = Device::cpu;
};

// Throws fer::Error naming the file and what is wrong: no such file, not a safetensors file, not a
// fer checkpoint (and which metadata keys are missing), unknown model, tensors that do not fit.
LoadedModel load_model_from_checkpoint(const std::string& path, Device device);

// Throws a clear fer::Error when `m` is not a classifier (R003's autoencoder outputs an image):
// `program` names the caller (fereval, ferpredict, fercam).
void require_classifier(const LoadedModel& m, const char* program);

// "cpu" | "cuda" -> the device; cuda without a CUDA build or without a device is a clear error.
Device device_from_name(const std::string& name);

// Test-time augmentation:
//   none     the image as the model's input (resized when the model's input is not 48x48)
//   flip     mean of the softmax over the image and its horizontal mirror
//   tencrop  usef-kh's protocol (MODELS.md 2.2): the ten crops (torchvision TenCrop order: 4 corners
//            + centre, and the same of the mirror) at the model's input size, of the 48x48 image; their
//            logits averaged, then one softmax. Only for a model whose input is smaller than 48
//            (e.g. the 40x40 VGGNet)
//   rmn10    R000's protocol (MODELS.md 1.5): 10 random views per image from the training pipeline
//            (horizontal flip p = 0.5, rotation U(-30, 30) degrees, bilinear, zero fill), softmax
//            per view, summed. We report the mean (sum / 10): the same argmax, and rows that are
//            still probabilities. View v of image i uses augment key (epoch v, dataset index i)
//            with seed kRmn10Seed, so the views are the same on every run and on CPU and CUDA.
enum class Tta { none, flip, tencrop, rmn10 };
inline constexpr uint64_t kRmn10Seed = 1234;  // the RMN repository seeds imgaug with 1234
inline constexpr int kRmn10Views = 10;
Tta tta_from_name(const std::string& name);  // unknown names: an error listing the choices
const char* tta_name(Tta tta);
// Throws a clear fer::Error when `tta` cannot be used with the model (tencrop on a 48x48 model).
void check_tta(const LoadedModel& m, Tta tta);

// x [B, C, H, W] (any device) mirrored along W.
Tensor hflip_images(const Tensor& x);
// x [B, C, H, W] -> [B * 10, C, crop, crop]: the ten crops (kernels/augment.h ten_crop).
Tensor ten_crop_images(const Tensor& x, int64_t crop);

// usef-kh's ten-crop logits: `model` on the ten crops of `images` [B, C, 48, 48] at `crop`, the
// logits of each image's ten crops averaged -> [B, K] (the softmax comes after the mean).
Tensor ten_crop_mean_logits(nn::Module& model, const Tensor& images, int64_t crop);

// Softmax probabilities, row-major [indices.size(), num_classes], of the model on the images at
// `indices`, in batches of `batch_size` images (before augmentation); no gradients.
std::vector<float> predict_probs(const LoadedModel& m, const data::DeviceImages& images,
                                 const std::vector<int64_t>& indices, Tta tta, int64_t batch_size);

}  // namespace fer::tools
