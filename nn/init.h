// nn/init.h: parameter initialisation (in place, no autograd), PyTorch's formulas.
//
//   fan_in  = in_channels/groups * kh * kw (conv) or in_features (linear)
//   fan_out = out_channels * kh * kw / groups... as PyTorch computes it from the weight shape:
//             fan_in = shape[1] * receptive, fan_out = shape[0] * receptive, receptive = prod(shape[2:])
//   kaiming_uniform(a):  U(-b, b), b = gain * sqrt(3 / fan),  gain = sqrt(2 / (1 + a^2))
//   kaiming_normal:      N(0, std), std = gain / sqrt(fan)
//   PyTorch's default for Conv/Linear weights is kaiming_uniform(a = sqrt(5), fan_in), i.e.
//   b = 1/sqrt(fan_in); biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//   xavier_uniform:      U(-b, b), b = sqrt(6 / (fan_in + fan_out))
//   trunc_normal(std):   N(0, std) redrawn outside [-2 std, 2 std] (ViT)
//   Keras' default for Conv2D/Dense is a Glorot-uniform kernel (= xavier_uniform) and a zero bias;
//   BatchNormalization starts at gamma 1, beta 0 (as nn::BatchNorm2d already does).
#pragma once

#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace fer::nn {
class Module;
}

namespace fer::nn::init {

enum class FanMode { fan_in, fan_out };

int64_t fan(const Tensor& weight, FanMode mode);
void kaiming_uniform(Tensor& w, double a, FanMode mode, Generator& gen = default_generator());
void kaiming_normal(Tensor& w, double a, FanMode mode, Generator& gen = default_generator());
void xavier_uniform(Tensor& w, Generator& gen = default_generator());
void trunc_normal(Tensor& w, double stddev, Generator& gen = default_generator());
// PyTorch's default Conv/Linear initialisation of a weight and its bias (bias may be undefined).
void pytorch_default(Tensor& weight, Tensor& bias, Generator& gen = default_generator());
// Keras' default Conv2D/Dense initialisation: Glorot-uniform weight, zero bias (bias may be undefined).
void keras_default(Tensor& weight, Tensor& bias, Generator& gen = default_generator());
// keras_default on every Conv2d and Linear in `m` (m itself included), in named_modules() order, and
// gamma 1, beta 0 on every BatchNorm2d (R002's Keras models; MODELS.md section 4).
void keras_init(Module& m, Generator& gen = default_generator());

}  // namespace fer::nn::init
