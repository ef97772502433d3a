// models/vit.cpp: R003's small Vision Transformer for 48x48 inputs (MODELS.md section 5.3).
//
//   patch_embed.proj conv k4 s4 1->D                   [N, D, 12, 12] -> tokens [N, 144, D]
//   cls_token [1, 1, D] prepended, pos_embed [1, 145, D] added, pos_drop Dropout(0.1)
//   blocks.i (i < depth), pre-norm:
//     x = x + attn.proj_drop(attn(norm1(x)))   attn: qkv Linear(D, 3D), 3 heads of D/3, scores
//                                              q k^T / sqrt(D/3), softmax over keys, A v, proj Linear(D, D)
//     x = x + mlp(norm2(x))                    mlp: fc1 Linear(D, 4D) GELU(erf) drop1 fc2 Linear(4D, D) drop2
//   norm LayerNorm(D) -> the class token -> head Linear(D, K)
// D = 192, depth 6: 2,702,215 parameters and 433.7 M MACs with 7 classes. Parameter names are timm's
// VisionTransformer state-dict keys (patch_embed.proj, cls_token, pos_embed, blocks.i.norm1,
// blocks.i.attn.qkv, blocks.i.attn.proj, blocks.i.norm2, blocks.i.mlp.fc1/fc2, norm, head).
// LayerNorm eps 1e-6 as in timm. `width` scales D (must stay a multiple of 3); the variant
// "depth=<n>" changes the number of blocks (reduced golden fixtures).
#include <cmath>
#include <string>

#include "models/r003.h"
#include "nn/init.h"
#include "nn/layers.h"

namespace fer::models {

namespace {

constexpr int64_t kHeads = 3;
constexpr int64_t kPatch = 4;
constexpr double kLnEps = 1e-6;

class Attention : public nn::Module {
 public:
  Attention(int64_t dim, int64_t heads) : heads(heads), head_dim(dim / heads) {
    qkv = register_module("qkv", std::make_shared<nn::Linear>(dim, 3 * dim));
    proj = register_module("proj", std::make_shared<nn::Linear>(dim, dim));
    proj_drop = register_module("proj_drop", std::make_shared<nn::Dropout>(0.1));
  }
  // x [N, T, D] -> [N, T, D]
  Tensor forward(const Tensor& x) override {
    const int64_t n = x.size(0), t = x.size(1), d = x.size(2);
    // [N, T, 3D] -> [N, T, 3, H, hd] -> [3, N, H, T, hd]
    const Tensor parts = ops::permute((*qkv)(x).reshape({n, t, 3, heads, head_dim}), {2, 0, 3, 1, 4});
    auto part = [&](int64_t i) { return ops::slice(parts, 0, i, i + 1).reshape({n * heads, t, head_dim}); };
    const Tensor q = part(0), k = part(1), v = part(2);
    const Tensor scores = ops::mul_scalar(ops::bmm(q, k, false, true), 1.0 / std::sqrt(static_cast<double>(head_dim)));
    const Tensor attn = ops::softmax(scores, -1);           // [N*H, T, T], over keys
    const Tensor out = ops::bmm(attn, v);                   // [N*H, T, hd]
    const Tensor merged = ops::permute(out.reshape({n, heads, t, head_dim}), {0, 2, 1, 3}).reshape({n, t, d});
    return (*proj_drop)((*proj)(merged));
  }
  std::string type_name() const override { return "Attention"; }
  int64_t heads, head_dim;
  std::shared_ptr<nn::Linear> qkv, proj;
  std::shared_ptr<nn::Dropout> proj_drop;
};

class Mlp : public nn::Module {
 public:
  Mlp(int64_t dim, int64_t hidden) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(dim, hidden));
    drop1 = register_module("drop1", std::make_shared<nn::Dropout>(0.1));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, dim));
    drop2 = register_module("drop2", std::make_shared<nn::Dropout>(0.1));
  }
  Tensor forward(const Tensor& x) override { return (*drop2)((*fc2)((*drop1)(ops::gelu((*fc1)(x))))); }
  std::string type_name() const override { return "Mlp"; }
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::Dropout> drop1, drop2;
};

class Block : public nn::Module {
 public:
  Block(int64_t dim, int64_t heads) {
    norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(dim, kLnEps));
    attn = register_module("attn", std::make_shared<Attention>(dim, heads));
    norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(dim, kLnEps));
    mlp = register_module("mlp", std::make_shared<Mlp>(dim, 4 * dim));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = ops::add(x, (*attn)((*norm1)(x)));
    return ops::add(h, (*mlp)((*norm2)(h)));
  }
  std::string type_name() const override { return "Block"; }
  std::shared_ptr<nn::LayerNorm> norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
};

class PatchEmbed : public nn::Module {
 public:
  PatchEmbed(int64_t in, int64_t dim) {
    proj = register_module("proj", std::make_shared<nn::Conv2d>(in, dim, kPatch, kPatch, 0, true));
  }
  // [N, C, H, W] -> [N, (H/4)(W/4), D]
  Tensor forward(const Tensor& x) override {
    const Tensor y = (*proj)(x);
    return ops::permute(y.reshape({y.size(0), y.size(1), y.size(2) * y.size(3)}), {0, 2, 1});
  }
  std::string type_name() const override { return "PatchEmbed"; }
  std::shared_ptr<nn::Conv2d> proj;
};

int64_t parse_depth(const std::string& variant) {
  if (variant.empty()) return 6;
  const std::string key = "depth=";
  FER_CHECK(variant.rfind(key, 0) == 0 && variant.size() > key.size() &&
                variant.find_first_not_of("0123456789", key.size()) == std::string::npos,
            "vit: unknown variant '" << variant << "'; hint: use \"\" (depth 6) or \"depth=<n>\"");
  const int64_t depth = std::stoll(variant.substr(key.size()));
  FER_CHECK(depth >= 1 && depth <= 64, "vit: depth must be in [1, 64], got " << depth);
  return depth;
}

class VisionTransformer : public nn::Module {
 public:
  explicit VisionTransformer(const ModelConfig& cfg, int64_t image_size = 48) {
    dim = std::max<int64_t>(kHeads, kHeads * std::lround(192 * cfg.width / kHeads));
    const int64_t depth = parse_depth(cfg.variant);
    tokens = (image_size / kPatch) * (image_size / kPatch) + 1;
    patch_embed = register_module("patch_embed", std::make_shared<PatchEmbed>(1, dim));
    cls_token = register_parameter("cls_token", Tensor::zeros({1, 1, dim}));
    pos_embed = register_parameter("pos_embed", Tensor::zeros({1, tokens, dim}));
    nn::init::trunc_normal(cls_token, 0.02);
    nn::init::trunc_normal(pos_embed, 0.02);
    pos_drop = register_module("pos_drop", std::make_shared<nn::Dropout>(0.1));
    blocks = register_module("blocks", std::make_shared<nn::Sequential>());
    for (int64_t i = 0; i < depth; ++i) blocks->add(std::make_shared<Block>(dim, kHeads));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(dim, kLnEps));
    head = register_module("head", std::make_shared<nn::Linear>(dim, cfg.num_classes));
  }

  Tensor forward(const Tensor& x) override {
    FER_CHECK(x.ndim() == 4 && x.size(1) == 1 && x.size(2) % kPatch == 0 && x.size(3) % kPatch == 0 &&
                  (x.size(2) / kPatch) * (x.size(3) / kPatch) + 1 == tokens,
              "vit: expected [N, 1, 48, 48] (" << tokens - 1 << " patches of 4x4 and a class token, as the "
              "position embedding has " << tokens << " rows), got " << fer::describe(x));
    const Tensor patches = (*patch_embed)(x);  // [N, 144, D]
    const int64_t n = patches.size(0);
    // broadcast the class token to [N, 1, D] (its gradient sums over the batch)
    const Tensor cls = ops::add(Tensor::zeros({n, 1, dim}, x.dtype(), x.device()), cls_token);
    Tensor h = (*pos_drop)(ops::add(ops::concat({cls, patches}, 1), pos_embed));
    h = (*norm)((*blocks)(h));
    return (*head)(ops::slice(h, 1, 0, 1).reshape({n, dim}));
  }
  std::string type_name() const override { return "VisionTransformer"; }

  int64_t dim, tokens;
  std::shared_ptr<PatchEmbed> patch_embed;
  Tensor cls_token, pos_embed;
  std::shared_ptr<nn::Dropout> pos_drop;
  std::shared_ptr<nn::Sequential> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
};

}  // namespace

nn::ModulePtr build_vit(const ModelConfig& config) { return std::make_shared<VisionTransformer>(config); }

}  // namespace fer::models
