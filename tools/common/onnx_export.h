// tools/common/onnx_export.h: a fer model as an ONNX file (ferexport), written without any ONNX or
// protobuf library.
//
// How: the model runs an eval-mode forward pass on a batch of 2 under an op recorder
// (tensor/op_record.h), and a second one on a batch of 3 other inputs; the two must give the same
// ops, attributes and constants (else the graph depends on the input or the batch: refused). Each recorded op becomes one or a few ONNX nodes (opset 13); the model's
// parameters and buffers become initializers under their fer (= PyTorch state-dict) names; the
// input is "input" [N, C, H, W] with a symbolic batch N, the output "logits" [N, K] (or the model's
// output shape). Only the nodes the output depends on are written. The bytes are the protobuf
// encoding of onnx.proto's ModelProto (IR version 7), field numbers as in onnx.proto.
//
// Op mapping: conv2d -> Conv; conv_transpose2d -> ConvTranspose; batch_norm (eval statistics) ->
// BatchNormalization; batch_norm_act -> BatchNormalization + activation; activation relu/sigmoid ->
// Relu/Sigmoid, silu -> x * Sigmoid(x), gelu -> x * (1 + Erf(x / sqrt 2)) / 2; add_act -> Add +
// activation; add/sub/mul/div -> Add/Sub/Mul/Div; scale_shift -> Mul/Add by constants; linear ->
// Gemm (2-D input); max_pool2d/avg_pool2d -> MaxPool/AveragePool; global_avg_pool ->
// GlobalAveragePool + Flatten; reshape -> Reshape (batch dim 0 = "copy"); concat -> Concat; slice ->
// Slice; softmax/log_softmax -> Softmax/LogSoftmax; permute -> Transpose; mask_apply -> x * (1 +
// Softmax(z, axis 1) or Sigmoid(z)).
// A model that uses an op without a mapping (e.g. layer norm, batched matmul) is refused with the
// op's name, and so is a ceil-mode average pool whose last window leaves the padded input (ONNX
// runtimes disagree on its divisor): nothing is guessed, and no value computed from the input is
// frozen into a constant.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace fer::tools {

struct OnnxExportOptions {
  std::string graph_name = "fer";
  std::string producer_version;       // fer's version text
  std::string output_name = "logits";
  bool softmax = false;               // append a Softmax over the classes (output "probabilities")
  std::map<std::string, std::string> metadata;  // metadata_props (model name, classes, ...)
};

struct OnnxExport {
  std::string bytes;                        // the .onnx file's content
  std::vector<std::string> node_types;      // op_type of every node, in order
  int64_t initializers = 0;                 // parameters, buffers and constants
  int64_t parameter_values = 0;             // elements in initializers
  Shape output_shape;                       // at the traced batch
};

// `model` (CPU, f32) is put in eval mode. `input_shape` is one input [C, H, W] (the batch is symbolic).
OnnxExport export_onnx(nn::Module& model, const Shape& input_shape, const OnnxExportOptions& options);

}  // namespace fer::tools
