// tools/fergradcheck.cpp: the finite-difference gradient check of one op (or a small model) at
// chosen shapes, in f64 on the CPU, through the code path the tests use (tensor/gradcheck.h).
//
//   fergradcheck --list
//   fergradcheck OP [--shape N,C,H,W] [--seed S] [--eps E] [--atol A] [--rtol R] [--show K]
//                   [--stride S --padding P --groups G] [--eval] [--dim D] [--mask softmax|sigmoid]
//                   [--label-smoothing LS] [--max-elements M]
//   fergradcheck --model NAME [--width W] [--batch B] [--params K] [--max-elements M] [...]
//
// For y = f(x_1..x_k) and a fixed random cotangent w, L = sum(w * y); every checked element is
// perturbed by +-eps and (L(x+eps) - L(x-eps)) / (2 eps) is compared with the gradient autograd
// gives: pass when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
// Exit 0 when every input passes, 1 when one fails, 2 on a usage error (unknown op, bad shape).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "models/registry.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tools/common/build_info.h"

namespace {

using namespace fer;

// The flags an op may read besides its shape.
struct OpFlags {
  int64_t stride = 1, padding = 0, groups = 1, dim = 1, kernel = 3;
  bool eval = false;
  std::string mask = "softmax";
  double label_smoothing = 0.0;
  uint64_t seed = 1;
};

// What an op entry builds: the inputs (those with requires_grad are checked) and y = f(inputs).
struct Check {
  std::vector<Tensor> inputs;
  TensorFunction f;
};

struct OpEntry {
  std::string name;
  Shape shape;         // default shape of the first input
  std::string layout;  // what the shape means
  std::string notes;   // the other inputs and the flags read
  std::function<Check(const Shape&, const OpFlags&)> build;
};

// A random f64 tensor in [lo, hi); seeds differ per input so inputs are independent.
Tensor rand64(const Shape& s, uint64_t seed, const char* name, double lo = -1, double hi = 1, bool grad = true) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, lo, hi, g);
  t.set_name(name);
  if (grad) t.requires_grad_();
  return t;
}

Tensor labels_for(int64_t n, int64_t k, uint64_t seed) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>((i * 7 + seed) % static_cast<uint64_t>(k));
  return Tensor::from_vector(v, {n});
}

void need_rank(const std::string& op, const Shape& s, size_t rank, const std::string& layout) {
  FER_CHECK(s.size() == rank, op << ": --shape needs " << rank << " dimensions (" << layout << "), got " << shape_str(s)
                                 << "; hint: fergradcheck --list shows the defaults");
}

// An elementwise activation on [N, C, H, W].
OpEntry activation_entry(const std::string& name, Activation kind) {
  return {name, {2, 3, 4, 4}, "x [N,C,H,W] (any rank)", "", [kind](const Shape& s, const OpFlags& o) {
            return Check{{rand64(s, o.seed, "x", -2, 2)},
                         [kind](const std::vector<Tensor>& in) { return ops::activation(in[0], kind); }};
          }};
}

const std::vector<OpEntry>& op_table() {
  static const std::vector<OpEntry> table = [] {
    std::vector<OpEntry> t;
    t.push_back({"conv2d",
                 {2, 3, 6, 6},
                 "x [N,C,H,W]",
                 "w [Cout,C/groups,K,K] (Cout = 4, or 2*groups), b [Cout]; --kernel (default 3) --stride --padding --groups",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("conv2d", s, 4, "N,C,H,W");
                   const int64_t cout = o.groups == 1 ? 4 : 2 * o.groups;
                   FER_CHECK(o.groups >= 1 && s[1] % o.groups == 0,
                             "conv2d: channels " << s[1] << " not divisible by --groups " << o.groups);
                   FER_CHECK(o.kernel >= 1 && o.kernel <= 7, "conv2d: --kernel must be in 1..7, got " << o.kernel);
                   FER_CHECK(s[2] + 2 * o.padding >= o.kernel && s[3] + 2 * o.padding >= o.kernel,
                             "conv2d: --kernel " << o.kernel << " does not fit the padded input " << s[2] << "x" << s[3]
                                                 << " (padding " << o.padding << "); hint: a larger --shape or --padding");
                   const auto opt = ops::Conv2dOptions::make(o.stride, o.padding, o.groups);
                   return Check{{rand64(s, o.seed, "x"), rand64({cout, s[1] / o.groups, o.kernel, o.kernel}, o.seed + 1, "w"),
                                 rand64({cout}, o.seed + 2, "b")},
                                [opt](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], opt); }};
                 }});
    t.push_back({"depthwise_conv2d",
                 {2, 3, 6, 5},
                 "x [N,C,H,W]",
                 "w [C,1,3,3], b [C], groups = C (the direct path, kernels/conv2d_depthwise.h); --stride --padding",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("depthwise_conv2d", s, 4, "N,C,H,W");
                   FER_CHECK(s[1] >= 2, "depthwise_conv2d: needs at least 2 channels, got " << s[1]);
                   const auto opt = ops::Conv2dOptions::make(o.stride, o.padding, s[1]);
                   return Check{{rand64(s, o.seed, "x"), rand64({s[1], 1, 3, 3}, o.seed + 1, "w"),
                                 rand64({s[1]}, o.seed + 2, "b")},
                                [opt](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], opt); }};
                 }});
    t.push_back({"conv_transpose2d",
                 {2, 3, 4, 4},
                 "x [N,C,H,W]",
                 "w [C,2,3,3], b [2]; --stride --padding",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("conv_transpose2d", s, 4, "N,C,H,W");
                   const int64_t stride = o.stride, pad = o.padding;
                   return Check{
                       {rand64(s, o.seed, "x"), rand64({s[1], 2, 3, 3}, o.seed + 1, "w"), rand64({2}, o.seed + 2, "b")},
                       [stride, pad](const std::vector<Tensor>& in) {
                         return ops::conv_transpose2d(in[0], in[1], in[2], stride, pad);
                       }};
                 }});
    t.push_back({"batch_norm",
                 {3, 4, 3, 3},
                 "x [N,C,H,W] or [N,C]",
                 "gamma, beta [C]; batch statistics, or --eval: fixed running mean/var",
                 [](const Shape& s, const OpFlags& o) {
                   FER_CHECK(s.size() == 2 || s.size() == 4,
                             "batch_norm: --shape needs N,C or N,C,H,W, got " << shape_str(s));
                   const int64_t c = s[1];
                   const Tensor rm = o.eval ? rand64({c}, o.seed + 3, "running_mean", -1, 1, false) : Tensor();
                   const Tensor rv = o.eval ? rand64({c}, o.seed + 4, "running_var", 0.5, 2, false) : Tensor();
                   const bool training = !o.eval;
                   return Check{{rand64(s, o.seed, "x", -2, 2), rand64({c}, o.seed + 1, "gamma", 0.5, 1.5),
                                 rand64({c}, o.seed + 2, "beta")},
                                [rm, rv, training](const std::vector<Tensor>& in) {
                                  return ops::batch_norm(in[0], in[1], in[2], rm, rv, training, 0.1, 1e-5);
                                }};
                 }});
    for (const auto& [name, act] : {std::pair<const char*, Activation>{"batch_norm_relu", Activation::relu},
                                    std::pair<const char*, Activation>{"batch_norm_silu", Activation::silu}}) {
      t.push_back({name,
                   {3, 4, 3, 3},
                   "x [N,C,H,W] or [N,C]",
                   "gamma, beta [C]; act(batch_norm(x)) as one fused op (kernels/batchnorm_act.h); --eval",
                   [name = std::string(name), act = act](const Shape& s, const OpFlags& o) {
                     FER_CHECK(s.size() == 2 || s.size() == 4,
                               name << ": --shape needs N,C or N,C,H,W, got " << shape_str(s));
                     const int64_t c = s[1];
                     const Tensor rm = o.eval ? rand64({c}, o.seed + 3, "running_mean", -1, 1, false) : Tensor();
                     const Tensor rv = o.eval ? rand64({c}, o.seed + 4, "running_var", 0.5, 2, false) : Tensor();
                     const bool training = !o.eval;
                     return Check{{rand64(s, o.seed, "x", -2, 2), rand64({c}, o.seed + 1, "gamma", 0.5, 1.5),
                                   rand64({c}, o.seed + 2, "beta")},
                                  [rm, rv, training, act](const std::vector<Tensor>& in) {
                                    return ops::batch_norm_act(in[0], in[1], in[2], rm, rv, training, 0.1, 1e-5, act);
                                  }};
                   }});
    }
    t.push_back({"layer_norm",
                 {2, 3, 5},
                 "x [...,D] (normalized over D)",
                 "gamma, beta [D]",
                 [](const Shape& s, const OpFlags& o) {
                   FER_CHECK(!s.empty(), "layer_norm: --shape needs at least one dimension");
                   const int64_t d = s.back();
                   return Check{
                       {rand64(s, o.seed, "x", -2, 2), rand64({d}, o.seed + 1, "gamma", 0.5, 1.5),
                        rand64({d}, o.seed + 2, "beta")},
                       [](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], in[1], in[2], 1e-5); }};
                 }});
    t.push_back({"max_pool2d", {2, 3, 6, 6}, "x [N,C,H,W]", "kernel 2, stride 2", [](const Shape& s, const OpFlags& o) {
                   need_rank("max_pool2d", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "x")}, [](const std::vector<Tensor>& in) {
                                  return ops::max_pool2d(in[0], ops::PoolOptions::make(2, 2));
                                }};
                 }});
    t.push_back({"avg_pool2d",
                 {2, 3, 6, 6},
                 "x [N,C,H,W]",
                 "kernel 3, stride 2, padding 1",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("avg_pool2d", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "x")}, [](const std::vector<Tensor>& in) {
                                  return ops::avg_pool2d(in[0], ops::PoolOptions::make(3, 2, 1));
                                }};
                 }});
    t.push_back({"global_avg_pool", {2, 3, 4, 4}, "x [N,C,H,W]", "", [](const Shape& s, const OpFlags& o) {
                   need_rank("global_avg_pool", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "x")},
                                [](const std::vector<Tensor>& in) { return ops::global_avg_pool(in[0]); }};
                 }});
    t.push_back({"dropout", {2, 3, 4, 4}, "x (any rank)", "p 0.3, training; the mask from Generator(--seed)",
                 [](const Shape& s, const OpFlags& o) {
                   const uint64_t seed = o.seed;
                   return Check{{rand64(s, o.seed, "x")}, [seed](const std::vector<Tensor>& in) {
                                  Generator gen(seed);  // a fresh generator per call: the same mask every time
                                  return ops::dropout(in[0], 0.3, true, gen);
                                }};
                 }});
    t.push_back({"drop_path", {4, 3, 2, 2}, "x [N,...]", "p 0.5, training; one keep/drop per sample",
                 [](const Shape& s, const OpFlags& o) {
                   const uint64_t seed = o.seed;
                   return Check{{rand64(s, o.seed, "x")}, [seed](const std::vector<Tensor>& in) {
                                  Generator gen(seed);
                                  return ops::drop_path(in[0], 0.5, true, gen);
                                }};
                 }});
    t.push_back({"linear", {3, 5}, "x [..., in]", "w [4,in], b [4]", [](const Shape& s, const OpFlags& o) {
                   FER_CHECK(!s.empty(), "linear: --shape needs at least one dimension");
                   return Check{
                       {rand64(s, o.seed, "x"), rand64({4, s.back()}, o.seed + 1, "w"), rand64({4}, o.seed + 2, "b")},
                       [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); }};
                 }});
    t.push_back({"bmm", {2, 3, 4}, "a [B,M,K]", "b [B,K,5]", [](const Shape& s, const OpFlags& o) {
                   need_rank("bmm", s, 3, "B,M,K");
                   return Check{{rand64(s, o.seed, "a"), rand64({s[0], s[2], 5}, o.seed + 1, "b")},
                                [](const std::vector<Tensor>& in) { return ops::bmm(in[0], in[1]); }};
                 }});
    t.push_back(activation_entry("relu", Activation::relu));
    t.push_back(activation_entry("sigmoid", Activation::sigmoid));
    t.push_back(activation_entry("silu", Activation::silu));
    t.push_back(activation_entry("gelu", Activation::gelu));
    t.push_back({"add_relu", {2, 3, 4, 4}, "a (any rank)", "b (a's shape); relu(a + b) as one fused op (kernels/add_act.h)",
                 [](const Shape& s, const OpFlags& o) {
                   return Check{{rand64(s, o.seed, "a", -2, 2), rand64(s, o.seed + 1, "b", -2, 2)},
                                [](const std::vector<Tensor>& in) {
                                  return ops::add_act(in[0], in[1], Activation::relu);
                                }};
                 }});
    t.push_back({"softmax", {2, 5, 3}, "x (any rank)", "--dim (default 1)", [](const Shape& s, const OpFlags& o) {
                   const int64_t dim = o.dim;
                   return Check{{rand64(s, o.seed, "x", -3, 3)},
                                [dim](const std::vector<Tensor>& in) { return ops::softmax(in[0], dim); }};
                 }});
    t.push_back({"log_softmax", {2, 5, 3}, "x (any rank)", "--dim (default 1)", [](const Shape& s, const OpFlags& o) {
                   const int64_t dim = o.dim;
                   return Check{{rand64(s, o.seed, "x", -3, 3)},
                                [dim](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], dim); }};
                 }});
    t.push_back({"mask_apply",
                 {2, 4, 3, 3},
                 "x [N,C,H,W]",
                 "z [N,C,H,W]; y = x * (1 + M(z)), --mask softmax (over channels) | sigmoid",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("mask_apply", s, 4, "N,C,H,W");
                   FER_CHECK(o.mask == "softmax" || o.mask == "sigmoid",
                             "mask_apply: --mask must be softmax or sigmoid, got '" << o.mask << "'");
                   const MaskKind kind = o.mask == "softmax" ? MaskKind::softmax : MaskKind::sigmoid;
                   return Check{{rand64(s, o.seed, "x"), rand64(s, o.seed + 1, "z", -2, 2)},
                                [kind](const std::vector<Tensor>& in) { return ops::mask_apply(in[0], in[1], kind); }};
                 }});
    t.push_back({"cross_entropy",
                 {6, 5},
                 "logits [N,K]",
                 "labels [N], class weights [K] in [0.5,2]; --label-smoothing",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("cross_entropy", s, 2, "N,K");
                   const Tensor labels = labels_for(s[0], s[1], o.seed);
                   const Tensor weights = rand64({s[1]}, o.seed + 1, "class_weights", 0.5, 2, false);
                   const double ls = o.label_smoothing;
                   return Check{{rand64(s, o.seed, "logits", -2, 2)},
                                [labels, weights, ls](const std::vector<Tensor>& in) {
                                  return ops::cross_entropy(in[0], labels, weights, ls);
                                }};
                 }});
    t.push_back({"focal_loss",
                 {6, 5},
                 "logits [N,K]",
                 "labels [N], gamma 2, alpha [K] in [0.25,1]",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("focal_loss", s, 2, "N,K");
                   const Tensor labels = labels_for(s[0], s[1], o.seed);
                   const Tensor alpha = rand64({s[1]}, o.seed + 1, "alpha", 0.25, 1, false);
                   return Check{{rand64(s, o.seed, "logits", -2, 2)}, [labels, alpha](const std::vector<Tensor>& in) {
                                  return ops::focal_loss(in[0], labels, 2.0, alpha);
                                }};
                 }});
    t.push_back({"mse_loss",
                 {2, 3, 4},
                 "prediction (any rank)",
                 "target (same shape, constant)",
                 [](const Shape& s, const OpFlags& o) {
                   const Tensor target = rand64(s, o.seed + 1, "target", -1, 1, false);
                   return Check{{rand64(s, o.seed, "prediction")},
                                [target](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], target); }};
                 }});
    t.push_back({"upsample_bilinear2d",
                 {2, 3, 4, 5},
                 "x [N,C,H,W]",
                 "to [2H-1, 2W-1] (align_corners false)",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("upsample_bilinear2d", s, 4, "N,C,H,W");
                   const int64_t oh = 2 * s[2] - 1, ow = 2 * s[3] - 1;
                   return Check{{rand64(s, o.seed, "x")}, [oh, ow](const std::vector<Tensor>& in) {
                                  return ops::upsample_bilinear2d(in[0], oh, ow);
                                }};
                 }});
    t.push_back(
        {"concat", {2, 3, 4, 4}, "a [N,C,H,W]", "b [N,2,H,W], along dim 1", [](const Shape& s, const OpFlags& o) {
           need_rank("concat", s, 4, "N,C,H,W");
           return Check{{rand64(s, o.seed, "a"), rand64({s[0], 2, s[2], s[3]}, o.seed + 1, "b")},
                        [](const std::vector<Tensor>& in) {
                          return ops::concat({in[0], in[1]}, 1);
                        }};
         }});
    t.push_back({"permute", {2, 3, 4, 5}, "x [N,C,H,W]", "dims (0,2,3,1)", [](const Shape& s, const OpFlags& o) {
                   need_rank("permute", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "x")}, [](const std::vector<Tensor>& in) {
                                  return ops::permute(in[0], {0, 2, 3, 1});
                                }};
                 }});
    t.push_back({"add", {2, 3, 4, 4}, "a [N,C,H,W]", "b [N,C,1,1] (broadcast)", [](const Shape& s, const OpFlags& o) {
                   need_rank("add", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "a"), rand64({s[0], s[1], 1, 1}, o.seed + 1, "b")},
                                [](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); }};
                 }});
    // elementwise with broadcasting: b [N,1,H,W] is the masking block's shape (one mask for all channels)
    t.push_back({"mul", {2, 3, 4, 4}, "a [N,C,H,W]", "b [N,1,H,W] (broadcast over channels)", [](const Shape& s, const OpFlags& o) {
                   need_rank("mul", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "a"), rand64({s[0], 1, s[2], s[3]}, o.seed + 1, "b")},
                                [](const std::vector<Tensor>& in) { return ops::mul(in[0], in[1]); }};
                 }});
    t.push_back({"sub", {2, 3, 4, 4}, "a [N,C,H,W]", "b [1,C,1,1] (broadcast)", [](const Shape& s, const OpFlags& o) {
                   need_rank("sub", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "a"), rand64({1, s[1], 1, 1}, o.seed + 1, "b")},
                                [](const std::vector<Tensor>& in) { return ops::sub(in[0], in[1]); }};
                 }});
    t.push_back({"div", {2, 3, 4, 4}, "a [N,C,H,W]", "b [N,C,1,1] in [0.5, 2] (broadcast)", [](const Shape& s, const OpFlags& o) {
                   need_rank("div", s, 4, "N,C,H,W");
                   return Check{{rand64(s, o.seed, "a"), rand64({s[0], s[1], 1, 1}, o.seed + 1, "b", 0.5, 2)},
                                [](const std::vector<Tensor>& in) { return ops::div(in[0], in[1]); }};
                 }});
    t.push_back({"nll_loss", {6, 5}, "log_probs [N,K]", "labels [N] (fixed), class weights [K] in [0.5, 2]",
                 [](const Shape& s, const OpFlags& o) {
                   need_rank("nll_loss", s, 2, "N,K");
                   const Tensor labels = labels_for(s[0], s[1], o.seed);
                   const Tensor weights = rand64({s[1]}, o.seed + 1, "weights", 0.5, 2, false);
                   return Check{{rand64(s, o.seed, "log_probs", -3, 0)}, [labels, weights](const std::vector<Tensor>& in) {
                                  return ops::nll_loss(in[0], labels, weights);
                                }};
                 }});
    t.push_back({"slice", {2, 5, 3, 3}, "x (any rank)", "x[:, 1:4] along --dim (default 1; needs size >= 4)",
                 [](const Shape& s, const OpFlags& o) {
                   FER_CHECK(o.dim >= 0 && o.dim < static_cast<int64_t>(s.size()) && s[static_cast<size_t>(o.dim)] >= 4,
                             "slice: --dim " << o.dim << " must name a dimension of size >= 4 of " << shape_str(s));
                   return Check{{rand64(s, o.seed, "x")},
                                [dim = o.dim](const std::vector<Tensor>& in) { return ops::slice(in[0], dim, 1, 4); }};
                 }});
    t.push_back({"upsample_nearest2d", {2, 3, 3, 4}, "x [N,C,H,W]", "to [2H, 2W] (nearest)", [](const Shape& s, const OpFlags& o) {
                   need_rank("upsample_nearest2d", s, 4, "N,C,H,W");
                   const int64_t oh = 2 * s[2], ow = 2 * s[3];
                   return Check{{rand64(s, o.seed, "x")}, [oh, ow](const std::vector<Tensor>& in) {
                                  return ops::upsample_nearest2d(in[0], oh, ow);
                                }};
                 }});
    t.push_back({"sum_dim", {2, 3, 4}, "x (any rank)", "sum over --dim (default 1)", [](const Shape& s, const OpFlags& o) {
                   return Check{{rand64(s, o.seed, "x")},
                                [dim = o.dim](const std::vector<Tensor>& in) { return ops::sum_dim(in[0], dim); }};
                 }});
    t.push_back({"mean_dim", {2, 3, 4}, "x (any rank)", "mean over --dim (default 1)", [](const Shape& s, const OpFlags& o) {
                   return Check{{rand64(s, o.seed, "x")},
                                [dim = o.dim](const std::vector<Tensor>& in) { return ops::mean_dim(in[0], dim); }};
                 }});
    return t;
  }();
  return table;
}

const OpEntry& find_op(const std::string& name) {
  for (const auto& e : op_table())
    if (e.name == name) return e;
  std::ostringstream known;
  for (const auto& e : op_table()) known << (known.tellp() > 0 ? ", " : "") << e.name;
  FER_FAIL("unknown op '" << name << "'; known: " << known.str() << " (or --model NAME)");
}

Shape parse_shape(const std::string& text) {
  Shape s;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    FER_CHECK(used == part.size() && !part.empty() && v > 0,
              "bad --shape '" << text << "': expected positive integers separated by commas, e.g. 2,3,6,6");
    s.push_back(v);
  }
  FER_CHECK(!s.empty(), "bad --shape '" << text << "': expected e.g. 2,3,6,6");
  return s;
}

// Re-points a parameter or buffer of a model at an f64 copy (the CPU kernels are templated over double).
void to_f64(Tensor& t) {
  if (t.dtype() != DType::f32) return;
  const Tensor d = t.to_dtype(DType::f64);
  t.impl().storage = d.impl().storage;
  t.impl().offset = d.impl().offset;
  t.impl().dtype = DType::f64;
  t.impl().grad.reset();
}

// The model's cross-entropy loss w.r.t. its input and its first `params` parameters. Training mode
// (batch statistics) with every Dropout / DropPath in eval mode, so the function is deterministic.
Check model_check(const std::string& name, double width, int64_t batch, int64_t params, uint64_t seed,
                  std::string& description) {
  const auto& spec = models::find_model(name);
  models::ModelConfig cfg;
  cfg.width = width;
  cfg.num_classes = spec.default_classes > 0 ? spec.default_classes : 7;
  nn::ModulePtr m = models::build_model(name, cfg);
  for (auto& [pname, p] : m->named_parameters()) to_f64(p);
  for (auto& [bname, b] : m->named_buffers()) to_f64(b);
  m->train(true);
  for (auto& [mname, mod] : m->named_modules())
    if (mod->type_name() == "Dropout" || mod->type_name() == "DropPath") mod->eval();
  Check c;
  c.inputs.push_back(rand64({batch, spec.input_channels, spec.input_size, spec.input_size}, seed, "input"));
  int64_t k = 0;
  for (auto& [pname, p] : m->named_parameters()) {
    if (k++ >= params) break;
    Tensor q = p;
    q.set_name(pname);
    q.requires_grad_();
    c.inputs.push_back(q);
  }
  const bool classifier = spec.default_classes > 0;
  const Tensor labels = labels_for(batch, cfg.num_classes, seed);
  c.f = [m, classifier, labels](const std::vector<Tensor>& in) {
    const Tensor y = (*m)(in[0]);
    return classifier ? ops::cross_entropy(y, labels) : ops::mse_loss(y, in[0].detach());
  };
  std::ostringstream os;
  os << "model " << name << " (width " << width << ", " << m->parameter_count() << " parameters), loss "
     << (classifier ? "cross_entropy" : "mse_loss") << " of a batch of " << batch;
  description = os.str();
  return c;
}

void print_list() {
  std::printf("%-20s %-14s %-40s %s\n", "op", "default shape", "shape", "other inputs / flags");
  for (const auto& e : op_table()) {
    std::ostringstream s;
    for (size_t i = 0; i < e.shape.size(); ++i) s << (i ? "," : "") << e.shape[i];
    std::printf("%-20s %-14s %-40s %s\n", e.name.c_str(), s.str().c_str(), e.layout.c_str(), e.notes.c_str());
  }
  std::printf("models (--model NAME --width W):");
  for (const auto& spec : models::all_models()) std::printf(" %s", spec.name.c_str());
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fergradcheck: the finite-difference gradient check of one op (or a small model) at chosen shapes, in f64 on the "
      "CPU, through tensor/gradcheck.h (the tests' code path). Prints max abs/rel error per input and PASS/FAIL; "
      "exit 0 when every input passes, 1 otherwise."};
  app.set_version_flag("--version", fer::tools::version_text("fergradcheck"));
  std::string op, shape_text, model;
  bool list = false;
  OpFlags flags;
  GradcheckOptions opt;
  int64_t show = 0, batch = 2, params = 4, max_elements = -1;
  double width = 0.125;
  app.add_option("op", op, "the op to check (--list shows them)");
  app.add_flag("--list", list, "list the checkable ops with their default shapes, and the models");
  app.add_option("--shape", shape_text, "shape of the first input, e.g. 2,3,6,6 (default: the op's)");
  app.add_option("--seed", opt.seed, "seed of the inputs and of the cotangent");
  app.add_option("--eps", opt.eps, "finite-difference step (default 1e-6)");
  app.add_option("--atol", opt.atol, "absolute tolerance (default 1e-7)");
  app.add_option("--rtol", opt.rtol, "relative tolerance (default 1e-5)");
  app.add_option("--show", show, "print the first K elements of each input: analytic, numeric, abs err");
  app.add_option("--max-elements", max_elements,
                 "check only the first M elements of each input (default: all; "
                 "64 with --model)");
  app.add_option("--kernel", flags.kernel, "conv2d kernel size K (KxK, 1..7; default 3)");
  app.add_option("--stride", flags.stride, "conv2d / conv_transpose2d stride");
  app.add_option("--padding", flags.padding, "conv2d / conv_transpose2d padding");
  app.add_option("--groups", flags.groups, "conv2d groups");
  app.add_flag("--eval", flags.eval, "batch_norm, batch_norm_relu, batch_norm_silu: eval mode with fixed running statistics");
  app.add_option("--dim", flags.dim, "softmax / log_softmax / mean_dim / sum_dim / slice dimension");
  app.add_option("--mask", flags.mask, "mask_apply: softmax | sigmoid");
  app.add_option("--label-smoothing", flags.label_smoothing, "cross_entropy label smoothing in [0, 1)");
  app.add_option("--model", model, "check a registry model's loss w.r.t. its input and first parameters");
  app.add_option("--width", width, "--model: channel multiplier (default 0.125)");
  app.add_option("--batch", batch, "--model: batch size (default 2)");
  app.add_option("--params", params, "--model: how many parameters (in order) to check (default 4)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  std::vector<GradcheckResult> results;
  std::vector<Tensor> inputs;
  try {
    if (list) {
      print_list();
      return 0;
    }
    FER_CHECK(!op.empty() || !model.empty(), "name an op (fergradcheck --list) or --model NAME");
    FER_CHECK(op.empty() || model.empty(), "give an op or --model, not both");
    flags.seed = opt.seed;
    Check check;
    std::ostringstream what;
    if (!model.empty()) {
      FER_CHECK(width > 0 && batch > 0 && params >= 0, "--width, --batch must be > 0 and --params >= 0");
      std::string description;
      check = model_check(model, width, batch, params, opt.seed, description);
      what << description;
      opt.max_elements_per_input = max_elements < 0 ? 64 : max_elements;
    } else {
      const OpEntry& e = find_op(op);
      const Shape shape = shape_text.empty() ? e.shape : parse_shape(shape_text);
      check = e.build(shape, flags);
      what << "op " << e.name;
      opt.max_elements_per_input = max_elements;
    }
    inputs = check.inputs;
    opt.record_elements = show;
    what << "; inputs:";
    for (const Tensor& x : inputs)
      what << " " << x.name() << " " << shape_str(x.shape()) << (x.requires_grad() ? "" : " (const)");
    std::printf("fergradcheck: %s\n", what.str().c_str());
    std::printf("f64 CPU, central differences: eps %g, pass when |analytic - numeric| <= %g + %g * max(|a|, |n|)\n\n",
                opt.eps, opt.atol, opt.rtol);
    results = gradcheck(check.f, check.inputs, opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fergradcheck: error: %s\n", e.what());
    return 2;
  }

  std::printf("%s", format_gradcheck(results).c_str());
  for (const auto& r : results) {
    if (r.analytic.empty()) continue;
    std::printf("\n%s: first %zu elements\n%8s %16s %16s %12s\n", r.input.c_str(), r.analytic.size(), "index",
                "analytic", "numeric", "abs err");
    for (size_t i = 0; i < r.analytic.size(); ++i)
      std::printf("%8zu %16.9e %16.9e %12.3e\n", i, r.analytic[i], r.numeric[i],
                  std::fabs(r.analytic[i] - r.numeric[i]));
  }
  size_t failed = 0;
  for (const auto& r : results) failed += r.ok ? 0 : 1;
  if (results.empty()) {
    std::printf("\nverdict: FAIL (no input requires a gradient)\n");
    return 1;
  }
  std::printf("\nverdict: %s (%zu of %zu inputs pass)\n", failed == 0 ? "PASS" : "FAIL", results.size() - failed,
              results.size());
  return failed == 0 ? 0 : 1;
}
