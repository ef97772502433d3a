// tools/common/reconstruction.h: the reconstruction task (R003's autoencoder, MODELS.md 5.2):
// per-image reconstruction errors and the percentile cut that turns them into outliers.
//
// A reconstruction model (registry default_classes == 0) maps a batch x [B, 1, 48, 48] in [0, 1]
// (data::make_batch: pixel / 255, the same input fertrain trains on) to x_hat of the same shape.
// Its score for image i is the mean squared error over its pixels,
//   e_i = sum_p (x_hat_ip - x_ip)^2 / P,   P = C * H * W (2,304 for 1 x 48 x 48),
// which is also the training loss (the mean of e_i over a batch). fertrain logs the mean over a split
// as the val loss; ferclean --autoencoder flags the Training images whose e_i exceeds the given
// percentile of all Training scores.
#pragma once

#include <cstdint>
#include <vector>

#include "data/loader.h"
#include "nn/module.h"

namespace fer::tools {

// e_i of `model` on the images at `indices` (in that order), in batches of `batch_size`, in eval mode
// and without gradients; the model's train/eval mode is restored. The model's output must have the
// input's shape (a clear fer::Error otherwise, e.g. for a classifier).
std::vector<double> reconstruction_errors(nn::Module& model, const data::DeviceImages& images,
                                          const std::vector<int64_t>& indices, const data::InputSpec& input,
                                          int64_t batch_size);

// The q-th percentile (q in [0, 100]) of `values` with linear interpolation between the two nearest
// ranks, numpy.percentile's default ('linear'): with v sorted ascending and h = (n - 1) q / 100,
//   result = v[floor(h)] + (h - floor(h)) (v[floor(h) + 1] - v[floor(h)]).
// Empty values, q outside [0, 100] or a non-finite value are a fer::Error.
double percentile_linear(std::vector<double> values, double q);

}  // namespace fer::tools
