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
//   ferwalk optim [--optimizer sgd|adam|adamw|radam] [--steps T]
//       one parameter element p0 = 0.5 with the gradient g_t = cos(1.3 t) for T steps through the
//       engine's optimizer kernel (kernels/optim.h, the code fertrain runs), next to the formulas of
//       kernels/notes/optim.md evaluated by hand in double: m, v, the bias corrections, RAdam's rho_t
//       and rectification, the update.
//   ferwalk augment [--preset NAME] [--seed S] [--epoch E] [--face I] [--pixel H,W]
//       one synthetic face through the augmentation of fertrain (data::make_batch with the preset):
//       the parameters drawn for (seed, epoch, face), the inverse map of kernels/notes/augment.md, and
//       one output pixel as the bilinear sample of the source computed by hand.
//   ferwalk bn [--act relu|silu|none] [--seed S] [--channel C] [--n N --c C --h H --w W]
//       one batch-norm channel (default x [2,3,3,3], channel 0: M = 18 values), training mode,
//       forward and backward by hand in double next to kernels/notes/batchnorm.md and
//       batchnorm_act.md: mean, var, invstd, x_hat, z, y = act(z), the running-stat update; dz, dbeta,
//       dgamma, dx for L = sum(y dy). Compared with the fused ops::batch_norm_act and the unfused
//       ops::activation(ops::batch_norm) in f64 (max |diff|), and one dx by central differences.
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
#include "kernels/augment.h"
#include "kernels/batchnorm.h"
#include "kernels/optim.h"
#include "kernels/common.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tools/common/build_info.h"

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

// ---- optim: one element through the optimizer kernels ----------------------------------------------
int run_optim(const std::string& name, int64_t steps) {
  FER_CHECK(steps >= 1 && steps <= 1000, "--steps must be in [1, 1000]");
  const bool sgd = name == "sgd", radam = name == "radam";
  SgdConfig sc;
  sc.lr = 0.1, sc.momentum = 0.9, sc.weight_decay = 0.01, sc.nesterov = true;
  AdamConfig ac;
  ac.lr = 0.1, ac.weight_decay = 0.01, ac.decoupled_weight_decay = name != "adam";
  std::printf("ferwalk optim: %s on one element, p0 = 0.5, g_t = cos(1.3 t), ", name.c_str());
  if (sgd)
    std::printf("lr %g, momentum %g (Nesterov), L2 weight decay %g\n", sc.lr, sc.momentum, sc.weight_decay);
  else
    std::printf("lr %g, betas (%g, %g), eps %g, %s weight decay %g\n", ac.lr, ac.beta1, ac.beta2, ac.eps,
                ac.decoupled_weight_decay ? "decoupled" : "L2", ac.weight_decay);
  double p = 0.5, buf = 0, m = 0, v = 0;                // the engine's state (cpu:: kernels, double)
  double hp = 0.5, hb = 0, hm = 0, hv = 0;              // the same by hand
  double worst = 0;
  if (sgd)
    std::printf("%4s %10s %12s %12s %14s %14s\n", "t", "g", "d", "b", "p (engine)", "p (by hand)");
  else if (!radam)
    std::printf("%4s %10s %12s %12s %10s %10s %14s %14s\n", "t", "g", "m", "v", "bc1", "bc2", "p (engine)",
                "p (by hand)");
  else
    std::printf("%4s %10s %12s %12s %9s %9s %14s %14s\n", "t", "g", "m", "v", "rho_t", "r", "p (engine)", "p (by hand)");
  for (int64_t t = 1; t <= steps; ++t) {
    const double g = std::cos(1.3 * static_cast<double>(t));
    if (sgd) {
      cpu::sgd_step<double>(1, &p, &g, &buf, sc, t);
      double d = g + sc.weight_decay * hp;                      // L2 decay is a gradient term
      hb = t == 1 ? d : sc.momentum * hb + d;                    // PyTorch starts the buffer at d
      d = d + sc.momentum * hb;                                  // Nesterov look-ahead
      hp = hp - sc.lr * d;
      std::printf("%4lld %10.6f %12.6f %12.6f %14.9f %14.9f\n", static_cast<long long>(t), g, d, hb, p, hp);
    } else {
      double gg = g;
      if (radam)
        cpu::radam_step<double>(1, &p, &gg, &m, &v, ac, t);
      else
        cpu::adam_step<double>(1, &p, &gg, &m, &v, ac, t, nullptr);
      double ge = g;
      if (ac.decoupled_weight_decay)
        hp = hp * (1 - ac.lr * ac.weight_decay);                 // decoupled: p shrinks directly
      else
        ge = g + ac.weight_decay * hp;                           // L2: through the moments
      hm = ac.beta1 * hm + (1 - ac.beta1) * ge;
      hv = ac.beta2 * hv + (1 - ac.beta2) * ge * ge;
      const double bc1 = 1 - std::pow(ac.beta1, static_cast<double>(t));
      const double bc2 = 1 - std::pow(ac.beta2, static_cast<double>(t));
      if (!radam) {
        hp = hp - (ac.lr / bc1) * hm / (std::sqrt(hv) / std::sqrt(bc2) + ac.eps);
        std::printf("%4lld %10.6f %12.6g %12.6g %10.6f %10.6f %14.9f %14.9f\n", static_cast<long long>(t), g, hm, hv,
                    bc1, bc2, p, hp);
      } else {
        const double rho_inf = 2 / (1 - ac.beta2) - 1;
        const double rho_t = rho_inf - 2 * static_cast<double>(t) * std::pow(ac.beta2, static_cast<double>(t)) / bc2;
        double r = 0;
        if (rho_t > 5) {
          r = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
          hp = hp - ac.lr * (hm / bc1) * r * std::sqrt(bc2) / (std::sqrt(hv) + ac.eps);
        } else {
          hp = hp - ac.lr * hm / bc1;                            // too few samples: momentum step only
        }
        std::printf("%4lld %10.6f %12.6g %12.6g %9.4f %9.6f %14.9f %14.9f\n", static_cast<long long>(t), g, hm, hv,
                    rho_t, r, p, hp);
      }
    }
    worst = std::max(worst, std::fabs(p - hp));
  }
  std::printf("check: max |p (engine) - p (by hand)| over %lld steps = %.3g\n", static_cast<long long>(steps), worst);
  return worst <= 1e-12 ? 0 : 1;
}

// ---- augment: one face through fertrain's augmentation ---------------------------------------------
int run_augment(const std::string& preset, uint64_t seed, int64_t epoch, int64_t face, const std::string& pixel) {
  const data::Dataset ds = data::make_synthetic_faces(std::max<int64_t>(face + 1, 8), seed);
  const data::DeviceImages images(ds, Device::cpu);
  const AugmentSpec spec = augment_preset(preset);
  const int64_t side = data::kImageSide;
  const uint64_t key = augment_key(epoch, face);
  const AugmentParams p = draw_augment_params(spec, seed, key);
  std::printf("ferwalk augment: preset %s, seed %llu, epoch %lld, face %lld (key 0x%016llx)\n", preset.c_str(),
              static_cast<unsigned long long>(seed), static_cast<long long>(epoch), static_cast<long long>(face),
              static_cast<unsigned long long>(key));
  std::printf("drawn: flip %d, angle %.4f deg, translate (%.4f, %.4f) of the side, zoom %.4f\n", p.flip, p.angle_deg,
              p.tx, p.ty, p.zoom);
  std::printf("       crop x %.4f y %.4f w %.4f h %.4f (fractions of the input), erase %d", p.crop_x, p.crop_y, p.crop_w,
              p.crop_h, p.erase);
  if (p.erase) std::printf(" at x %.4f y %.4f w %.4f h %.4f", p.erase_x, p.erase_y, p.erase_w, p.erase_h);
  std::printf("\n");
  const AugmentMap<double> m = augment_map<double>(spec, p, side, side, side, side);
  std::printf("inverse map: (u, v) = [%.6f %.6f; %.6f %.6f] (ox + 0.5, oy + 0.5) + (%.6f, %.6f)\n", m.a00, m.a01, m.a10,
              m.a11, m.a02, m.a12);
  int64_t oy = side / 2, ox = side / 2;
  if (!pixel.empty()) {
    const auto comma = pixel.find(',');
    FER_CHECK(comma != std::string::npos, "--pixel: expected H,W, got '" << pixel << "'");
    oy = std::stoll(pixel.substr(0, comma));
    ox = std::stoll(pixel.substr(comma + 1));
  }
  FER_CHECK(oy >= 0 && oy < side && ox >= 0 && ox < side, "--pixel must lie in the 48x48 output");
  // the engine: fertrain's batch path
  const data::Batch b = data::make_batch(images, {face}, {1, side}, {spec, epoch, seed, 0.0f, 1.0f});
  const float engine = b.images.to_vector<float>()[static_cast<size_t>(oy * side + ox)];
  // by hand: the source point, its four neighbours (zero outside) and the bilinear weights
  const double u = m.a00 * (ox + 0.5) + m.a01 * (oy + 0.5) + m.a02;
  const double v = m.a10 * (ox + 0.5) + m.a11 * (oy + 0.5) + m.a12;
  const double sx = u - 0.5, sy = v - 0.5;  // pixel centres at +0.5
  const int64_t x0 = static_cast<int64_t>(std::floor(sx)), y0 = static_cast<int64_t>(std::floor(sy));
  const double fx = sx - static_cast<double>(x0), fy = sy - static_cast<double>(y0);
  const uint8_t* img = ds.image(face);
  auto src = [&](int64_t y, int64_t x) -> double {
    return (y < 0 || y >= side || x < 0 || x >= side) ? 0.0 : img[y * side + x];
  };
  const double s00 = src(y0, x0), s01 = src(y0, x0 + 1), s10 = src(y0 + 1, x0), s11 = src(y0 + 1, x0 + 1);
  const double val = (1 - fy) * ((1 - fx) * s00 + fx * s01) + fy * ((1 - fx) * s10 + fx * s11);
  const bool erased = augment_erased(m, oy, ox);
  const double hand = erased ? spec.erase_value : val / 255.0;
  std::printf("output pixel (%lld, %lld) <- source point (u, v) = (%.4f, %.4f): neighbours [%g %g; %g %g] at (%lld, %lld), "
              "weights fx %.4f fy %.4f\n",
              static_cast<long long>(oy), static_cast<long long>(ox), u, v, s00, s01, s10, s11,
              static_cast<long long>(y0), static_cast<long long>(x0), fx, fy);
  std::printf("value: by hand %.6f%s, engine %.6f, |difference| %.2g\n", hand, erased ? " (erased)" : " (= sample / 255)",
              static_cast<double>(engine), std::fabs(hand - engine));
  return std::fabs(hand - engine) <= 1e-5 ? 0 : 1;
}

// ---- bn: one batch-norm channel, forward and backward, by hand -------------------------------------
// The formulas of kernels/notes/batchnorm.md and batchnorm_act.md evaluated in double with plain
// loops, for every channel; the engine's f64 CPU ops on the same tensors; L = sum(y dy) so dL/dy = dy.
struct BnHand {
  double mean = 0, var = 0, invstd = 0, dbeta = 0, dgamma = 0, run_mean = 0, run_var = 0;
  std::vector<double> x_hat, z, y, dz, dx;
};

double act_fwd(const std::string& act, double z) {
  if (act == "relu") return z > 0 ? z : 0.0;
  if (act == "silu") return z / (1 + std::exp(-z));
  return z;
}

double act_grad(const std::string& act, double z) {  // act'(z)
  if (act == "relu") return z > 0 ? 1.0 : 0.0;
  if (act == "silu") {
    const double s = 1 / (1 + std::exp(-z));
    return s * (1 + z * (1 - s));
  }
  return 1.0;
}

// The M values of channel c of x [N,C,H,W] (NCHW contiguous), in (n, h, w) order.
std::vector<double> channel_of(const std::vector<double>& t, const BatchNormDims& d, int64_t c) {
  std::vector<double> v;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t k = 0; k < d.hw(); ++k) v.push_back(t[static_cast<size_t>((n * d.c + c) * d.hw() + k)]);
  return v;
}

BnHand bn_by_hand(const std::vector<double>& x, const std::vector<double>& dy, double gamma, double beta,
                  const std::string& act, double eps, double momentum) {
  BnHand h;
  const size_t M = x.size();
  for (double v : x) h.mean += v;
  h.mean /= double(M);
  for (double v : x) h.var += (v - h.mean) * (v - h.mean);  // two-pass, biased
  h.var /= double(M);
  h.invstd = 1 / std::sqrt(h.var + eps);
  for (size_t i = 0; i < M; ++i) {
    h.x_hat.push_back((x[i] - h.mean) * h.invstd);
    h.z.push_back(gamma * h.x_hat[i] + beta);
    h.y.push_back(act_fwd(act, h.z[i]));
    h.dz.push_back(act == "relu" ? (h.z[i] > 0 ? dy[i] : 0.0) : act_grad(act, h.z[i]) * dy[i]);  // no -0
    h.dbeta += h.dz[i];
    h.dgamma += h.dz[i] * h.x_hat[i];
  }
  for (size_t i = 0; i < M; ++i)
    h.dx.push_back(gamma * h.invstd * (h.dz[i] - h.dbeta / double(M) - h.x_hat[i] * h.dgamma / double(M)));
  h.run_mean = (1 - momentum) * 0.0 + momentum * h.mean;                      // running_mean starts at 0
  h.run_var = (1 - momentum) * 1.0 + momentum * h.var * double(M) / double(M - 1);  // running_var at 1
  return h;
}

struct BnEngine {
  std::vector<double> y, dx, dgamma, dbeta, run_mean, run_var;
};

// One engine path on copies of the inputs: forward (training, running stats 0 / 1), L = sum(y dy),
// backward. fused: ops::batch_norm_act; else ops::activation(ops::batch_norm(...)) (act none: no act).
BnEngine bn_engine(const Tensor& x0, const Tensor& g0, const Tensor& b0, const Tensor& dy, const std::string& act,
                   bool fused, double eps, double momentum) {
  const int64_t C = x0.size(1);
  const Tensor x = x0.clone().requires_grad_(), g = g0.clone().requires_grad_(), b = b0.clone().requires_grad_();
  const Tensor rm = Tensor::zeros({C}, DType::f64), rv = Tensor::ones({C}, DType::f64);
  const Activation a = act == "silu" ? Activation::silu : Activation::relu;
  Tensor y;
  if (fused)
    y = ops::batch_norm_act(x, g, b, rm, rv, true, momentum, eps, a);
  else {
    y = ops::batch_norm(x, g, b, rm, rv, true, momentum, eps);
    if (act != "none") y = ops::activation(y, a);
  }
  ops::sum(ops::mul(y, dy)).backward();
  return {y.to_vector<double>(),  x.grad().to_vector<double>(), g.grad().to_vector<double>(),
          b.grad().to_vector<double>(), rm.to_vector<double>(), rv.to_vector<double>()};
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

int run_bn(const std::string& act, uint64_t seed, int64_t channel, const BatchNormDims& d) {
  FER_CHECK(act == "relu" || act == "silu" || act == "none", "--act must be relu, silu or none, got '" << act << "'");
  FER_CHECK(d.n >= 1 && d.c >= 1 && d.h >= 1 && d.w >= 1 && d.size() <= 1000000,
            "--n, --c, --h, --w must be >= 1 (at most 1e6 elements), got " << d.n << "," << d.c << "," << d.h << ","
                                                                             << d.w);
  FER_CHECK(d.m() > 1, "N*H*W must be > 1 (the variance of one value per channel), got " << d.m());
  FER_CHECK(channel >= 0 && channel < d.c, "--channel must be in [0, " << d.c << "), got " << channel);
  const double eps = 1e-5, momentum = 0.1;
  const int64_t M = d.m(), c = channel;
  Generator gen(seed);
  Tensor x = Tensor::empty({d.n, d.c, d.h, d.w}, DType::f64), dy = Tensor::empty(x.shape(), DType::f64);
  Tensor gamma = Tensor::empty({d.c}, DType::f64), beta = Tensor::empty({d.c}, DType::f64);
  normal_(x, 1.0, 2.0, gen);
  uniform_(gamma, 0.5, 1.5, gen);
  uniform_(beta, -0.5, 0.5, gen);
  normal_(dy, 0.0, 1.0, gen);
  const auto xv = x.to_vector<double>(), dyv = dy.to_vector<double>();
  const auto gv = gamma.to_vector<double>(), bv = beta.to_vector<double>();

  // By hand, every channel (the engine is compared over the whole tensor); channel c is printed.
  std::vector<BnHand> hand;
  std::vector<double> hy(xv.size()), hdx(xv.size()), hdg, hdb, hrm, hrv;
  for (int64_t k = 0; k < d.c; ++k) {
    hand.push_back(bn_by_hand(channel_of(xv, d, k), channel_of(dyv, d, k), gv[static_cast<size_t>(k)],
                              bv[static_cast<size_t>(k)], act, eps, momentum));
    const BnHand& h = hand.back();
    for (int64_t n = 0, i = 0; n < d.n; ++n)
      for (int64_t p = 0; p < d.hw(); ++p, ++i) {
        const size_t at = static_cast<size_t>((n * d.c + k) * d.hw() + p);
        hy[at] = h.y[static_cast<size_t>(i)], hdx[at] = h.dx[static_cast<size_t>(i)];
      }
    hdg.push_back(h.dgamma), hdb.push_back(h.dbeta), hrm.push_back(h.run_mean), hrv.push_back(h.run_var);
  }
  const BnHand& h = hand[static_cast<size_t>(c)];
  const double g = gv[static_cast<size_t>(c)], b = bv[static_cast<size_t>(c)];

  std::printf("ferwalk bn: x %s ~ N(1, 2^2), upstream gradient dy ~ N(0, 1), seed %llu\n",
              shape_str(x.shape()).c_str(), static_cast<unsigned long long>(seed));
  std::printf("act %s, eps %g, momentum %g; L = sum(y dy), so dL/dy = dy; by hand: double loops\n", act.c_str(), eps,
              momentum);
  std::printf("channel %lld of %lld: M = N*H*W = %lld values; gamma ~ U(.5, 1.5) = %.6f, beta ~ U(-.5, .5) = %.6f\n",
              static_cast<long long>(c), static_cast<long long>(d.c), static_cast<long long>(M), g, b);
  std::printf("\nforward\n");
  std::printf("  mean   = (1/M) sum x              = %.9f\n", h.mean);
  std::printf("  var    = (1/M) sum (x - mean)^2   = %.9f   (biased, two-pass)\n", h.var);
  std::printf("  invstd = 1/sqrt(var + eps)        = %.9f\n", h.invstd);
  double s1 = 0, s2 = 0;
  for (double v : h.x_hat) s1 += v, s2 += v * v;
  std::printf("  x_hat = (x - mean) invstd;  its mean = %.2g, its mean square = %.9f = var/(var + eps)\n",
              s1 / double(M), s2 / double(M));
  std::printf("  z = gamma x_hat + beta,  y = %s\n",
              act == "relu" ? "relu(z) = max(z, 0)" : act == "silu" ? "silu(z) = z sigmoid(z)" : "z (no activation)");
  std::printf("backward\n");
  std::printf("  dz = %s\n", act == "relu"   ? "relu'(z) dy = (z > 0 ? dy : 0)"
                              : act == "silu" ? "silu'(z) dy = s (1 + z (1 - s)) dy,  s = sigmoid(z)"
                                              : "dy");
  std::printf("  dx = gamma invstd (dz - dbeta/M - x_hat dgamma/M)\n\n");
  std::printf("%7s %10s %10s %10s %10s %10s %10s %10s\n", "n,h,w", "x", "x_hat", "z", "y", "dy", "dz", "dx");
  const auto xc = channel_of(xv, d, c), dyc = channel_of(dyv, d, c);
  const int64_t show = M <= 64 ? M : 32;
  for (int64_t i = 0; i < show; ++i) {
    const size_t k = static_cast<size_t>(i);
    std::ostringstream at;
    at << i / d.hw() << "," << (i % d.hw()) / d.w << "," << i % d.w;
    std::printf("%7s %10.6f %10.6f %10.6f %10.6f %10.6f %10.6f %10.6f\n", at.str().c_str(), xc[k], h.x_hat[k], h.z[k],
                h.y[k], dyc[k], h.dz[k], h.dx[k]);
  }
  if (show < M) std::printf("... (%lld more rows)\n", static_cast<long long>(M - show));
  std::printf("\n  dbeta  = sum dz         = %.9f\n", h.dbeta);
  std::printf("  dgamma = sum dz x_hat   = %.9f\n", h.dgamma);
  std::printf("running stats (start 0 and 1)\n");
  std::printf("  running_mean = 0.9 * 0 + 0.1 * mean            = %.9f\n", h.run_mean);
  std::printf("  running_var  = 0.9 * 1 + 0.1 * var * M/(M-1)   = %.9f   (unbiased)\n", h.run_var);

  // The engine on the same f64 tensors (CPU): fused and unfused; compared over all channels.
  std::printf("\nengine (f64 CPU) vs by hand, max |diff| over all %lld channels:\n", static_cast<long long>(d.c));
  struct Path {
    const char* name;
    bool fused;
  };
  std::vector<Path> paths;
  if (act == "none")
    paths.push_back({"ops::batch_norm", false});
  else
    paths = {{"ops::batch_norm_act (fused)", true}, {"ops::activation(ops::batch_norm)", false}};
  double worst = 0;
  for (const Path& p : paths) {
    const BnEngine e = bn_engine(x, gamma, beta, dy, act, p.fused, eps, momentum);
    const double dd[6] = {max_abs_diff(e.y, hy),      max_abs_diff(e.dx, hdx),       max_abs_diff(e.dgamma, hdg),
                          max_abs_diff(e.dbeta, hdb), max_abs_diff(e.run_mean, hrm), max_abs_diff(e.run_var, hrv)};
    std::printf("  %s\n    max |diff|: y %.2g  dx %.2g  dgamma %.2g  dbeta %.2g  running_mean %.2g  running_var %.2g\n",
                p.name, dd[0], dd[1], dd[2], dd[3], dd[4], dd[5]);
    for (double v : dd) worst = std::max(worst, v);
  }

  // The formula is the derivative: dL/dx of one element by central differences of the engine's L.
  int64_t best = 0;  // the element of channel c with the largest |dx| (a value worth checking)
  for (int64_t i = 1; i < M; ++i)
    if (std::fabs(h.dx[static_cast<size_t>(i)]) > std::fabs(h.dx[static_cast<size_t>(best)])) best = i;
  const size_t at = static_cast<size_t>(((best / d.hw()) * d.c + c) * d.hw() + best % d.hw());
  const double step = 1e-6;
  auto loss_at = [&](double shift) {
    std::vector<double> xs = xv;
    xs[at] += shift;
    const Tensor xt = Tensor::from_vector(xs, x.shape());
    const Activation a = act == "silu" ? Activation::silu : Activation::relu;
    const Tensor y = act == "none" ? ops::batch_norm(xt, gamma, beta, Tensor(), Tensor(), true, momentum, eps)
                                   : ops::batch_norm_act(xt, gamma, beta, Tensor(), Tensor(), true, momentum, eps, a);
    return ops::sum(ops::mul(y, dy)).item();
  };
  const double fd = (loss_at(step) - loss_at(-step)) / (2 * step), formula = h.dx[static_cast<size_t>(best)];
  const double fd_err = std::fabs(fd - formula);
  const bool fd_ok = fd_err <= 1e-7 + 1e-6 * std::fabs(formula);
  std::printf("\ncheck: dL/dx at n,h,w = %lld,%lld,%lld (largest |dx|) by central differences of the engine, h = %g:\n",
              static_cast<long long>(best / d.hw()), static_cast<long long>((best % d.hw()) / d.w),
              static_cast<long long>(best % d.w), step);
  std::printf("       (L(x+h) - L(x-h)) / 2h = %.9f, formula dx = %.9f, |diff| %.2g: %s\n", fd, formula, fd_err,
              fd_ok ? "PASS" : "FAIL");
  return worst <= 1e-12 && fd_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferwalk: the numbers of docs/walkthrough.md: real data through R000's masking block (mask) and "
               "its weighted cross-entropy (xent), forward and backward, on the CPU; one element through an optimizer "
               "(optim), one face through the augmentation (augment) and one batch-norm channel by hand (bn)."};
  app.set_version_flag("--version", fer::tools::version_text("ferwalk"));
  std::string mode, pixel, mask = "softmax";
  uint64_t seed = 1;
  double width = 0.0625;
  int64_t face = 0, batch = 7;
  int threads = 1;
  bool no_weights = false;
  std::string optimizer = "adam", preset = "usefkh";
  int64_t steps = 7, epoch = 0;
  std::string act = "relu";
  int64_t channel = 0;
  BatchNormDims bn_dims{2, 3, 3, 3};
  app.add_option("mode", mode, "mask | xent | optim | augment | bn")
      ->required()
      ->check(CLI::IsMember({"mask", "xent", "optim", "augment", "bn"}));
  app.add_option("--optimizer", optimizer, "optim: sgd | adam | adamw | radam (default adam)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "radam"}));
  app.add_option("--steps", steps, "optim: number of steps (default 7)");
  app.add_option("--preset", preset, "augment: augmentation preset (default usefkh)");
  app.add_option("--epoch", epoch, "augment: the epoch that keys the draws (default 0)");
  app.add_option("--act", act, "bn: relu (default) | silu | none");
  app.add_option("--channel", channel, "bn: the channel printed (default 0)");
  app.add_option("--n", bn_dims.n, "bn: batch size N of x [N,C,H,W] (default 2)");
  app.add_option("--c", bn_dims.c, "bn: channels C (default 3)");
  app.add_option("--h", bn_dims.h, "bn: height H (default 3)");
  app.add_option("--w", bn_dims.w, "bn: width W (default 3)");
  app.add_option("--seed", seed, "seed of the model init and of the synthetic faces; bn: of x, gamma, beta, dy (default 1)");
  app.add_option("--width", width, "channel multiplier of the RMN (default 0.0625: mask1 has C = 4)");
  app.add_option("--face", face, "mask, augment: index of the synthetic face (default 0)");
  app.add_option("--pixel", pixel, "mask: the pixel of the 56x56 map; augment: of the 48x48 output; H,W (default the centre)");
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
    if (mode == "optim") return run_optim(optimizer, steps);
    if (mode == "bn") return run_bn(act, seed, channel, bn_dims);
    if (mode == "augment") return run_augment(preset, seed, epoch, face, pixel);
    return mode == "mask" ? run_mask(seed, width, face, pixel, mask) : run_xent(seed, width, batch, !no_weights);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferwalk: error: %s\n", e.what());
    return 2;
  }
}
