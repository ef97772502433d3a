// tools/common/onnx_export.h: what the exporter writes for a small module, and what it refuses
// rather than export wrongly (the ONNX checker and the numeric comparison are in
// tests/tools/test_ferexport.cpp): a value computed from the input outside the recorded ops (a
// detach() in forward), a constant shaped by the batch, a ceil-mode average pool whose last window
// leaves the padded input, an op without a mapping.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "kernels/common.h"
#include "nn/layers.h"
#include "tensor/ops.h"
#include "tools/common/onnx_export.h"

using namespace fer;

namespace {

// conv -> ReLU -> (something) -> flatten -> linear, the something chosen by `kind`
class Probe : public nn::Module {
 public:
  explicit Probe(std::string kind) : kind_(std::move(kind)) {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(1, 2, 3, 1, 1));
    fc = register_module("fc", std::make_shared<nn::Linear>(kind_ == "avgpool_ceil" ? 2 * 3 * 3 : 2 * 5 * 5, 3));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = ops::relu((*conv)(x));
    if (kind_ == "detach") h = ops::mul(h, ops::sigmoid(h.detach()));  // a gate frozen at trace time
    if (kind_ == "batch_constant") h = ops::add(h, Tensor::zeros(h.shape()));
    if (kind_ == "avgpool_ceil") h = ops::avg_pool2d(h, ops::PoolOptions::make(2, 2, 0, true));  // 5 -> 3
    if (kind_ == "sum") h = ops::mul(h, ops::mean_dim(h, 1).reshape({h.size(0), 1, 5, 5}));       // no mapping
    return (*fc)(h.flatten(1));
  }
  std::string type_name() const override { return "Probe"; }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::Linear> fc;

 private:
  std::string kind_;
};

tools::OnnxExport export_probe(const std::string& kind) {
  Probe p(kind);
  return tools::export_onnx(p, {1, 5, 5}, tools::OnnxExportOptions{});
}

}  // namespace

TEST_CASE("onnx export: a small module's nodes, initializers and output") {
  const tools::OnnxExport e = export_probe("plain");
  CHECK(e.node_types == std::vector<std::string>{"Conv", "Relu", "Reshape", "Gemm"});
  CHECK(e.initializers == 5);  // conv.weight, conv.bias, fc.weight, fc.bias, the reshape's shape
  CHECK(e.parameter_values == 18 + 2 + 150 + 3 + 2);
  CHECK(e.output_shape == Shape{2, 3});  // at the traced batch of 2
  CHECK(e.bytes.find("conv.weight") != std::string::npos);
}

TEST_CASE("onnx export: refuses a graph that changes with the input or the batch") {
  // the detached gate: a constant at trace time, different at another batch and input
  CHECK_THROWS_WITH_AS(export_probe("detach"), doctest::Contains("not the same graph at batch 2 and 3"), Error);
  // a constant shaped by the batch
  CHECK_THROWS_WITH_AS(export_probe("batch_constant"), doctest::Contains("not the same graph"), Error);
  // an average pool whose ceil-mode window leaves the padded input: runtimes disagree on its divisor
  CHECK_THROWS_WITH_AS(export_probe("avgpool_ceil"), doctest::Contains("past the padded input"), Error);
  // an op without a mapping: named
  CHECK_THROWS_WITH_AS(export_probe("sum"), doctest::Contains("MeanDimBackward"), Error);
}
