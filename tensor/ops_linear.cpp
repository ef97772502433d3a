// tensor/ops_linear.cpp: linear layers and batched matrix products on top of GEMM (kernels/gemm.h).
//
//   linear:  Y[M,out] = X[M,in] W[out,in]^T + 1_M b^T
//            dX = dY W          dW = dY^T X          db = dY^T 1_M
//   bmm:     C_b = op(A_b) op(B_b);  dA_b, dB_b follow from the same rule per matrix.
// The bias is added and reduced with GEMMs against a vector of ones, so one GEMM routine serves
// both devices (OpenBLAS / cuBLAS) with no extra kernels.
// Matmul precision (kernels/precision.h): under tf32/bf16 the operands of the products X W^T, dY W,
// dY^T X and of bmm are rounded copies (the precision recorded by the forward); the bias GEMMs
// against the vector of ones stay fp32 (b and db are not rounded).
#include "kernels/gemm.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/op_stats.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

// C = alpha op(A) op(B) + beta C on row-major tensors' raw data (2-D views given by sizes).
// `operands`: the precision A and B are already rounded to (CUDA: the tensor-core GEMM).
void gemm_tensors(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const Tensor& A, int64_t lda,
                  const Tensor& B, int64_t ldb, double beta, Tensor& C, int64_t ldc,
                  MathPrecision operands = MathPrecision::fp32) {
  on_device(
      "gemm", C.device(),
      [&] {
        with_floating("gemm", C.dtype(), [&](auto tag) {
          using T = decltype(tag);
          cpu::gemm<T>(ta, tb, M, N, K, T(alpha), A.data<T>(), lda, B.data<T>(), ldb, T(beta), C.data<T>(), ldc);
        });
      },
      [&](cuda_stream s) {
        cuda::gemm(ta, tb, M, N, K, float(alpha), A.data<float>(), lda, B.data<float>(), ldb, float(beta),
                   C.data<float>(), ldc, s, operands);
      });
}

void bmm_tensors(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K, const Tensor& A, const Tensor& B,
                 Tensor& C, MathPrecision operands) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  on_device(
      "bmm", C.device(),
      [&] {
        with_floating("bmm", C.dtype(), [&](auto tag) {
          using T = decltype(tag);
          cpu::gemm_strided_batched<T>(ta, tb, M, N, K, T(1), A.data<T>(), lda, M * K, B.data<T>(), ldb, K * N, T(0),
                                       C.data<T>(), N, M * N, batch);
        });
      },
      [&](cuda_stream s) {
        cuda::gemm_strided_batched(ta, tb, M, N, K, 1.f, A.data<float>(), lda, M * K, B.data<float>(), ldb, K * N, 0.f,
                                   C.data<float>(), N, M * N, batch, s, operands);
      });
}

struct LinearBackward final : Node {
  Tensor x, w;         // saved inputs, x viewed as [M, in]
  bool has_bias = false;
  MathPrecision prec = MathPrecision::fp32;
  const char* name() const override { return "LinearBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const int64_t M = x.size(0), in = x.size(1), out = w.size(0);
    const Tensor dy = dy_in.reshape({M, out});
    Tensor dx, dw, db;
    const Tensor dyr = round_to_precision(dy, prec);
    if (next[0]) {  // dX[M,in] = dY[M,out] W[out,in]
      dx = Tensor::empty({M, in}, x.dtype(), x.device());
      gemm_tensors(false, false, M, in, out, 1.0, dyr, out, round_to_precision(w, prec), in, 0.0, dx, in, prec);
    }
    if (next[1]) {  // dW[out,in] = dY^T X
      dw = Tensor::empty({out, in}, w.dtype(), w.device());
      gemm_tensors(true, false, out, in, M, 1.0, dyr, out, round_to_precision(x, prec), in, 0.0, dw, in, prec);
    }
    if (has_bias && next[2]) {  // db[1,out] = 1_M^T dY
      db = Tensor::empty({out}, w.dtype(), w.device());
      const Tensor ones = Tensor::ones({M}, w.dtype(), w.device());
      gemm_tensors(false, false, 1, out, M, 1.0, ones, M, dy, out, 0.0, db, out);
    }
    return {dx.defined() ? dx.reshape(input_shape) : dx, dw, db};
  }
  void release() override { x = w = Tensor(); }
  Shape input_shape;
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  FER_CHECK(x.ndim() >= 1 && w.ndim() == 2, "linear: expected x [..., in] and w [out, in], got x " << describe(x)
                                                                                                << ", w " << describe(w));
  const int64_t in = w.size(1), out = w.size(0);
  FER_CHECK(x.size(-1) == in, "linear: x has " << x.size(-1) << " features but the weight " << shape_str(w.shape())
                                               << " expects " << in << "; hint: check the flatten size before the layer");
  check_same_device("linear", x, w);
  FER_CHECK(x.dtype() == w.dtype(), "linear: dtype mismatch, x " << describe(x) << ", w " << describe(w));
  check_cuda_float("linear", x);
  if (b.defined()) {
    FER_CHECK(b.ndim() == 1 && b.size(0) == out, "linear: bias must be [" << out << "], got " << describe(b));
    check_same_device("linear", x, b);
  }
  const int64_t M = x.numel() / in;
  count_macs(M * in * out);
  const Tensor x2 = x.detach().reshape({M, in});
  Tensor y = Tensor::empty({M, out}, x.dtype(), x.device());
  double beta = 0.0;
  if (b.defined()) {  // Y = 1_M b^T, then Y += X W^T
    const Tensor ones = Tensor::ones({M}, x.dtype(), x.device());
    gemm_tensors(false, false, M, out, 1, 1.0, ones, 1, b, out, 0.0, y, out);
    beta = 1.0;
  }
  const MathPrecision prec = math_precision();
  gemm_tensors(false, true, M, out, in, 1.0, round_to_precision(x2, prec), in, round_to_precision(w, prec), in, beta, y,
               out, prec);
  Shape out_shape = x.shape();
  out_shape.back() = out;
  y = y.reshape(out_shape);
  if (any_requires_grad({&x, &w, &b})) {
    auto node = std::make_shared<LinearBackward>();
    node->forward_macs = M * in * out;
    node->x = x2;
    node->w = w.detach();
    node->has_bias = b.defined();
    node->prec = prec;
    node->input_shape = x.shape();
    attach_node(y, node, {&x, &w, &b});
  }
  if (op_recording()) record_op("linear", {x, w, b}, y);
  return y;
}

namespace {
struct BmmBackward final : Node {
  Tensor a_saved, b_saved;
  bool ta = false, tb = false;
  MathPrecision prec = MathPrecision::fp32;
  const char* name() const override { return "BmmBackward"; }
  std::vector<Tensor> backward(const Tensor& dc_in) override {
    // C = op(A) op(B). With op(A)=A: dA = dC op(B)^T; with op(A)=A^T: dA = op(B) dC^T.
    // With op(B)=B: dB = op(A)^T dC; with op(B)=B^T: dB = dC^T op(A).
    const Tensor dc = round_to_precision(dc_in, prec);  // the operands, rounded under tf32/bf16
    const Tensor a = round_to_precision(a_saved, prec), b = round_to_precision(b_saved, prec);
    const int64_t batch = a.size(0);
    const int64_t M = dc.size(1), N = dc.size(2);
    const int64_t K = ta ? a.size(1) : a.size(2);
    Tensor da, db;
    if (next[0]) {
      da = Tensor::empty(a.shape(), a.dtype(), a.device());
      if (!ta) bmm_tensors(false, !tb, batch, M, K, N, dc, b, da, prec);  // [M,K] = dC[M,N] op(B)^T[N,K]
      else bmm_tensors(tb, true, batch, K, M, N, b, dc, da, prec);         // [K,M] = op(B)[K,N] dC^T[N,M]
    }
    if (next[1]) {
      db = Tensor::empty(b.shape(), b.dtype(), b.device());
      if (!tb) bmm_tensors(!ta, false, batch, K, N, M, a, dc, db, prec);  // [K,N] = op(A)^T[K,M] dC[M,N]
      else bmm_tensors(true, ta, batch, N, K, M, dc, a, db, prec);         // [N,K] = dC^T[N,M] op(A)[M,K]
    }
    return {da, db};
  }
  void release() override { a_saved = b_saved = Tensor(); }
};
}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  FER_CHECK(a.ndim() == 3 && b.ndim() == 3 && a.size(0) == b.size(0),
            "bmm: expected a [B, M, K] and b [B, K, N], got " << describe(a) << " and " << describe(b));
  const int64_t batch = a.size(0);
  const int64_t M = trans_a ? a.size(2) : a.size(1), K = trans_a ? a.size(1) : a.size(2);
  const int64_t Kb = trans_b ? b.size(2) : b.size(1), N = trans_b ? b.size(1) : b.size(2);
  FER_CHECK(K == Kb, "bmm: inner sizes differ (" << K << " vs " << Kb << ") for " << describe(a) << (trans_a ? "^T" : "")
                                                 << " x " << describe(b) << (trans_b ? "^T" : ""));
  check_same_device("bmm", a, b);
  check_cuda_float("bmm", a);
  Tensor c = Tensor::empty({batch, M, N}, a.dtype(), a.device());
  count_macs(batch * M * N * K);
  const MathPrecision prec = math_precision();
  bmm_tensors(trans_a, trans_b, batch, M, N, K, round_to_precision(a, prec), round_to_precision(b, prec), c, prec);
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BmmBackward>();
    node->forward_macs = batch * M * N * K;
    node->a_saved = a.detach();
    node->b_saved = b.detach();
    node->prec = prec;
    node->ta = trans_a;
    node->tb = trans_b;
    attach_node(c, node, {&a, &b});
  }
  return c;
}

}  // namespace fer::ops
