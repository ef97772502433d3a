// nn/flat_params.h: all parameters of a model in one flat buffer, all gradients in another.
//
// After FlatParameters(model) every parameter tensor of the model is a view into values() and its
// .grad a view into grads() (same order as named_parameters()). Optimizers then update the model
// with one fused kernel per contiguous run of trainable parameters, gradient clipping reduces one
// buffer, zero_grad is one memset, and a future data-parallel all-reduce has one buffer to reduce.
// Build it after the model is on its device; moving the model afterwards is an error.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace fer::nn {

class FlatParameters {
 public:
  struct Entry {
    std::string name;
    Tensor param;     // view into values()
    int64_t offset;   // first element in the flat buffers
    int64_t count;
  };

  explicit FlatParameters(Module& model);

  Tensor& values() { return values_; }
  Tensor& grads() { return grads_; }
  const std::vector<Entry>& entries() const { return entries_; }
  int64_t size() const { return values_.numel(); }
  Device device() const { return values_.device(); }
  // Maximal runs [offset, offset + count) of consecutive parameters that currently require a
  // gradient (frozen parameters are skipped by the optimizer).
  std::vector<std::pair<int64_t, int64_t>> trainable_runs() const;
  void zero_grad() { grads_.zero_(); }

 private:
  Tensor values_, grads_;
  std::vector<Entry> entries_;
};

}  // namespace fer::nn
