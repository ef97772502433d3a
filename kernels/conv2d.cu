// kernels/conv2d.cu: 2-D convolution and transposed convolution on the GPU (see conv2d.h for the math).
//
// The algorithm is the CPU fast path's (conv2d_im2col_cpu.cpp), chunk for chunk:
//   per group g and chunk of B samples, col[K, B*P] in the workspace (K = Cg*kh*kw, P = Ho*Wo),
//   forward           tile[Og, B*P] = W_g col (cuBLAS)     then a scatter kernel to y[n, g*Og+o, :]
//   backward input    col = W_g^T dY_g (dY_g gathered into tile when B > 1)   then col2im
//   backward weight   dW_g (+)= dY_g col^T, chunks in batch order (beta 0 for the first, 1 after)
// Pointwise convolutions (1x1, s1, p0) use x / dx directly as the column matrix, one GEMM per sample,
// and need no workspace. Convolutions with one input channel per group (depthwise, and the 1-channel
// first layer: takes_direct_path_cuda) run the direct kernels of
// conv2d_depthwise.cu (no workspace either).
// Parallelization:
//   im2col   one thread per col element (row r, column b*P + i*Wo + j): conv::im2col_value.
//   col2im   one thread per INPUT element: a gather over the <= kh*kw taps that read it, in (p, q)
//            order (conv::col2im_value). Each dx element is written by one thread: no atomics; the
//            CPU's scatter adds the same terms in the same order.
//   bias     y += b[c] elementwise; db: one block per channel, each thread a strided partial sum over
//            (n, pixel), then a fixed shared-memory tree: deterministic run to run (differs from the
//            CPU's sequential sum by rounding only).
// The chunk size B keeps the workspace under kWorkspaceCap floats (128 MB).
// operands = tf32 | bf16 (inputs already rounded, kernels/precision.h) is passed to every GEMM: the
// im2col copies and the tile moves keep the rounded values, so cuBLAS may use the tensor cores.
#include <algorithm>

#include "kernels/conv2d.h"
#include "kernels/conv2d_depthwise.h"
#include "kernels/cuda_common.cuh"
#include "kernels/gemm.h"

namespace fer::cuda {

namespace {

constexpr int64_t kWorkspaceCap = int64_t(1) << 25;  // floats

struct Plan {
  int64_t H, W, Ho, Wo, P, Cg, Og, K, kh, kw, B;
  bool pointwise;
};

Plan make_plan(const Conv2dDims& d) {
  Plan pl;
  pl.H = d.h_in, pl.W = d.w_in, pl.Ho = d.h_out(), pl.Wo = d.w_out(), pl.P = pl.Ho * pl.Wo;
  pl.Cg = d.c_in / d.groups, pl.Og = d.c_out / d.groups, pl.kh = d.kernel_h, pl.kw = d.kernel_w;
  pl.K = pl.Cg * pl.kh * pl.kw;
  pl.pointwise = pl.kh == 1 && pl.kw == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h == 0 && d.pad_w == 0;
  pl.B = pl.pointwise ? 1 : std::clamp<int64_t>(kWorkspaceCap / ((pl.K + pl.Og) * pl.P), 1, d.n);
  return pl;
}

void check_workspace(const char* op, const Plan& pl, const float* workspace) {
  FER_CHECK(pl.pointwise || workspace != nullptr, op << ": needs a workspace of conv2d_workspace_floats(d) = "
                                                     << (pl.K + pl.Og) * pl.B * pl.P << " floats, got a null pointer");
}

__global__ void im2col_kernel(Conv2dDims d, int64_t K, int64_t P, int64_t Wo, int64_t Cg, int64_t n0, int64_t B,
                              int64_t g, const float* x, float* col) {
  const int64_t ld = B * P;
  FER_CUDA_KERNEL_LOOP(e, K * ld) {  // e = r*ld + b*P + i*Wo + j: neighbouring threads, neighbouring pixels
    const int64_t r = e / ld, rem = e % ld;
    const int64_t b = rem / P, k = rem % P;
    const int64_t c = r / (d.kernel_h * d.kernel_w), p = (r / d.kernel_w) % d.kernel_h, q = r % d.kernel_w;
    const float* plane0 = x + ((n0 + b) * d.c_in + g * Cg) * d.h_in * d.w_in;
    col[e] =
        conv::im2col_value(plane0, d.h_in, d.w_in, c, p, q, k / Wo, k % Wo, d.stride_h, d.stride_w, d.pad_h, d.pad_w);
  }
}

__global__ void col2im_kernel(Conv2dDims d, int64_t P, int64_t Ho, int64_t Wo, int64_t Cg, int64_t n0, int64_t B,
                              int64_t g, const float* col, float* dx) {
  const int64_t HW = d.h_in * d.w_in;
  FER_CUDA_KERNEL_LOOP(e, B * Cg * HW) {  // one thread per input element (b, c, h, v) of the chunk
    const int64_t v = e % d.w_in, h = (e / d.w_in) % d.h_in;
    const int64_t c = (e / HW) % Cg, b = e / (HW * Cg);
    dx[((n0 + b) * d.c_in + g * Cg + c) * HW + h * d.w_in + v] = conv::col2im_value(
        col + b * P, B * P, Ho, Wo, d.kernel_h, d.kernel_w, c, h, v, d.stride_h, d.stride_w, d.pad_h, d.pad_w);
  }
}

// tile[o, b*P + k] -> y[n0+b, g*Og+o, k]   (to_tile = false), or the reverse gather of dy (to_tile = true).
__global__ void tile_copy_kernel(int64_t C, int64_t Og, int64_t P, int64_t n0, int64_t B, int64_t g, bool to_tile,
                                 const float* src, float* dst) {
  const int64_t ld = B * P;
  FER_CUDA_KERNEL_LOOP(e, B * Og * P) {
    const int64_t k = e % P, o = (e / P) % Og, b = e / (P * Og);
    const int64_t t = o * ld + b * P + k, a = ((n0 + b) * C + g * Og + o) * P + k;
    if (to_tile)
      dst[t] = src[a];
    else
      dst[a] = src[t];
  }
}

__global__ void add_bias_kernel(int64_t total, int64_t C, int64_t P, const float* bias, float* y) {
  FER_CUDA_KERNEL_LOOP(e, total) {
    y[e] += bias[(e / P) % C];
  }
}

constexpr int kSumThreads = 256;

// out[c] = sum over (n, k) of a[n, c, k]; one block per channel (grid-stride over channels).
__global__ void channel_sums_kernel(int64_t N, int64_t C, int64_t P, const float* a, float* out) {
  __shared__ float part[kSumThreads];
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    float sum = 0.f;
    for (int64_t e = threadIdx.x; e < N * P; e += kSumThreads) sum += a[((e / P) * C + c) * P + e % P];
    part[threadIdx.x] = sum;
    __syncthreads();
    for (int s = kSumThreads / 2; s > 0; s /= 2) {  // fixed tree: the same additions every run
      if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[c] = part[0];
    __syncthreads();  // part[] is reused by the next channel
  }
}

void add_bias(int64_t N, int64_t C, int64_t P, const float* bias, float* y, cuda_stream s) {
  add_bias_kernel<<<grid_for(N * C * P), kBlock, 0, to_cuda(s)>>>(N * C * P, C, P, bias, y);
  FER_LAUNCH_CHECK();
}

void channel_sums(int64_t N, int64_t C, int64_t P, const float* a, float* out, cuda_stream s) {
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(C, 65535));
  channel_sums_kernel<<<blocks, kSumThreads, 0, to_cuda(s)>>>(N, C, P, a, out);
  FER_LAUNCH_CHECK();
}

void im2col(const Conv2dDims& d, const Plan& pl, const float* x, int64_t n0, int64_t B, int64_t g, float* col,
            cuda_stream s) {
  im2col_kernel<<<grid_for(pl.K * B * pl.P), kBlock, 0, to_cuda(s)>>>(d, pl.K, pl.P, pl.Wo, pl.Cg, n0, B, g, x, col);
  FER_LAUNCH_CHECK();
}

// dY_g of samples n0.. as [Og, B*P]: a view of dy when B == 1, else gathered into tile.
const float* gather_dy(const Conv2dDims& d, const Plan& pl, const float* dy, int64_t n0, int64_t B, int64_t g,
                       float* tile, int64_t* ld, cuda_stream s) {
  if (B == 1) {
    *ld = pl.P;
    return dy + (n0 * d.c_out + g * pl.Og) * pl.P;
  }
  *ld = B * pl.P;
  tile_copy_kernel<<<grid_for(B * pl.Og * pl.P), kBlock, 0, to_cuda(s)>>>(d.c_out, pl.Og, pl.P, n0, B, g, true, dy,
                                                                          tile);
  FER_LAUNCH_CHECK();
  return tile;
}

}  // namespace

int64_t conv2d_workspace_floats(const Conv2dDims& d) {
  conv2d_check("cuda::conv2d_workspace_floats", d);
  if (takes_direct_path_cuda(d)) return 0;  // the direct kernels of conv2d_depthwise.cu
  const Plan pl = make_plan(d);
  return pl.pointwise ? 0 : (pl.K + pl.Og) * pl.B * pl.P;
}

int64_t conv_transpose2d_workspace_floats(const ConvTranspose2dDims& d) {
  conv_transpose2d_check("cuda::conv_transpose2d_workspace_floats", d);
  return conv2d_workspace_floats(d.as_conv());
}

void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y, float* workspace,
                    cuda_stream s, MathPrecision operands) {
  conv2d_check("cuda::conv2d_forward", d);
  if (takes_direct_path_cuda(d)) return depthwise_conv2d_forward(d, x, w, bias, y, s);  // no workspace
  const Plan pl = make_plan(d);
  check_workspace("cuda::conv2d_forward", pl, workspace);
  float* col = workspace;
  float* tile = pl.pointwise ? nullptr : workspace + pl.K * pl.B * pl.P;
  for (int64_t n0 = 0; n0 < d.n; n0 += pl.B) {
    const int64_t B = std::min(pl.B, d.n - n0), ld = B * pl.P;
    for (int64_t g = 0; g < d.groups; ++g) {
      const float* wg = w + g * pl.Og * pl.K;
      const float* cols = col;
      if (pl.pointwise)
        cols = x + (n0 * d.c_in + g * pl.Cg) * pl.P;
      else
        im2col(d, pl, x, n0, B, g, col, s);
      if (B == 1) {
        gemm(false, false, pl.Og, pl.P, pl.K, 1.f, wg, pl.K, cols, pl.P, 0.f, y + (n0 * d.c_out + g * pl.Og) * pl.P,
             pl.P, s, operands);
        continue;
      }
      gemm(false, false, pl.Og, ld, pl.K, 1.f, wg, pl.K, cols, ld, 0.f, tile, ld, s, operands);
      tile_copy_kernel<<<grid_for(B * pl.Og * pl.P), kBlock, 0, to_cuda(s)>>>(d.c_out, pl.Og, pl.P, n0, B, g, false,
                                                                              tile, y);
      FER_LAUNCH_CHECK();
    }
  }
  if (bias) add_bias(d.n, d.c_out, pl.P, bias, y, s);
}

void conv2d_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, float* workspace,
                           cuda_stream s, MathPrecision operands) {
  conv2d_check("cuda::conv2d_backward_input", d);
  if (takes_direct_path_cuda(d)) return depthwise_conv2d_backward_input(d, dy, w, dx, s);
  const Plan pl = make_plan(d);
  check_workspace("cuda::conv2d_backward_input", pl, workspace);
  float* col = workspace;
  float* tile = pl.pointwise ? nullptr : workspace + pl.K * pl.B * pl.P;
  for (int64_t n0 = 0; n0 < d.n; n0 += pl.B) {
    const int64_t B = std::min(pl.B, d.n - n0);
    for (int64_t g = 0; g < d.groups; ++g) {
      int64_t ld_dy;
      const float* dyg = gather_dy(d, pl, dy, n0, B, g, tile, &ld_dy, s);
      const float* wg = w + g * pl.Og * pl.K;
      if (pl.pointwise) {
        gemm(true, false, pl.K, pl.P, pl.Og, 1.f, wg, pl.K, dyg, ld_dy, 0.f, dx + (n0 * d.c_in + g * pl.Cg) * pl.P,
             pl.P, s, operands);
        continue;
      }
      gemm(true, false, pl.K, B * pl.P, pl.Og, 1.f, wg, pl.K, dyg, ld_dy, 0.f, col, B * pl.P, s, operands);
      col2im_kernel<<<grid_for(B * pl.Cg * pl.H * pl.W), kBlock, 0, to_cuda(s)>>>(d, pl.P, pl.Ho, pl.Wo, pl.Cg, n0, B,
                                                                                  g, col, dx);
      FER_LAUNCH_CHECK();
    }
  }
}

void conv2d_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* dbias,
                            float* workspace, cuda_stream s, MathPrecision operands) {
  conv2d_check("cuda::conv2d_backward_weight", d);
  if (takes_direct_path_cuda(d)) return depthwise_conv2d_backward_weight(d, x, dy, dw, dbias, s);
  const Plan pl = make_plan(d);
  if (dw) check_workspace("cuda::conv2d_backward_weight", pl, workspace);  // before anything is written
  if (dbias) channel_sums(d.n, d.c_out, pl.P, dy, dbias, s);
  if (!dw) return;  // only the bias gradient was asked for
  float* col = workspace;
  float* tile = pl.pointwise ? nullptr : workspace + pl.K * pl.B * pl.P;
  for (int64_t n0 = 0; n0 < d.n; n0 += pl.B) {
    const int64_t B = std::min(pl.B, d.n - n0);
    const float beta = n0 == 0 ? 0.f : 1.f;
    for (int64_t g = 0; g < d.groups; ++g) {
      int64_t ld_dy;
      const float* dyg = gather_dy(d, pl, dy, n0, B, g, tile, &ld_dy, s);
      const float* cols = col;
      if (pl.pointwise)
        cols = x + (n0 * d.c_in + g * pl.Cg) * pl.P;
      else
        im2col(d, pl, x, n0, B, g, col, s);
      gemm(false, true, pl.Og, pl.K, B * pl.P, 1.f, dyg, ld_dy, cols, B * pl.P, beta, dw + g * pl.Og * pl.K, pl.K, s,
           operands);
    }
  }
}

void conv_transpose2d_forward(const ConvTranspose2dDims& d, const float* x, const float* w, const float* bias, float* y,
                              float* workspace, cuda_stream s, MathPrecision operands) {
  conv_transpose2d_check("cuda::conv_transpose2d_forward", d);
  conv2d_backward_input(d.as_conv(), x, w, y, workspace, s, operands);
  if (bias) add_bias(d.n, d.c_out, d.h_out() * d.w_out(), bias, y, s);
}

void conv_transpose2d_backward_input(const ConvTranspose2dDims& d, const float* dy, const float* w, float* dx,
                                     float* workspace, cuda_stream s, MathPrecision operands) {
  conv_transpose2d_check("cuda::conv_transpose2d_backward_input", d);
  conv2d_forward(d.as_conv(), dy, w, nullptr, dx, workspace, s, operands);
}

void conv_transpose2d_backward_weight(const ConvTranspose2dDims& d, const float* x, const float* dy, float* dw,
                                      float* dbias, float* workspace, cuda_stream s, MathPrecision operands) {
  conv_transpose2d_check("cuda::conv_transpose2d_backward_weight", d);
  if (dw) conv2d_backward_weight(d.as_conv(), dy, x, dw, nullptr, workspace, s, operands);
  if (dbias) channel_sums(d.n, d.c_out, d.h_out() * d.w_out(), dy, dbias, s);
}

}  // namespace fer::cuda
