// tools/ferexport.cpp: a fer checkpoint (or a registry model) as an ONNX file.
//
//   ferexport --checkpoint runs/x/best.safetensors --out model.onnx [--softmax] [--sample DIR]
//   ferexport --model cnn6 [--width W] [--classes K] [--seed S] --out model.onnx   (fresh weights, each
//             layer scaled to unit output deviation (LSUV), batch-norm statistics from 4 random inputs)
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
#include <cmath>
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
#include "nn/layers.h"
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

// Fresh weights of a deep model without batch norm (VGG) give outputs that hardly depend on the
// input: the signal shrinks layer by layer. As in LSUV initialisation (Mishkin and Matas, 2016),
// each convolution and linear layer, in registration order, is scaled so that its output has unit
// standard deviation on random inputs (eval mode, no gradients).
void scale_fresh_weights(nn::Module& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  for (auto& [name, m] : model.named_modules()) {
    Tensor w, b;
    if (auto* c = dynamic_cast<nn::Conv2d*>(m)) w = c->weight, b = c->bias;
    else if (auto* l = dynamic_cast<nn::Linear*>(m)) w = l->weight, b = l->bias;
    else if (auto* t = dynamic_cast<nn::ConvTranspose2d*>(m)) w = t->weight, b = t->bias;
    else continue;
    m->capture(true);
    model(x);
    const Tensor out = m->captured_output();
    m->capture(false);
    if (!out.defined()) continue;  // not called by this forward
    const std::vector<float> v = out.to_vector<float>();
    double mean = 0, sq = 0;
    for (float e : v) mean += e;
    mean /= static_cast<double>(v.size());
    for (float e : v) sq += (e - mean) * (e - mean);
    const double sd = std::sqrt(sq / static_cast<double>(v.size()));
    if (!(sd > 1e-12)) continue;
    for (Tensor* t : {&w, &b}) {
      if (!t->defined()) continue;
      float* d = t->data<float>();
      for (int64_t i = 0; i < t->numel(); ++i) d[i] = static_cast<float>(d[i] / sd);
    }
  }
}

// Fresh batch norms hold mean 0 and variance 1, which makes the exported normalisation the identity
// and the outputs of a fresh model nearly the same for every input. One training-mode pass over
// random inputs with momentum 1 sets every running mean and variance to that batch's statistics.
void set_batch_norm_statistics(nn::Module& model, const Shape& batch_shape, uint64_t seed) {
  std::vector<std::pair<nn::BatchNorm2d*, double>> bns;
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) bns.emplace_back(bn, bn->momentum);
  if (bns.empty()) return;
  for (auto& [bn, momentum] : bns) bn->momentum = 1.0;
  Generator gen(seed + 11);
  Tensor x = Tensor::empty(batch_shape);
  uniform_(x, 0.0, 1.0, gen);
  {
    NoGradGuard no_grad;
    model.train();
    model(x);
    model.eval();
  }
  for (auto& [bn, momentum] : bns) bn->momentum = momentum;
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
      app.add_option("--model", model_name,
                     "a registry model with fresh weights (layers scaled to unit output deviation, batch-norm "
                     "statistics from 4 random inputs; fertrain --list-models)");
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
      // batch-norm statistics first, so the scaling sees the eval-mode network that is exported
      set_batch_norm_statistics(*model, {4, spec.input_channels, spec.input_size, spec.input_size}, seed);
      {
        Generator gen(seed + 13);
        Tensor probe = Tensor::empty({4, spec.input_channels, spec.input_size, spec.input_size});
        uniform_(probe, 0.0, 1.0, gen);
        scale_fresh_weights(*model, probe);
      }
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
