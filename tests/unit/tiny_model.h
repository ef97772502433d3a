// tests/unit/tiny_model.h: the tiny training run shared by the CPU and CUDA tests.
#pragma once

#include <vector>

#include "nn/flat_params.h"
#include "nn/layers.h"
#include "nn/optimizer.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

namespace fer::test {

// conv3x3(1->8) - BN - ReLU - maxpool2 - flatten - linear(8*6*6 -> 4), Adam lr 1e-2, one batch of
// 16 random 12x12 images with labels i % 4, `steps` steps; returns the loss of every step.
inline std::vector<double> train_tiny_model(Device device, int steps) {
  manual_seed(7);
  auto model = std::make_shared<nn::Sequential>();
  model->add("conv", std::make_shared<nn::Conv2d>(1, 8, 3, 1, 1, true))
      .add("bn", std::make_shared<nn::BatchNorm2d>(8))
      .add("relu", std::make_shared<nn::Act>(Activation::relu))
      .add("pool", std::make_shared<nn::MaxPool2d>(2, 2))
      .add("flatten", std::make_shared<nn::Flatten>())
      .add("fc", std::make_shared<nn::Linear>(8 * 6 * 6, 4));
  model->to(device);
  nn::FlatParameters flat(*model);
  nn::OptimizerOptions o;
  o.lr = 1e-2;
  auto opt = nn::make_optimizer("adam", flat, o);
  Generator gen(11);
  Tensor x = Tensor::empty({16, 1, 12, 12});
  uniform_(x, 0.0, 1.0, gen);
  std::vector<int32_t> labels(16);
  for (int i = 0; i < 16; ++i) labels[static_cast<size_t>(i)] = i % 4;
  const Tensor xd = x.to(device), yd = Tensor::from_vector(labels, {16}, device);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    const Tensor loss = ops::cross_entropy((*model)(xd), yd);
    losses.push_back(loss.item());
    loss.backward();
    opt->step();
  }
  return losses;
}

}  // namespace fer::test
