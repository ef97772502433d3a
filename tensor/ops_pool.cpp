// tensor/ops_pool.cpp: pooling, dropout, drop-path and up-sampling (kernels/pool.h, dropout.h,
// upsample.h). Max pooling saves its argmax indices (i32) for the backward; dropout saves its uint8
// mask. Masks come from the generator's dropout stream: element i of a call uses Philox counter
// offset + i, with the offset reserved from the Generator, so CPU and CUDA drop the same elements.
#include "kernels/dropout.h"
#include "kernels/pool.h"
#include "kernels/upsample.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

Pool2dDims pool_dims(const char* op, const Tensor& x, const PoolOptions& o) {
  FER_CHECK(x.ndim() == 4, op << ": expected [N, C, H, W], got " << describe(x));
  check_cuda_float(op, x);
  Pool2dDims d{x.size(0), x.size(1), x.size(2), x.size(3), o.kernel_h, o.kernel_w, o.stride_h, o.stride_w,
               o.pad_h,   o.pad_w,   o.ceil_mode};
  check_pool2d(op, d);
  return d;
}

struct MaxPoolBackward final : Node {
  Pool2dDims d{};
  Tensor argmax;
  DType dtype = DType::f32;
  const char* name() const override { return "MaxPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty({d.n, d.c, d.h, d.w}, dtype, dy.device());
    run_kernel(
        name(), dx,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::maxpool2d_backward<T>(d, dy.data<T>(), argmax.data<int32_t>(), dx.data<T>());
        },
        [&](cuda_stream s) { cuda::maxpool2d_backward(d, dy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), s); });
    return {dx};
  }
  void release() override { argmax = Tensor(); }
};

struct AvgPoolBackward final : Node {
  Pool2dDims d{};
  bool count_include_pad = true;
  DType dtype = DType::f32;
  const char* name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty({d.n, d.c, d.h, d.w}, dtype, dy.device());
    run_kernel(
        name(), dx,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::avgpool2d_backward<T>(d, count_include_pad, dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) { cuda::avgpool2d_backward(d, count_include_pad, dy.data<float>(), dx.data<float>(), s); });
    return {dx};
  }
};

struct GlobalAvgPoolBackward final : Node {
  int64_t n = 0, c = 0, h = 0, w = 0;
  DType dtype = DType::f32;
  const char* name() const override { return "GlobalAvgPoolBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty({n, c, h, w}, dtype, dy.device());
    run_kernel(
        name(), dx,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::global_avgpool_backward<T>(n, c, h * w, dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) { cuda::global_avgpool_backward(n, c, h * w, dy.data<float>(), dx.data<float>(), s); });
    return {dx};
  }
};

}  // namespace

namespace {
std::vector<std::pair<std::string, std::vector<double>>> pool_attrs(const PoolOptions& o) {
  return {{"kernel", {double(o.kernel_h), double(o.kernel_w)}},
          {"stride", {double(o.stride_h), double(o.stride_w)}},
          {"pad", {double(o.pad_h), double(o.pad_w)}},
          {"ceil_mode", {o.ceil_mode ? 1.0 : 0.0}},
          {"count_include_pad", {o.count_include_pad ? 1.0 : 0.0}}};
}
}  // namespace

Tensor max_pool2d(const Tensor& x, const PoolOptions& options) {
  const Pool2dDims d = pool_dims("max_pool2d", x, options);
  Tensor y = Tensor::empty({d.n, d.c, d.out_h(), d.out_w()}, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(y.shape(), DType::i32, x.device());
  run_kernel(
      "max_pool2d", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::maxpool2d_forward<T>(d, x.data<T>(), y.data<T>(), argmax.data<int32_t>());
      },
      [&](cuda_stream s) { cuda::maxpool2d_forward(d, x.data<float>(), y.data<float>(), argmax.data<int32_t>(), s); });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MaxPoolBackward>();
    node->d = d;
    node->argmax = argmax;
    node->dtype = x.dtype();
    attach_node(y, node, {&x});
  }
  if (op_recording()) record_op("max_pool2d", {x}, y, pool_attrs(options));
  return y;
}

Tensor avg_pool2d(const Tensor& x, const PoolOptions& options) {
  const Pool2dDims d = pool_dims("avg_pool2d", x, options);
  Tensor y = Tensor::empty({d.n, d.c, d.out_h(), d.out_w()}, x.dtype(), x.device());
  run_kernel(
      "avg_pool2d", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::avgpool2d_forward<T>(d, options.count_include_pad, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) { cuda::avgpool2d_forward(d, options.count_include_pad, x.data<float>(), y.data<float>(), s); });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<AvgPoolBackward>();
    node->d = d;
    node->count_include_pad = options.count_include_pad;
    node->dtype = x.dtype();
    attach_node(y, node, {&x});
  }
  if (op_recording()) record_op("avg_pool2d", {x}, y, pool_attrs(options));
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  FER_CHECK(x.ndim() == 4, "global_avg_pool: expected [N, C, H, W], got " << describe(x));
  check_cuda_float("global_avg_pool", x);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  FER_CHECK(h * w > 0, "global_avg_pool: empty spatial size in " << describe(x));
  Tensor y = Tensor::empty({n, c}, x.dtype(), x.device());
  run_kernel(
      "global_avg_pool", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::global_avgpool_forward<T>(n, c, h * w, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) { cuda::global_avgpool_forward(n, c, h * w, x.data<float>(), y.data<float>(), s); });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<GlobalAvgPoolBackward>();
    node->n = n;
    node->c = c;
    node->h = h;
    node->w = w;
    node->dtype = x.dtype();
    attach_node(y, node, {&x});
  }
  if (op_recording()) record_op("global_avg_pool", {x}, y);
  return y;
}

// ---- dropout and drop-path ----------------------------------------------------------------------
namespace {
struct MaskedBackward final : Node {
  bool per_sample = false;  // drop-path (one mask byte per sample) vs dropout (one per element)
  float p = 0;
  Tensor mask;
  const char* name() const override { return per_sample ? "DropPathBackward" : "DropoutBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
    const int64_t n = dy.numel(), samples = dy.size(0), per = samples ? n / samples : 0;
    run_kernel(
        name(), dy,
        [&](auto tag) {
          using T = decltype(tag);
          if (per_sample) cpu::droppath_backward<T>(samples, per, p, dy.data<T>(), mask.data<uint8_t>(), dx.data<T>());
          else cpu::dropout_backward<T>(n, p, dy.data<T>(), mask.data<uint8_t>(), dx.data<T>());
        },
        [&](cuda_stream s) {
          if (per_sample)
            cuda::droppath_backward(samples, per, p, dy.data<float>(), mask.data<uint8_t>(), dx.data<float>(), s);
          else cuda::dropout_backward(n, p, dy.data<float>(), mask.data<uint8_t>(), dx.data<float>(), s);
        });
    return {dx};
  }
  void release() override { mask = Tensor(); }
};

Tensor masked_drop(const char* op, const Tensor& x, double p_in, bool training, Generator& gen, bool per_sample) {
  if (!training || p_in == 0.0) return x;
  check_cuda_float(op, x);
  FER_CHECK(x.ndim() >= 1, op << ": needs at least one dimension, got " << describe(x));
  const float p = static_cast<float>(p_in);
  const int64_t n = x.numel(), samples = x.size(0), per = samples ? n / samples : 0;
  check_dropout(op, n, p);
  const uint64_t seed = gen.seed(), stream = Generator::stream_id(RngStream::dropout);
  // during a CUDA graph capture: relative to the step's start, plus a base the kernel reads (rng.h)
  const Generator::Draw draw =
      gen.locate(RngStream::dropout, gen.reserve(RngStream::dropout, static_cast<uint64_t>(per_sample ? samples : n)));
  const uint64_t offset = draw.offset;
  FER_CHECK(draw.base == nullptr || x.device() == Device::cuda,
            op << ": a graph capture is in progress but the input is on the CPU (captures are CUDA only)");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mask = Tensor::empty({per_sample ? samples : n}, DType::u8, x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        if (per_sample)
          cpu::droppath_forward<T>(samples, per, p, seed, stream, offset, x.data<T>(), y.data<T>(), mask.data<uint8_t>());
        else cpu::dropout_forward<T>(n, p, seed, stream, offset, x.data<T>(), y.data<T>(), mask.data<uint8_t>());
      },
      [&](cuda_stream s) {
        if (per_sample)
          cuda::droppath_forward(samples, per, p, seed, stream, offset, x.data<float>(), y.data<float>(),
                                 mask.data<uint8_t>(), s, draw.base);
        else
          cuda::dropout_forward(n, p, seed, stream, offset, x.data<float>(), y.data<float>(), mask.data<uint8_t>(), s,
                                draw.base);
      });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MaskedBackward>();
    node->per_sample = per_sample;
    node->p = p;
    node->mask = mask;
    attach_node(y, node, {&x});
  }
  return y;
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  return masked_drop("dropout", x, p, training, gen, false);
}

Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen) {
  return masked_drop("drop_path", x, p, training, gen, true);
}

// ---- up-sampling ----------------------------------------------------------------------------------
namespace {
struct UpsampleBackward final : Node {
  Upsample2dDims d{};
  bool bilinear = true;
  DType dtype = DType::f32;
  const char* name() const override { return bilinear ? "UpsampleBilinearBackward" : "UpsampleNearestBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::empty({d.n, d.c, d.h, d.w}, dtype, dy.device());
    run_kernel(
        name(), dx,
        [&](auto tag) {
          using T = decltype(tag);
          if (bilinear) cpu::upsample_bilinear2d_backward<T>(d, dy.data<T>(), dx.data<T>());
          else cpu::upsample_nearest2d_backward<T>(d, dy.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) {
          if (bilinear) cuda::upsample_bilinear2d_backward(d, dy.data<float>(), dx.data<float>(), s);
          else cuda::upsample_nearest2d_backward(d, dy.data<float>(), dx.data<float>(), s);
        });
    return {dx};
  }
};

Tensor upsample(const Tensor& x, int64_t out_h, int64_t out_w, bool bilinear) {
  const char* op = bilinear ? "upsample_bilinear2d" : "upsample_nearest2d";
  FER_CHECK(x.ndim() == 4, op << ": expected [N, C, H, W], got " << describe(x));
  check_cuda_float(op, x);
  const Upsample2dDims d = upsample2d_dims(x.size(0), x.size(1), x.size(2), x.size(3), out_h, out_w);
  check_upsample2d(op, d);
  Tensor y = Tensor::empty({d.n, d.c, out_h, out_w}, x.dtype(), x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        if (bilinear) cpu::upsample_bilinear2d_forward<T>(d, x.data<T>(), y.data<T>());
        else cpu::upsample_nearest2d_forward<T>(d, x.data<T>(), y.data<T>());
      },
      [&](cuda_stream s) {
        if (bilinear) cuda::upsample_bilinear2d_forward(d, x.data<float>(), y.data<float>(), s);
        else cuda::upsample_nearest2d_forward(d, x.data<float>(), y.data<float>(), s);
      });
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<UpsampleBackward>();
    node->d = d;
    node->bilinear = bilinear;
    node->dtype = x.dtype();
    attach_node(y, node, {&x});
  }
  return y;
}
}  // namespace

Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w) { return upsample(x, out_h, out_w, true); }
Tensor upsample_nearest2d(const Tensor& x, int64_t out_h, int64_t out_w) { return upsample(x, out_h, out_w, false); }

}  // namespace fer::ops
