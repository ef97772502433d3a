// models/conv_shapes.h: every convolution a registered model runs, as a deduplicated shape list
// (what bench/bench_conv_cuda.cpp times, issue 6).
//
// conv_shapes() builds the model on the CPU, runs one eval-mode forward at batch 1 with an
// nn::set_forward_hook and records each nn::Conv2d (and nn::ConvTranspose2d) call: its input
// [N, C, H, W], output channels, kernel, stride, padding, groups and bias. Identical geometries are
// merged into one entry with `count` = how many calls of one forward have it (ResNet's repeated
// blocks), in order of first appearance. N is then scaled to the benchmark batch: n = recorded n *
// batch (a model that splits its batch internally keeps the proportion).
//
//   sum over entries of count * macs() at batch 1 = the conv part of the model's forward MACs
//   (MODELS.md: conv + transposed conv; linear and attention matmuls are the rest).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "models/registry.h"

namespace fer::models {

struct ConvShape {
  int64_t n = 1, c_in = 1, h_in = 1, w_in = 1;  // input x [N, Cin, H, W]
  int64_t c_out = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t groups = 1;
  int64_t dilation = 1;     // fer's convolutions have dilation 1 (kept for the bench's columns)
  bool bias = false;
  bool transposed = false;  // nn::ConvTranspose2d (geometry as ConvTranspose2dDims)
  int64_t count = 1;        // calls with this exact shape in one forward

  // Only for transposed == false / true respectively (fer::Error otherwise).
  Conv2dDims dims() const;
  ConvTranspose2dDims transposed_dims() const;
  int64_t h_out() const;
  int64_t w_out() const;
  // Multiply-accumulates of one call at this n (conv2d: N*Cout*Ho*Wo*Cin/G*kh*kw; transposed:
  // N*Cin*H*W*Cout/G*kh*kw).
  int64_t macs() const;
  // "n64 c16 46x46 -> k32 3x3 s1 p0 g1 bias" (transposed: "convT ..."), stable, for benchmark names.
  std::string str() const;
  // Same geometry (every field but count).
  bool same_geometry(const ConvShape& o) const;
};

// The convolutions of `model` (already built, on the CPU) for inputs [1, channels, size, size],
// merged and scaled to `batch`. The model is left in the training mode it had.
std::vector<ConvShape> conv_shapes(nn::Module& model, int64_t channels, int64_t size, int64_t batch);

// The same for a registered model (find_model(name): its input channels and size), built with `config`.
std::vector<ConvShape> conv_shapes(const std::string& model_name, int64_t batch, const ModelConfig& config = {});

// Sum of count * macs() over `shapes` (transposed ones included when `include_transposed`).
int64_t conv_macs(const std::vector<ConvShape>& shapes, bool include_transposed = true);

// Merges `more` into `into` (same geometry: counts add), keeping first-appearance order.
void merge_conv_shapes(std::vector<ConvShape>& into, const std::vector<ConvShape>& more);

}  // namespace fer::models
