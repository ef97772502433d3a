// bench/bench_ops_cases.h: the op-level benchmark cases shared by bench_ops_cuda.cpp and
// bench_ops_cpu.cpp (issue 6: BN, BN + ReLU fused and unfused, the masking block, fused softmax
// cross-entropy, the fused residual add + ReLU), at the activation shapes of the report models, and the bytes each call moves.
//
// Bytes are the call's unavoidable memory traffic: every input array read once, every output array
// written once (float32; the [C] vectors of BN included, int32 labels). A kernel that reads an input
// twice (BN's statistics pass, then the normalisation) needs more than that, so it shows up below
// 100 % of the measured copy bandwidth even when it streams at full speed: "% of peak" is how close
// the op comes to the bound a copy of the same bytes would reach.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fer::bench {

struct Nchw {
  int64_t n, c, h, w;
  const char* where;  // which model / layer has it
  int64_t size() const { return n * c * h * w; }
  std::string str() const {
    return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }
};

// BatchNorm2d (training) after a conv: usef-kh VGGNet at batch 128 (40x40 crops), CNN6 at batch 64
// (48x48, unpadded), RMN's ResNet34 trunk at batch 48 (224x224: stem and the four stages).
inline std::vector<Nchw> bn_shapes(int64_t batch_div = 1) {
  return {{128 / batch_div, 64, 40, 40, "vggnet conv1"}, {128 / batch_div, 128, 20, 20, "vggnet conv2"},
          {128 / batch_div, 256, 10, 10, "vggnet conv3"}, {128 / batch_div, 512, 5, 5, "vggnet conv4"},
          {64 / batch_div, 16, 46, 46, "cnn6 c1"},        {64 / batch_div, 128, 9, 9, "cnn6 c4"},
          {48 / batch_div, 64, 112, 112, "rmn stem"},     {48 / batch_div, 64, 56, 56, "rmn layer1"},
          {48 / batch_div, 128, 28, 28, "rmn layer2"},    {48 / batch_div, 256, 14, 14, "rmn layer3"},
          {48 / batch_div, 512, 7, 7, "rmn layer4"}};
}

// RMN's masking blocks (mask1..mask4 after layer1..layer4) and the ResNet34 residual ends
// (add + ReLU) at the same shapes, batch 48 at 224x224.
inline std::vector<Nchw> rmn_stage_shapes(int64_t batch_div = 1) {
  return {{48 / batch_div, 64, 56, 56, "rmn layer1/mask1"},
          {48 / batch_div, 128, 28, 28, "rmn layer2/mask2"},
          {48 / batch_div, 256, 14, 14, "rmn layer3/mask3"},
          {48 / batch_div, 512, 7, 7, "rmn layer4/mask4"}};
}

// Cross-entropy over K = 7 classes: batch 48 (RMN), 128, and 640 (VGGNet's ten crops of 64).
inline std::vector<int64_t> xent_rows() { return {48, 128, 640}; }
constexpr int64_t kClasses = 7;

// ---- bytes per call ---------------------------------------------------------------------------------
constexpr double kF = 4.0;  // sizeof(float) and sizeof(int32_t)
// forward training: x -> y; gamma, beta read, running mean/var read and written, save mean/invstd written
inline double bn_forward_bytes(const Nchw& s) { return kF * (2.0 * s.size() + 8.0 * s.c); }
// backward training: x, dy -> dx; gamma, save mean/invstd read, dgamma, dbeta written
inline double bn_backward_bytes(const Nchw& s) { return kF * (3.0 * s.size() + 5.0 * s.c); }
// masking forward: x, z -> y;  backward: x, z, dy -> dx, dz
inline double masking_forward_bytes(const Nchw& s) { return kF * 3.0 * s.size(); }
inline double masking_backward_bytes(const Nchw& s) { return kF * 5.0 * s.size(); }
// weighted cross-entropy: logits [N,K], labels [N], weights [K] -> loss (and dlogits [N,K])
inline double xent_bytes(int64_t n, bool with_grad) {
  return kF * (double(n * kClasses) * (with_grad ? 2 : 1) + double(n) + kClasses + 1);
}
// add + ReLU. fused forward a, b -> y; unfused add a, b -> s, then relu s -> y.
// fused backward y, dy -> g (both inputs get g); unfused relu backward s, y, dy -> ds, then
// add backward ds -> ga, gb.
inline double add_relu_forward_bytes(const Nchw& s, bool fused) { return kF * (fused ? 3.0 : 5.0) * s.size(); }
// BatchNorm2d + ReLU (training). fused forward x -> y (kernels/batchnorm_act.h); unfused batch norm
// x -> z, then relu z -> y. fused backward x, dy -> dx; unfused relu backward z, dy -> dz, then the
// batch norm backward x, dz -> dx. The [C] vectors as in bn_*_bytes.
inline double bn_relu_forward_bytes(const Nchw& s, bool fused) {
  return bn_forward_bytes(s) + (fused ? 0.0 : kF * 2.0 * s.size());
}
inline double bn_relu_backward_bytes(const Nchw& s, bool fused) {
  return bn_backward_bytes(s) + (fused ? 0.0 : kF * 3.0 * s.size());
}
inline double add_relu_backward_bytes(const Nchw& s, bool fused) { return kF * (fused ? 3.0 : 7.0) * s.size(); }

}  // namespace fer::bench
