// tools/ferexport.cpp: a fer checkpoint (or a registry model) as an ONNX file.
//
//   ferexport --checkpoint runs/x/best.safetensors --out model.onnx [--softmax] [--sample DIR]
//   ferexport --model cnn6 [--width W] [--classes K] [--seed S] --out model.onnx   (fresh weights)
//
// The ONNX model (opset 13, tools/common/onnx_export.h) takes "input" [N, C, H, W] float32, the
// tensor fer's own programs feed the model: the 48x48 gray face, pixel / 255 in [0, 1], resized
// to the model's input size and repeated to C channels (data/loader.h); the batch N is symbolic.
// Its output is "logits" [N, K] in the checkpoint's class order (metadata fer.classes), or with
// --softmax "probabilities". Metadata: fer.model, fer.classes, fer.class_set, fer.input.
//
// --sample DIR also writes DIR/input.npy (4 deterministic inputs in [0, 1]) and DIR/output.npy
// (fer's output for them), so any ONNX runtime can be checked against fer:
//   /usr/bin/python3 tools/onnx_check.py model.onnx DIR    (the official onnx checker + a NumPy run)
// A model with an op that has no ONNX mapping is refused with the op's name (exit status 1).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "kernels/common.h"
#include "models/registry.h"
#include "tensor/atomic_file.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tools/common/build_info.h"
#include "tools/common/checkpoint_model.h"
#include "tools/common/onnx_export.h"

namespace {

using namespace fer;

// A little-endian float32 .npy file (NumPy format 1.0).
std::string npy_f32(const Tensor& t) {
  std::ostringstream shape;
  shape << "(";
  for (size_t i = 0; i < t.shape().size(); ++i)
    shape << t.shape()[i] << (t.shape().size() == 1 || i + 1 < t.shape().size() ? ", " : "");
  shape << ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  const size_t unpadded = 10 + header.size() + 1;  // magic, version, length, header, newline
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  const std::vector<float> v = t.to_vector<float>();
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferexport: a fer checkpoint or registry model as an ONNX file (opset 13)."};
  app.set_version_flag("--version", fer::tools::version_text("ferexport"));
  std::string checkpoint, model_name, out, sample_dir;
  double width = 1.0;
  int64_t classes = 0;
  uint64_t seed = 1;
  bool softmax = false;
  auto* ckpt_opt = app.add_option("--checkpoint", checkpoint, "fer checkpoint (best.safetensors of a fertrain run)");
  auto* model_opt =
      app.add_option("--model", model_name, "a registry model with fresh weights (see fertrain --list-models)");
  ckpt_opt->excludes(model_opt);
  app.add_option("--width", width, "--model: channel width multiplier");
  app.add_option("--classes", classes, "--model: number of classes (default: the model's)");
  app.add_option("--seed", seed, "--model: seed of the fresh weights");
  app.add_option("--out", out, "the .onnx file to write")->required();
  app.add_flag("--softmax", softmax, "end the graph with a softmax: output 'probabilities' instead of 'logits'");
  app.add_option("--sample", sample_dir, "also write DIR/input.npy and DIR/output.npy (fer's output) for checking");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    FER_CHECK(!checkpoint.empty() || !model_name.empty(), "give --checkpoint CKPT or --model NAME");
    for (const char* flag : {"--width", "--classes", "--seed"})
      FER_CHECK(model_name.empty() == false || app.count(flag) == 0, flag << " applies to --model only");
    nn::ModulePtr model;
    fer::tools::OnnxExportOptions opt;
    opt.producer_version = fer::tools::version_text("ferexport");
    opt.softmax = softmax;
    if (softmax) opt.output_name = "probabilities";
    Shape input;
    std::string what;
    if (!checkpoint.empty()) {
      fer::tools::LoadedModel m = fer::tools::load_model_from_checkpoint(checkpoint, Device::cpu);
      fer::tools::require_classifier(m, "ferexport");
      model = m.model;
      input = {m.input.channels, m.input.size, m.input.size};
      opt.graph_name = m.name;
      opt.metadata["fer.model"] = m.name;
      opt.metadata["fer.classes"] = nlohmann::json(m.classes.names).dump();
      opt.metadata["fer.class_set"] = m.classes.id;
      what = checkpoint + " (" + m.name + ", " + m.classes.id + ")";
    } else {
      const models::ModelSpec& spec = models::find_model(model_name);
      FER_CHECK(spec.default_classes != 0, "--model " << model_name
                                                       << " is not a classifier; ferexport exports classifiers");
      models::ModelConfig mc;
      mc.width = width;
      mc.num_classes = classes > 0 ? classes : spec.default_classes;
      FER_CHECK(width > 0, "--width must be > 0, got " << width);
      manual_seed(seed);
      model = models::build_model(model_name, mc);
      input = {spec.input_channels, spec.input_size, spec.input_size};
      opt.graph_name = model_name;
      opt.metadata["fer.model"] = model_name;
      if (mc.num_classes == 7) {
        opt.metadata["fer.classes"] = nlohmann::json(data::fer7_classes().names).dump();
        opt.metadata["fer.class_set"] = "fer7";
      }
      std::ostringstream s;
      s << model_name << " with fresh weights (width " << width << ", " << mc.num_classes << " classes, seed " << seed
        << ")";
      what = s.str();
    }
    std::ostringstream in_text;
    in_text << "float32 [N, " << input[0] << ", " << input[1] << ", " << input[2]
            << "]: 48x48 gray face, pixel/255 in [0,1], resized to " << input[1] << "x" << input[2] << ", repeated to "
            << input[0] << " channel(s)";
    opt.metadata["fer.input"] = in_text.str();

    const fer::tools::OnnxExport e = fer::tools::export_onnx(*model, input, opt);
    if (const auto parent = std::filesystem::path(out).parent_path(); !parent.empty())
      std::filesystem::create_directories(parent);
    write_file_atomic(out, e.bytes);
    std::map<std::string, int> counts;
    for (const std::string& t : e.node_types) counts[t]++;
    std::ostringstream ops;
    for (const auto& [t, n] : counts) ops << (ops.tellp() > 0 ? ", " : "") << t << " " << n;
    std::printf("model:   %s\n", what.c_str());
    std::printf("onnx:    %s (%zu bytes, opset 13, IR 7)\n", out.c_str(), e.bytes.size());
    std::printf("graph:   %zu nodes (%s), %lld initializers (%lld values)\n", e.node_types.size(), ops.str().c_str(),
                static_cast<long long>(e.initializers), static_cast<long long>(e.parameter_values));
    std::printf("input:   %s\n", in_text.str().c_str());
    std::printf("output:  %s [N, %lld]\n", opt.output_name.c_str(),
                static_cast<long long>(e.output_shape.size() > 1 ? e.output_shape[1] : 1));

    if (!sample_dir.empty()) {
      std::filesystem::create_directories(sample_dir);
      Generator gen(seed + 7);
      Tensor x = Tensor::empty({4, input[0], input[1], input[2]});
      uniform_(x, 0.0, 1.0, gen);
      Tensor y;
      {
        NoGradGuard no_grad;
        model->eval();
        y = (*model)(x);
        if (softmax) y = ops::softmax(y, 1);
      }
      write_file_atomic(sample_dir + "/input.npy", npy_f32(x));
      write_file_atomic(sample_dir + "/output.npy", npy_f32(y));
      std::printf("sample:  %s/input.npy %s, %s/output.npy %s (fer's output)\n", sample_dir.c_str(),
                  shape_str(x.shape()).c_str(), sample_dir.c_str(), shape_str(y.shape()).c_str());
      std::printf("check:   /usr/bin/python3 tools/onnx_check.py %s %s\n", out.c_str(), sample_dir.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferexport: %s\n", e.what());
    return 1;
  }
}
