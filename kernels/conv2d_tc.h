// kernels/conv2d_tc.h: 2-D convolution (kernels/conv2d.h geometry, dilation 1, groups) as implicit
// GEMMs on the tensor cores (mma.sync, sm_80+), operands TF32 or BF16, fp32 accumulation (issue 6).
//
// Per group g (Cg = Cin/G, Og = Cout/G, P = Ho*Wo, taps = kh*kw), no im2col buffer: the A operand is
// gathered from x / dy on the fly with the index math of conv::im2col_value / col2im_value:
//   forward      M = N*P       (n,i,j)   Ngemm = Og  (o)      K = Cg*taps (c,p,q)
//                A[m,k] = x[n, gCg+c, i*sh-ph+p, j*sw-pw+q] (0 outside)   B[k,o] = w[gOg+o, c, p, q]
//                y[n, gOg+o, i, j] = sum_k A B + b[gOg+o]
//   grad-input   M = N*H*W     (n,h,v)   Ngemm = Cg  (c)      K = Og*taps (o,p,q)
//                A[m,k] = dy[n, gOg+o, (h+ph-p)/sh, (v+pw-q)/sw] (0 unless exact and in range)
//                B[k,c] = w[gOg+o, c, p, q]           dx[n, gCg+c, h, v] = sum_k A B
//   grad-weight  M = Cg*taps   (c,p,q)   Ngemm = Og  (o)      K = N*P   (n,i,j), split over the batch
//                A[m,k] = x[n, gCg+c, i*sh-ph+p, j*sw-pw+q]   B[k,o] = dy[n, gOg+o, i, j]
//                dw[gOg+o, c, p, q] = sum_s partial_s[m,o]   (dw^T; fixed split order, no atomics)
// Every operand is rounded when it is loaded, with precision::round_tf32 (cvt.rna: ties away) or
// precision::round_bf16 (ties to even) of kernels/precision.h, so the inputs need not be rounded
// beforehand (rounding twice changes nothing). The result is the CPU twin's, "round the operands, then
// the fp32 convolution", up to the order of the fp32 sums: see kernels/notes/conv2d_tc.md for the
// tile mapping, the fragment layouts and the tolerance.
//
// Semantics as cuda::conv2d_*: outputs written (=), never accumulated; the bias (optional) is added in
// the forward epilogue; the bias gradient is not computed here (the caller uses cuda::conv2d_backward_
// weight with dw = null: a plain fp32 reduction of dy). Only the grad-weight pass needs a workspace
// (split-K partial sums): conv2d_tc_workspace_floats(d) floats, 0 when there is no split.
//
// This header compiles without CUDA: the planning functions (tc::) are host code in conv2d_tc_cpu.cpp,
// unit-tested on the CPU; cuda::conv2d_tc_* are defined in conv2d_tc.cu (CUDA builds only).
// On a device older than sm_80 every cuda::conv2d_tc_* throws fer::Error naming the device.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/conv2d.h"
#include "kernels/precision.h"

namespace fer {

namespace tc {

// Block tile of the implicit GEMM: 64 (M) x 64 (N) x 16 (K), 4 warps of 32x32 each (2 x 4 mma tiles).
constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kThreads = 128;
// Blocks a split-K grad-weight grid aims at (about two per SM of an H100); a constant, not a device
// query, so the split (the order of dw's slice sums) does not depend on the GPU; the bits inside
// each mma may still differ between GPU generations.
constexpr int64_t kTargetBlocks = 264;
constexpr int64_t kMaxSplits = 64;

enum class Pass { forward = 0, backward_input = 1, backward_weight = 2 };
const char* pass_name(Pass pass);  // "forward", "grad_input", "grad_weight"

// The GEMM one pass of d runs per group, and its grid.
struct Plan {
  int64_t m = 0, n = 0, k = 0;   // GEMM sizes per group (K: the whole reduction, all splits together)
  int64_t tiles_m = 0, tiles_n = 0;
  int64_t groups = 1;
  int64_t splits = 1;            // grad-weight: batch slices reduced in a fixed order (1 otherwise)
  int64_t samples_per_split = 0; // grad-weight: samples of the batch per slice (the last may have fewer)
  int64_t workspace_floats = 0;  // splits > 1: splits * Cout * Cg*kh*kw partial sums, else 0
  // grid = (tiles_m, tiles_n, groups * splits)
};

// The plan for (d, pass); validates d like conv2d_check and that every GEMM index fits the kernels'
// 32-bit index math (M, N, K < 2^31 - 2*64) and the grid limits (tiles_n, groups*splits <= 65535).
Plan plan(const Conv2dDims& d, Pass pass);

// The number of batch slices of the grad-weight GEMM: enough blocks to fill the GPU
// (kTargetBlocks / (tiles_m*tiles_n*groups), at most kMaxSplits and at most the batch), then
// trimmed so that no slice is empty. 1 for a batch of 1 or a grid that is already large.
int64_t weight_splits(int64_t batch, int64_t tiles_per_split);

// Throws fer::Error unless p is tf32 or bf16 (the tensor cores' operand formats):
//   "<op>: the tensor-core convolution needs tf32 or bf16 operands, got fp32; hint: --conv-impl tc
//    needs --precision tf32|bf16".
void check_precision(const char* op, MathPrecision p);

// Throws fer::Error unless compute capability major.minor >= 8.0 (mma.sync with tf32/bf16).
void check_arch(const char* op, int cc_major, int cc_minor);

}  // namespace tc

namespace cuda {
// Floats of workspace conv2d_tc_backward_weight needs (0: none; the pointer may then be null).
int64_t conv2d_tc_workspace_floats(const Conv2dDims& d);

// y [N,Cout,Ho,Wo] = conv(round(x), round(w)) + bias (bias may be null). p: tf32 | bf16.
void conv2d_tc_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y,
                       MathPrecision p, cuda_stream stream);
// dx [N,Cin,H,W] = conv_backward_input(round(dy), round(w)).
void conv2d_tc_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, MathPrecision p,
                              cuda_stream stream);
// dw [Cout,Cg,kh,kw] = conv_backward_weight(round(x), round(dy)); workspace: conv2d_tc_workspace_floats(d).
void conv2d_tc_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* workspace,
                               MathPrecision p, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
