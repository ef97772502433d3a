// tensor/ops_conv.cpp: 2-D convolution and transposed convolution with autograd (kernels/conv2d.h).
//
//   conv2d            y = conv(x, w) + b        dx = conv_backward_input(dy, w)
//                                               dw = conv_backward_weight(x, dy), db = sum_{n,i,j} dy
//   conv_transpose2d  y = conv^T(x, w) + b      (the adjoint: dx = conv(dy, w), dw from (dy, x))
// Both save x and w (detached) for the backward and compute only the gradients whose inputs need one.
// Matmul precision (kernels/precision.h): under tf32/bf16 every GEMM operand is a rounded copy
// (forward: x, w; grad-input: dy, w; grad-weight: x, dy), made again in the backward from the saved
// fp32 tensors with the precision the forward recorded; the bias and its gradient use fp32 dy. On
// CUDA the kernels are told the operands are rounded, so cuBLAS may use the tensor cores.
// On CUDA the im2col scratch is a temporary f32 tensor of cuda::conv*_workspace_floats(d) elements.
// With set_conv_impl(ConvImpl::cudnn) conv2d's three CUDA passes run through kernels/conv2d_cudnn.h
// instead (its workspace is a temporary tensor too), on the same (rounded) operands; conv_transpose2d
// stays native. With set_conv_impl(ConvImpl::tc) they run as implicit GEMMs on the tensor cores
// (kernels/conv2d_tc.h) on the same rounded operands; that needs the precision tf32 or bf16 (fp32:
// fer::Error "--conv-impl tc needs --precision tf32|bf16"); the bias gradient stays the native fp32
// reduction of dy, and convolutions whose output channels each read one input channel (depthwise,
// the 1-channel first layer) take the native direct kernels on the rounded operands (use_tc).
// MACs (tensor/op_stats.h): N*Cout*Ho*Wo*(Cin/groups)*kh*kw for conv2d, N*Cin*H*W*(Cout/groups)*kh*kw
// for the transposed convolution.
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/conv2d_depthwise.h"
#include "kernels/conv2d_tc.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_stats.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

// A CUDA scratch tensor of `floats` floats; its pointer, or null when none is needed.
struct Workspace {
  Tensor t;
  explicit Workspace(int64_t floats) {
    if (floats > 0) t = Tensor::empty({floats}, DType::f32, Device::cuda);
  }
  float* get() { return t.defined() ? t.data<float>() : nullptr; }
};

// cuDNN's workspace for one pass of d (--conv-impl cudnn), from the caching allocator.
struct CudnnWorkspace {
  Tensor t;
  size_t bytes = 0;
  CudnnWorkspace(const Conv2dDims& d, cudnn::ConvPass pass) : bytes(cudnn::conv2d_algo(d, pass).workspace_bytes) {
    if (bytes > 0) t = Tensor::empty({static_cast<int64_t>((bytes + 3) / 4)}, DType::f32, Device::cuda);
  }
  void* get() { return t.defined() ? t.data<float>() : nullptr; }
};

ConvImpl g_conv_impl = ConvImpl::native;

// --conv-impl tc, except where each output channel reads one input channel (depthwise, the 1-channel
// first layer): a 64-wide GEMM tile would sit almost idle there, and the direct kernels of
// conv2d_depthwise.h take those shapes on the rounded operands instead.
bool use_tc(const Conv2dDims& d) { return g_conv_impl == ConvImpl::tc && !takes_direct_path_cuda(d); }

template <typename T>
T* opt_data(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Checks shared by both ops: 4-D x and w on one device with one dtype; a 1-D bias of `channels`.
void check_conv_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const char* w_layout) {
  FER_CHECK(x.ndim() == 4, op << ": expected x [N, C, H, W], got " << describe(x)
                              << "; hint: a single image needs a batch dimension [1, C, H, W]");
  FER_CHECK(w.ndim() == 4, op << ": expected w " << w_layout << ", got " << describe(w));
  check_same_device(op, x, w);
  FER_CHECK(x.dtype() == w.dtype(), op << ": dtype mismatch, x " << describe(x) << ", w " << describe(w));
  check_cuda_float(op, x);
  if (b.defined()) {
    check_same_device(op, x, b);
    FER_CHECK(b.dtype() == x.dtype(), op << ": dtype mismatch, x " << describe(x) << ", b " << describe(b));
  }
}

void check_bias(const char* op, const Tensor& b, int64_t channels) {
  FER_CHECK(!b.defined() || (b.ndim() == 1 && b.size(0) == channels),
            op << ": bias must be [" << channels << "] (one per output channel), got " << describe(b));
}

struct Conv2dBackward final : Node {
  Conv2dDims d{};
  Tensor x, w;
  bool has_bias = false;
  MathPrecision prec = MathPrecision::fp32;
  const char* name() const override { return "Conv2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx, dw, db;
    const bool want_db = has_bias && next[2];
    const Tensor dyr = round_to_precision(dy, prec);  // dy itself under fp32
    if (next[0]) {  // dx = conv_backward_input(dy, w)
      dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      const Tensor wr = round_to_precision(w, prec);
      run_kernel(
          name(), dx,
          [&](auto tag) {
            using T = decltype(tag);
            cpu::conv2d_backward_input<T>(d, dyr.data<T>(), wr.data<T>(), dx.data<T>());
          },
          [&](cuda_stream s) {
            if (use_tc(d)) {
              tc::check_precision("conv2d backward (--conv-impl tc)", prec);
              return cuda::conv2d_tc_backward_input(d, dyr.data<float>(), wr.data<float>(), dx.data<float>(), prec, s);
            }
            if (g_conv_impl == ConvImpl::cudnn) {
              CudnnWorkspace cw(d, cudnn::ConvPass::backward_input);
              return cudnn::conv2d_backward_input(d, dyr.data<float>(), wr.data<float>(), dx.data<float>(), cw.get(),
                                                  cw.bytes, s);
            }
            Workspace ws(cuda::conv2d_workspace_floats(d));
            cuda::conv2d_backward_input(d, dyr.data<float>(), wr.data<float>(), dx.data<float>(), ws.get(), s, prec);
          });
    }
    if (next[1] || want_db) {  // dw = sum_n dY col^T, db = sum dy (either may be skipped)
      if (next[1]) dw = Tensor::empty(w.shape(), w.dtype(), w.device());
      if (want_db) db = Tensor::empty({d.c_out}, w.dtype(), w.device());
      // One call when the operands are not rounded; else dw from the rounded (x, dy), db from fp32 dy.
      const bool split = prec != MathPrecision::fp32 && dy.dtype() == DType::f32;
      const Tensor xr = dw.defined() ? round_to_precision(x, prec) : x;
      auto weight_grad = [&](const Tensor& xs, const Tensor& dys, Tensor& dws, Tensor& dbs) {
        run_kernel(
            name(), dys,
            [&](auto tag) {
              using T = decltype(tag);
              cpu::conv2d_backward_weight<T>(d, xs.data<T>(), dys.data<T>(), opt_data<T>(dws), opt_data<T>(dbs));
            },
            [&](cuda_stream s) {
              if (use_tc(d)) {
                tc::check_precision("conv2d backward (--conv-impl tc)", prec);
                if (dws.defined()) {
                  Workspace ws(cuda::conv2d_tc_workspace_floats(d));
                  cuda::conv2d_tc_backward_weight(d, xs.data<float>(), dys.data<float>(), dws.data<float>(), ws.get(),
                                                  prec, s);
                }
                if (dbs.defined())  // the native fp32 reduction of dy (no workspace without dw)
                  cuda::conv2d_backward_weight(d, xs.data<float>(), dys.data<float>(), nullptr, dbs.data<float>(),
                                               nullptr, s);
                return;
              }
              if (g_conv_impl == ConvImpl::cudnn) {
                CudnnWorkspace cw(d, cudnn::ConvPass::backward_weight);
                return cudnn::conv2d_backward_weight(d, xs.data<float>(), dys.data<float>(), opt_data<float>(dws),
                                                     opt_data<float>(dbs), cw.get(), cw.bytes, s);
              }
              Workspace ws(dws.defined() ? cuda::conv2d_workspace_floats(d) : 0);
              cuda::conv2d_backward_weight(d, xs.data<float>(), dys.data<float>(), opt_data<float>(dws),
                                           opt_data<float>(dbs), ws.get(), s, prec);
            });
      };
      Tensor none;
      if (!split) {
        weight_grad(x, dy, dw, db);
      } else {
        if (dw.defined()) weight_grad(xr, dyr, dw, none);
        if (db.defined()) weight_grad(x, dy, none, db);
      }
    }
    return {dx, dw, db};
  }
  void release() override { x = w = Tensor(); }
};

struct ConvTranspose2dBackward final : Node {
  ConvTranspose2dDims d{};
  Tensor x, w;
  bool has_bias = false;
  MathPrecision prec = MathPrecision::fp32;
  const char* name() const override { return "ConvTranspose2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx, dw, db;
    const bool want_db = has_bias && next[2];
    const Tensor dyr = round_to_precision(dy, prec);  // dy itself under fp32
    if (next[0]) {  // dx = conv(dy, w)
      dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      const Tensor wr = round_to_precision(w, prec);
      run_kernel(
          name(), dx,
          [&](auto tag) {
            using T = decltype(tag);
            cpu::conv_transpose2d_backward_input<T>(d, dyr.data<T>(), wr.data<T>(), dx.data<T>());
          },
          [&](cuda_stream s) {
            Workspace ws(cuda::conv_transpose2d_workspace_floats(d));
            cuda::conv_transpose2d_backward_input(d, dyr.data<float>(), wr.data<float>(), dx.data<float>(), ws.get(),
                                                  s, prec);
          });
    }
    if (next[1] || want_db) {
      if (next[1]) dw = Tensor::empty(w.shape(), w.dtype(), w.device());
      if (want_db) db = Tensor::empty({d.c_out}, w.dtype(), w.device());
      const bool split = prec != MathPrecision::fp32 && dy.dtype() == DType::f32;
      const Tensor xr = dw.defined() ? round_to_precision(x, prec) : x;
      auto weight_grad = [&](const Tensor& xs, const Tensor& dys, Tensor& dws, Tensor& dbs) {
        run_kernel(
            name(), dys,
            [&](auto tag) {
              using T = decltype(tag);
              cpu::conv_transpose2d_backward_weight<T>(d, xs.data<T>(), dys.data<T>(), opt_data<T>(dws),
                                                       opt_data<T>(dbs));
            },
            [&](cuda_stream s) {
              Workspace ws(dws.defined() ? cuda::conv_transpose2d_workspace_floats(d) : 0);
              cuda::conv_transpose2d_backward_weight(d, xs.data<float>(), dys.data<float>(), opt_data<float>(dws),
                                                     opt_data<float>(dbs), ws.get(), s, prec);
            });
      };
      Tensor none;
      if (!split) {
        weight_grad(x, dy, dw, db);
      } else {  // dw from the rounded (x, dy), db from fp32 dy
        if (dw.defined()) weight_grad(xr, dyr, dw, none);
        if (db.defined()) weight_grad(x, dy, none, db);
      }
    }
    return {dx, dw, db};
  }
  void release() override { x = w = Tensor(); }
};

}  // namespace

void set_conv_impl(ConvImpl impl) {
  FER_CHECK(impl != ConvImpl::tc || kCudaBuilt,
            "--conv-impl tc: this build has no CUDA (the tensor-core convolution is CUDA only); hint: use --conv-impl "
            "native");
  FER_CHECK(impl != ConvImpl::cudnn || kCudnnBuilt,
            "--conv-impl cudnn: this build has no cuDNN; hint: configure with -DCUDNN_ROOT=<cuDNN prefix>, or use "
            "--conv-impl native");
  g_conv_impl = impl;
}

ConvImpl conv_impl() { return g_conv_impl; }

ConvImpl conv_impl_from_name(const std::string& name) {
  if (name == "native") return ConvImpl::native;
  if (name == "cudnn") return ConvImpl::cudnn;
  if (name == "tc") return ConvImpl::tc;
  FER_FAIL("--conv-impl: unknown implementation '" << name << "'; hint: native, cudnn or tc");
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  check_conv_args("conv2d", x, w, b, "[Cout, Cin/groups, kh, kw]");
  Conv2dDims d;
  d.n = x.size(0), d.c_in = x.size(1), d.h_in = x.size(2), d.w_in = x.size(3), d.c_out = w.size(0);
  d.kernel_h = w.size(2), d.kernel_w = w.size(3);
  d.stride_h = o.stride_h, d.stride_w = o.stride_w, d.pad_h = o.pad_h, d.pad_w = o.pad_w, d.groups = o.groups;
  FER_CHECK(o.groups >= 1 && d.c_in % o.groups == 0 && w.size(1) * o.groups == d.c_in,
            "conv2d: x has " << d.c_in << " channels but w " << shape_str(w.shape()) << " with groups = " << o.groups
                             << " expects " << w.size(1) * o.groups
                             << "; hint: w is [Cout, Cin/groups, kh, kw] and Cin must match the previous layer");
  check_bias("conv2d", b, d.c_out);
  conv2d_check("conv2d", d);
  count_macs(d.macs());
  Tensor y = Tensor::empty({d.n, d.c_out, d.h_out(), d.w_out()}, x.dtype(), x.device());
  const MathPrecision prec = math_precision();
  const Tensor xr = round_to_precision(x, prec), wr = round_to_precision(w, prec);
  run_kernel(
      "conv2d", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::conv2d_forward<T>(d, xr.data<T>(), wr.data<T>(), opt_data<T>(b), y.data<T>());
      },
      [&](cuda_stream s) {
        if (use_tc(d)) {
          tc::check_precision("conv2d (--conv-impl tc)", prec);
          return cuda::conv2d_tc_forward(d, xr.data<float>(), wr.data<float>(), opt_data<float>(b), y.data<float>(),
                                         prec, s);
        }
        if (g_conv_impl == ConvImpl::cudnn) {
          CudnnWorkspace cw(d, cudnn::ConvPass::forward);
          return cudnn::conv2d_forward(d, xr.data<float>(), wr.data<float>(), opt_data<float>(b), y.data<float>(), cw.get(),
                                       cw.bytes, s);
        }
        Workspace ws(cuda::conv2d_workspace_floats(d));
        cuda::conv2d_forward(d, xr.data<float>(), wr.data<float>(), opt_data<float>(b), y.data<float>(), ws.get(), s,
                             prec);
      });
  if (any_requires_grad({&x, &w, &b})) {
    auto node = std::make_shared<Conv2dBackward>();
    node->forward_macs = d.macs();
    node->d = d;
    node->x = x.detach();
    node->w = w.detach();
    node->has_bias = b.defined();
    node->prec = prec;
    attach_node(y, node, {&x, &w, &b});
  }
  if (op_recording())
    record_op("conv2d", {x, w, b}, y,
              {{"stride", {double(o.stride_h), double(o.stride_w)}},
               {"pad", {double(o.pad_h), double(o.pad_w)}},
               {"groups", {double(o.groups)}}});
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding) {
  check_conv_args("conv_transpose2d", x, w, b, "[Cin, Cout, kh, kw]");
  ConvTranspose2dDims d;
  d.n = x.size(0), d.c_in = x.size(1), d.h_in = x.size(2), d.w_in = x.size(3), d.c_out = w.size(1);
  d.kernel_h = w.size(2), d.kernel_w = w.size(3);
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = padding;
  FER_CHECK(w.size(0) == d.c_in, "conv_transpose2d: x has " << d.c_in << " channels but w " << shape_str(w.shape())
                                                            << " expects " << w.size(0)
                                                            << "; hint: the transposed weight is [Cin, Cout, kh, kw]");
  check_bias("conv_transpose2d", b, d.c_out);
  conv_transpose2d_check("conv_transpose2d", d);
  count_macs(d.macs());
  Tensor y = Tensor::empty({d.n, d.c_out, d.h_out(), d.w_out()}, x.dtype(), x.device());
  const MathPrecision prec = math_precision();
  const Tensor xr = round_to_precision(x, prec), wr = round_to_precision(w, prec);
  run_kernel(
      "conv_transpose2d", x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::conv_transpose2d_forward<T>(d, xr.data<T>(), wr.data<T>(), opt_data<T>(b), y.data<T>());
      },
      [&](cuda_stream s) {
        Workspace ws(cuda::conv_transpose2d_workspace_floats(d));
        cuda::conv_transpose2d_forward(d, xr.data<float>(), wr.data<float>(), opt_data<float>(b), y.data<float>(),
                                       ws.get(), s, prec);
      });
  if (any_requires_grad({&x, &w, &b})) {
    auto node = std::make_shared<ConvTranspose2dBackward>();
    node->forward_macs = d.macs();
    node->d = d;
    node->x = x.detach();
    node->w = w.detach();
    node->has_bias = b.defined();
    node->prec = prec;
    attach_node(y, node, {&x, &w, &b});
  }
  if (op_recording())
    record_op("conv_transpose2d", {x, w, b}, y, {{"stride", {double(stride)}}, {"pad", {double(padding)}}});
  return y;
}

}  // namespace fer::ops
