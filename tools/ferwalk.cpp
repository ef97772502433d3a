// tools/ferwalk.cpp: the numbers behind docs/walkthrough.md. Follows real data through R000's model
// (the Residual Masking Network, models/rmn.h) on the CPU and prints the intermediate values that
// fertrain --trace only shows as shapes.
//
//   ferwalk mask [--seed S] [--width W] [--face I] [--pixel H,W] [--mask softmax|sigmoid]
//       one synthetic 48x48 face -> the model's input (3x224x224) -> stem + layer1 -> x; the first
//       masking block gives the mask logits z; y = x * (1 + M(z)); the rest of the network and the
//       cross-entropy give dy = dL/dy; the masking op's backward gives dx (direct path) and dz.
//       Prints the mask statistics and every channel at one pixel, next to the formulas of
//       kernels/notes/masking.md evaluated by hand, and checks that the pieces equal the full model.
//   ferwalk xent [--seed S] [--width W] [--batch B] [--no-weights]
//       a batch of B faces through the same model -> logits [B,7]; the weighted cross-entropy with
//       R000's class weights (MODELS.md 1.4) sample by sample, and its gradient dlogits next to
//       w_y (p - onehot) / W (kernels/notes/softmax_xent.md).
//
// The model is built exactly as fertrain builds it (manual_seed(seed), models::build_model), in
// training mode (batch statistics) with its Dropout off so the numbers are reproducible; the input
// batch comes from data::make_batch, fertrain's own path (no augmentation). f32, CPU, --threads 1
// by default: the printed numbers are the same on every run.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/synthetic.h"
#include "kernels/common.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

namespace {

using namespace fer;

// R000's weighted loss: N / (7 n_c) on FER2013's training split, fer7 order (MODELS.md 1.4).
const std::vector<float> kR000Weights = {1.0266f, 9.4066f, 1.0010f, 0.5684f, 0.8491f, 1.2934f, 0.8260f};

struct Walk {
  nn::ModulePtr model;
  models::ResNet* net = nullptr;
  std::vector<nn::Module*> masks;  // mask1..mask4
  MaskKind kind = MaskKind::softmax;
};

Walk build_rmn(uint64_t seed, double width, const std::string& mask) {
  Walk w;
  manual_seed(seed);
  w.kind = mask == "sigmoid" ? MaskKind::sigmoid : MaskKind::softmax;
  w.model = models::build_model("rmn", {7, width, mask});
  w.net = dynamic_cast<models::ResNet*>(w.model.get());
  FER_CHECK(w.net != nullptr, "ferwalk: rmn is not a ResNet");
  w.model->train(true);
  for (auto& [name, mod] : w.model->named_modules()) {
    if (mod->type_name() == "Dropout" || mod->type_name() == "DropPath") mod->eval();
    for (int s = 1; s <= 4; ++s)
      if (name == "mask" + std::to_string(s)) w.masks.push_back(mod);
  }
  FER_CHECK(w.masks.size() == 4, "ferwalk: expected modules mask1..mask4");
  return w;
}

// Faces 0..count-1 of the synthetic set (image i does not depend on count), as the model's input.
data::Batch faces(uint64_t seed, const std::vector<int64_t>& indices) {
  const int64_t count = *std::max_element(indices.begin(), indices.end()) + 1;
  const data::Dataset ds = data::make_synthetic_faces(count, seed);
  const data::DeviceImages images(ds, Device::cpu);
  const auto& spec = models::find_model("rmn");
  return data::make_batch(images, indices, {spec.input_channels, spec.input_size});
}

// The stem and stage 1 of ResNet::forward (models/resnet.cpp).
Tensor stem_and_layer1(const Walk& w, const Tensor& input) {
  const Tensor h = (*w.net->maxpool)(ops::relu((*w.net->bn1)((*w.net->conv1)(input))));
  return (*w.net->layers[0])(h);
}

// Stages 2..4 with their masking blocks, global average pool and the head.
Tensor rest(const Walk& w, const Tensor& y1) {
  Tensor h = y1;
  for (size_t s = 1; s < 4; ++s) {
    h = (*w.net->layers[s])(h);
    h = ops::mask_apply(h, (*w.masks[s])(h), w.kind);
  }
  return (*w.net->fc)(ops::global_avg_pool(h));
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

const char* class_name(int32_t k) {
  static const char* names[] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
  return k >= 0 && k < 7 ? names[k] : "?";
}

int run_mask(uint64_t seed, double width, int64_t face, std::string pixel_text, const std::string& mask) {
  Walk w = build_rmn(seed, width, mask);
  const data::Batch b = faces(seed, {face});
  const int32_t label = b.labels.to_vector<int32_t>()[0];
  std::printf("face %lld of the synthetic set (seed %llu): label %d (%s), 48x48 gray -> input %s\n",
              static_cast<long long>(face), static_cast<unsigned long long>(seed), label, class_name(label),
              shape_str(b.images.shape()).c_str());
  {
    const auto px = b.images.to_vector<float>();
    double lo = 1e9, hi = -1e9, sum = 0;
    for (float v : px) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v), sum += v;
    std::printf("input pixels: min %.4f, max %.4f, mean %.4f\n", lo, hi, sum / double(px.size()));
  }

  // Forward: x (a leaf, so its gradient can be read), z from the branch, y = x (1 + M).
  const Tensor x = stem_and_layer1(w, b.images).detach().requires_grad_();
  const Tensor z_graph = (*w.masks[0])(x);             // z as a function of x (the branch)
  const Tensor z = z_graph.detach().requires_grad_();  // the same values, a leaf: dz is readable
  const Tensor y = ops::mask_apply(x, z, w.kind);
  const Tensor y_leaf = y.detach().requires_grad_();
  const Tensor logits = rest(w, y_leaf);
  const Tensor loss = ops::cross_entropy(logits, b.labels);
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), P = H * W;
  std::printf("\nmask1 (depth 4, C = %lld): x %s -> z %s -> M %s -> y = x * (1 + M) %s\n", static_cast<long long>(C),
              shape_str(x.shape()).c_str(), shape_str(z.shape()).c_str(), shape_str(z.shape()).c_str(),
              shape_str(y.shape()).c_str());

  // The pieces equal the model: the full forward on the same input gives the same logits.
  const Tensor full = (*w.model)(b.images);
  std::printf("check: logits of the pieces vs the whole model: max |diff| = %.3g\n",
              max_abs_diff(logits.to_vector<float>(), full.to_vector<float>()));
  std::printf("loss (cross-entropy of this face, label %d) = %.6f\n", label, loss.item());

  // Mask statistics over the whole map.
  const Tensor M = w.kind == MaskKind::softmax ? ops::softmax(z, 1) : ops::sigmoid(z);
  const auto xv = x.to_vector<float>(), zv = z.to_vector<float>(), mv = M.to_vector<float>(), yv = y.to_vector<float>();
  {
    double lo = 1e9, hi = -1e9, sum = 0, worst_sum = 0;
    std::vector<int64_t> wins(static_cast<size_t>(C), 0);
    for (int64_t p = 0; p < P; ++p) {
      double s = 0;
      int64_t best = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double m = mv[static_cast<size_t>(c * P + p)];
        lo = std::min(lo, m), hi = std::max(hi, m), sum += m, s += m;
        if (m > mv[static_cast<size_t>(best * P + p)]) best = c;
      }
      worst_sum = std::max(worst_sum, std::fabs(s - 1.0));
      ++wins[static_cast<size_t>(best)];
    }
    std::printf("\nmask M over all %lld pixels x %lld channels: min %.6f, max %.6f, mean %.6f (1/C = %.6f)\n",
                static_cast<long long>(P), static_cast<long long>(C), lo, hi, sum / double(P * C), 1.0 / double(C));
    if (w.kind == MaskKind::softmax)
      std::printf("per pixel sum_c M: max |sum - 1| = %.3g\n", worst_sum);
    std::printf("channel with the largest M, pixels won:");
    for (int64_t c = 0; c < C; ++c) std::printf(" c%lld %lld", static_cast<long long>(c), static_cast<long long>(wins[static_cast<size_t>(c)]));
    std::printf("\n");
  }

  // Backward: dy from the rest of the network, then the masking op's backward alone.
  loss.backward();
  const Tensor dy = y_leaf.grad();
  y.backward(dy);
  const auto dyv = dy.to_vector<float>(), dxv = x.grad().to_vector<float>(), dzv = z.grad().to_vector<float>();
  // The branch: z's gradient flows back through the mask branch into x as well (the total dx).
  z_graph.backward(z.grad());
  const auto dx_total = x.grad().to_vector<float>();

  int64_t ph = H / 2, pw = W / 2;
  if (!pixel_text.empty()) {
    std::replace(pixel_text.begin(), pixel_text.end(), ',', ' ');
    std::istringstream in(pixel_text);
    FER_CHECK(in >> ph >> pw && ph >= 0 && ph < H && pw >= 0 && pw < W,
              "--pixel: expected H,W inside the " << H << "x" << W << " map, got '" << pixel_text << "'");
  }
  const int64_t p = ph * W + pw;
  double dot = 0;
  for (int64_t c = 0; c < C; ++c) {
    const size_t i = static_cast<size_t>(c * P + p);
    dot += double(dyv[i]) * xv[i] * mv[i];
  }
  std::printf("\npixel (h %lld, w %lld) of image 0, every channel:\n", static_cast<long long>(ph), static_cast<long long>(pw));
  std::printf("%4s %11s %11s %10s %11s %12s %12s %12s %12s %12s\n", "c", "x", "z", "M", "y", "dy", "dx=dy(1+M)",
              "dz", "dz formula", "dx total");
  double sum_m = 0, sum_dz = 0, worst_dx = 0, worst_dz = 0;
  for (int64_t c = 0; c < C; ++c) {
    const size_t i = static_cast<size_t>(c * P + p);
    const double m = mv[i];
    const double dz_formula = w.kind == MaskKind::softmax ? m * (double(dyv[i]) * xv[i] - dot)
                                                          : double(dyv[i]) * xv[i] * m * (1 - m);
    worst_dx = std::max(worst_dx, std::fabs(double(dyv[i]) * (1 + m) - dxv[i]));
    worst_dz = std::max(worst_dz, std::fabs(dz_formula - dzv[i]));
    sum_m += m, sum_dz += dzv[i];
    std::printf("%4lld %11.6f %11.6f %10.6f %11.6f %12.5e %12.5e %12.5e %12.5e %12.5e\n", static_cast<long long>(c),
                xv[i], zv[i], m, yv[i], dyv[i], dxv[i], dzv[i], dz_formula, dx_total[i]);
  }
  if (w.kind == MaskKind::softmax)
    std::printf("dot = sum_c dy x M = %.6e; sum_c M = %.6f; sum_c dz = %.3g\n", dot, sum_m, sum_dz);
  std::printf("check: max |dy (1 + M) - dx| = %.3g, max |dz formula - dz| = %.3g at this pixel\n", worst_dx, worst_dz);
  return 0;
}

int run_xent(uint64_t seed, double width, int64_t batch, bool weighted) {
  Walk w = build_rmn(seed, width, "");
  std::vector<int64_t> idx(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) idx[static_cast<size_t>(i)] = i;
  const data::Batch b = faces(seed, idx);
  const Tensor logits = (*w.model)(b.images).detach().requires_grad_();
  const Tensor weights = weighted ? Tensor::from_vector(kR000Weights, {7}) : Tensor();
  const Tensor loss = ops::cross_entropy(logits, b.labels, weights);
  loss.backward();
  const auto z = logits.to_vector<float>(), dz = logits.grad().to_vector<float>();
  const auto labels = b.labels.to_vector<int32_t>();
  const int64_t K = logits.size(1);
  std::printf("batch of %lld faces -> logits %s, labels %s; class weights: %s\n", static_cast<long long>(batch),
              shape_str(logits.shape()).c_str(), shape_str(b.labels.shape()).c_str(),
              weighted ? "R000 (MODELS.md 1.4)" : "none (all 1)");
  std::printf("%4s %-9s %8s %10s %10s %10s %12s %12s\n", "i", "label", "w_y", "p_y", "-log p_y", "w_y(-log)", "|dlogits_i|",
              "sum_j dz_ij");
  double num = 0, W = 0;
  std::vector<std::vector<double>> p(static_cast<size_t>(batch), std::vector<double>(static_cast<size_t>(K)));
  for (int64_t i = 0; i < batch; ++i) {
    const float* zi = z.data() + i * K;
    const double m = *std::max_element(zi, zi + K);
    double s = 0;
    for (int64_t j = 0; j < K; ++j) s += std::exp(double(zi[j]) - m);
    for (int64_t j = 0; j < K; ++j) p[static_cast<size_t>(i)][static_cast<size_t>(j)] = std::exp(double(zi[j]) - m) / s;
    const int32_t y = labels[static_cast<size_t>(i)];
    const double wy = weighted ? kR000Weights[static_cast<size_t>(y)] : 1.0;
    const double nll = std::log(s) - (double(zi[y]) - m);  // stable: log sum exp(z - m) - (z_y - m)
    double norm = 0, row = 0;
    for (int64_t j = 0; j < K; ++j) norm += double(dz[i * K + j]) * dz[i * K + j], row += dz[i * K + j];
    num += wy * nll, W += wy;
    std::printf("%4lld %-9s %8.4f %10.6f %10.6f %10.6f %12.6f %12.3g\n", static_cast<long long>(i), class_name(y), wy,
                p[static_cast<size_t>(i)][static_cast<size_t>(y)], nll, wy * nll, std::sqrt(norm), row);
  }
  std::printf("W = sum_i w_y_i = %.4f;  loss by hand = sum_i w_y_i (-log p_y_i) / W = %.6f;  ops::cross_entropy = %.6f\n",
              W, num / W, loss.item());
  double worst = 0;
  for (int64_t i = 0; i < batch; ++i) {
    const int32_t y = labels[static_cast<size_t>(i)];
    const double wy = weighted ? kR000Weights[static_cast<size_t>(y)] : 1.0;
    for (int64_t j = 0; j < K; ++j) {
      const double by_hand = wy * (p[static_cast<size_t>(i)][static_cast<size_t>(j)] - (j == y ? 1.0 : 0.0)) / W;
      worst = std::max(worst, std::fabs(by_hand - dz[i * K + j]));
    }
  }
  const int64_t show = std::min<int64_t>(batch - 1, 1);
  const int32_t ys = labels[static_cast<size_t>(show)];
  std::printf("\ndlogits of sample %lld (label %s) = w_y (p - onehot) / W:\n%4s %10s %10s %12s\n", static_cast<long long>(show),
              class_name(ys), "j", "p_j", "onehot", "dlogits");
  for (int64_t j = 0; j < K; ++j)
    std::printf("%4lld %10.6f %10d %12.6f\n", static_cast<long long>(j), p[static_cast<size_t>(show)][static_cast<size_t>(j)],
                j == ys ? 1 : 0, dz[show * K + j]);
  std::printf("check: max |w_y (p - onehot) / W - dlogits| over the batch = %.3g\n", worst);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferwalk: the numbers of docs/walkthrough.md: real data through R000's masking block (mask) and "
               "its weighted cross-entropy (xent), forward and backward, on the CPU."};
  app.set_version_flag("--version", "ferwalk (fer) 0.1");
  std::string mode, pixel, mask = "softmax";
  uint64_t seed = 1;
  double width = 0.0625;
  int64_t face = 0, batch = 7;
  int threads = 1;
  bool no_weights = false;
  app.add_option("mode", mode, "mask | xent")->required()->check(CLI::IsMember({"mask", "xent"}));
  app.add_option("--seed", seed, "seed of the model init and of the synthetic faces (default 1)");
  app.add_option("--width", width, "channel multiplier of the RMN (default 0.0625: mask1 has C = 4)");
  app.add_option("--face", face, "mask: index of the synthetic face (default 0)");
  app.add_option("--pixel", pixel, "mask: the pixel of the 56x56 map to print, H,W (default the centre)");
  app.add_option("--mask", mask, "mask: softmax (default) | sigmoid")->check(CLI::IsMember({"softmax", "sigmoid"}));
  app.add_option("--batch", batch, "xent: number of faces (default 7: one of each class)");
  app.add_flag("--no-weights", no_weights, "xent: plain (unweighted) cross-entropy");
  app.add_option("--threads", threads, "CPU threads (default 1: the same numbers on every machine's run)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    FER_CHECK(width > 0 && batch > 0 && face >= 0 && threads > 0, "--width, --batch, --threads must be > 0, --face >= 0");
    omp_set_num_threads(threads);
    return mode == "mask" ? run_mask(seed, width, face, pixel, mask) : run_xent(seed, width, batch, !no_weights);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferwalk: error: %s\n", e.what());
    return 2;
  }
}
