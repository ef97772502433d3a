// A tiny model (conv-BN-ReLU-pool-linear) trained for 50 steps on one generated batch: the loss
// must fall at least 10x (the foundation issue's end-to-end check of ops + autograd + optimizer).
// tests/cuda/test_tiny_training_cuda.cpp runs the same on CUDA and compares the losses.
#include <doctest/doctest.h>

#include "tests/unit/tiny_model.h"

using namespace fer;

TEST_CASE("tiny conv-BN-ReLU-pool-linear model: 50 Adam steps cut the loss at least 10x (CPU)") {
  const std::vector<double> losses = test::train_tiny_model(Device::cpu, 50);
  MESSAGE("tiny model loss: first " << losses.front() << ", last " << losses.back());
  CHECK(losses.back() < losses.front() / 10.0);
}
