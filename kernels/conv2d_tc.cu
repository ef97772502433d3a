// kernels/conv2d_tc.cu: the convolution passes as implicit GEMMs on the tensor cores (see conv2d_tc.h
// for the GEMM of each pass and kernels/notes/conv2d_tc.md for the derivation).
//
// One kernel template, tc_gemm_kernel<Prec, Op>, serves the three passes; Op gathers A[m,k] and B[k,n]
// from the tensors and stores C[m,n] (bounds included), so no im2col buffer exists.
// Parallelization:
//   block   128 threads (4 warps) own a 64x64 tile of C; grid (tiles_m, tiles_n, groups*splits).
//   warp    a 32x32 sub-tile = 2 (m16) x 4 (n8) mma tiles, 32 fp32 accumulators per thread.
//   K loop  16 at a time: every thread gathers 8 elements of A (one row m, 8 k's) and 8 of B (one k,
//           8 n's) into registers, rounding them (precision::round_tf32 / round_bf16) and writing 0
//           outside [0,M) x [k_begin,k_end) x [0,N); the registers go to shared memory, and the next
//           tile's gathers are issued before this tile's mma's (register prefetch).
//   mma     tf32: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, two per k16 step;
//           bf16: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, one per k16 step (the
//           rounded floats are exact bf16, so packing their high halves is exact).
//   grad-weight  split-K over the batch: slice s writes its partial dw^T tile to workspace[s]; a
//           second kernel sums the slices in order s = 0, 1, ... (fixed order, no atomics).
// Shared memory: As[64][20], Bs[64][20] floats (row = m or n, 16 k's + 4 pad): the fragment reads of
// a warp (8 rows x 4 k's) hit 32 different banks, and the bf16 pairs (k, k+1) are aligned float2 loads.
// PTX guarded by __CUDA_ARCH__ >= 800; the host checks the device (tc::check_arch) before launching.
#include "kernels/conv2d_tc.h"
#include "kernels/conv2d_tc_ops.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

using tc::BackwardInputOp;
using tc::BackwardWeightOp;
using tc::ForwardOp;
using tc::kThreads;
using tc::kTileK;
using tc::kTileM;
using tc::kTileN;
constexpr int kLds = kTileK + 4;  // shared-memory row stride (floats)

// ---- the tensor-core GEMM ------------------------------------------------------------------------------

template <MathPrecision Prec>
__device__ __forceinline__ float round_operand(float v) {
  if constexpr (Prec == MathPrecision::tf32)
    return precision::round_tf32(v);
  else
    return precision::round_bf16(v);
}

// Two bf16-exact floats -> one .bf16x2 register: lo in bits 0-15, hi in bits 16-31 (exact: the low
// 16 bits of each float are zero after round_bf16).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  return (__float_as_uint(lo) >> 16) | (__float_as_uint(hi) & 0xFFFF0000u);
}

template <MathPrecision Prec, class Op>
__global__ void __launch_bounds__(kThreads) tc_gemm_kernel(Op op) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  __shared__ __align__(16) float As[kTileM * kLds];
  __shared__ __align__(16) float Bs[kTileN * kLds];
  const typename Op::Block bk = op.block(int(blockIdx.z));
  const int m0 = int(blockIdx.x) * kTileM, n0 = int(blockIdx.y) * kTileN;
  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int gid = lane >> 2, tig = lane & 3;          // PTX "groupID" and "threadID_in_group"
  const int wm = (warp & 1) * 32, wn = (warp >> 1) * 32;  // this warp's 32x32 sub-tile

  // Loader roles. A: row m0 + a_row, k's a_k0 + 2r (r < 8). B: k b_k, columns b_n0 + 8r (r < 8).
  const int a_row = tid % kTileM, a_k0 = tid / kTileM;
  const int b_k = tid % kTileK, b_n0 = tid / kTileK;
  const bool a_ok = m0 + a_row < op.M;
  const typename Op::Row arow = op.row(bk, a_ok ? m0 + a_row : 0);
  float ra[8], rb[8];
  auto gather = [&](int k0) {
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      const int k = k0 + a_k0 + 2 * r;
      ra[r] = (a_ok && k < bk.k_end) ? round_operand<Prec>(op.a(bk, arow, k)) : 0.f;
    }
    const int kb = k0 + b_k;
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      const int n = n0 + b_n0 + 8 * r;
      rb[r] = (kb < bk.k_end && n < op.Ng) ? round_operand<Prec>(op.b(bk, kb, n)) : 0.f;
    }
  };

  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

  if (bk.k_begin < bk.k_end) gather(bk.k_begin);
  for (int k0 = bk.k_begin; k0 < bk.k_end; k0 += kTileK) {
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      As[a_row * kLds + a_k0 + 2 * r] = ra[r];
      Bs[(b_n0 + 8 * r) * kLds + b_k] = rb[r];
    }
    __syncthreads();
    if (k0 + kTileK < bk.k_end) gather(k0 + kTileK);  // in flight during the mma's below

    if constexpr (Prec == MathPrecision::tf32) {
#pragma unroll
      for (int ks = 0; ks < kTileK; ks += 8) {
        uint32_t af[2][4], bf[4][2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {  // A 16x8 (row): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)
          const float* r0 = As + (wm + i * 16 + gid) * kLds + ks;
          const float* r1 = r0 + 8 * kLds;
          af[i][0] = __float_as_uint(r0[tig]);
          af[i][1] = __float_as_uint(r1[tig]);
          af[i][2] = __float_as_uint(r0[tig + 4]);
          af[i][3] = __float_as_uint(r1[tig + 4]);
        }
#pragma unroll
        for (int j = 0; j < 4; ++j) {  // B 8x8 (col): b0 (k=t, n=g), b1 (k=t+4, n=g)
          const float* c0 = Bs + (wn + j * 8 + gid) * kLds + ks;
          bf[j][0] = __float_as_uint(c0[tig]);
          bf[j][1] = __float_as_uint(c0[tig + 4]);
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j)
            asm volatile(
                "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                "{%0,%1,%2,%3};\n"
                : "+f"(acc[i][j][0]), "+f"(acc[i][j][1]), "+f"(acc[i][j][2]), "+f"(acc[i][j][3])
                : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]), "r"(bf[j][0]), "r"(bf[j][1]));
      }
    } else {
      uint32_t af[2][4], bf[4][2];
#pragma unroll
      // A 16x16 (row), pairs: a0 (g, 2t..), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..)
      for (int i = 0; i < 2; ++i) {
        const float* r0 = As + (wm + i * 16 + gid) * kLds;
        const float* r1 = r0 + 8 * kLds;
        const float2 p0 = *reinterpret_cast<const float2*>(r0 + 2 * tig);
        const float2 p1 = *reinterpret_cast<const float2*>(r1 + 2 * tig);
        const float2 p2 = *reinterpret_cast<const float2*>(r0 + 2 * tig + 8);
        const float2 p3 = *reinterpret_cast<const float2*>(r1 + 2 * tig + 8);
        af[i][0] = pack_bf16(p0.x, p0.y);
        af[i][1] = pack_bf16(p1.x, p1.y);
        af[i][2] = pack_bf16(p2.x, p2.y);
        af[i][3] = pack_bf16(p3.x, p3.y);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {  // B 16x8 (col), pairs: b0 (k=2t.., n=g), b1 (k=2t+8.., n=g)
        const float* c0 = Bs + (wn + j * 8 + gid) * kLds;
        const float2 q0 = *reinterpret_cast<const float2*>(c0 + 2 * tig);
        const float2 q1 = *reinterpret_cast<const float2*>(c0 + 2 * tig + 8);
        bf[j][0] = pack_bf16(q0.x, q0.y);
        bf[j][1] = pack_bf16(q1.x, q1.y);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
          asm volatile(
              "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
              "{%0,%1,%2,%3};\n"
              : "+f"(acc[i][j][0]), "+f"(acc[i][j][1]), "+f"(acc[i][j][2]), "+f"(acc[i][j][3])
              : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]), "r"(bf[j][0]), "r"(bf[j][1]));
    }
    __syncthreads();  // the next iteration overwrites As / Bs
  }

  // Epilogue. C 16x8: c0 (g, 2t), c1 (g, 2t+1), c2 (g+8, 2t), c3 (g+8, 2t+1).
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m0 + wm + i * 16 + gid + (e >> 1) * 8, n = n0 + wn + j * 8 + 2 * tig + (e & 1);
        if (m < op.M && n < op.Ng) op.store(bk, m, n, acc[i][j][e]);
      }
#else
  (void)op;  // never launched: the host checks the device first (tc::check_arch)
#endif
}

// dw[e] = sum_{s < S} part[s*total + e], in order s = 0, 1, ... (deterministic).
__global__ void sum_splits_kernel(int64_t total, int S, const float* part, float* dw) {
  FER_CUDA_KERNEL_LOOP(e, total) {
    float sum = part[e];
    for (int s = 1; s < S; ++s) sum += part[int64_t(s) * total + e];
    dw[e] = sum;
  }
}

void check_device(const char* op) {
  int dev = 0, major = 0, minor = 0;
  FER_CUDA_CHECK(cudaGetDevice(&dev));
  FER_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  FER_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  tc::check_arch(op, major, minor);
}

template <class Op>
void launch(const tc::Plan& pl, MathPrecision p, const Op& op, cuda_stream s) {
  const dim3 grid(static_cast<unsigned>(pl.tiles_m), static_cast<unsigned>(pl.tiles_n),
                  static_cast<unsigned>(pl.groups * pl.splits));
  if (p == MathPrecision::tf32)
    tc_gemm_kernel<MathPrecision::tf32, Op><<<grid, kThreads, 0, to_cuda(s)>>>(op);
  else
    tc_gemm_kernel<MathPrecision::bf16, Op><<<grid, kThreads, 0, to_cuda(s)>>>(op);
  FER_LAUNCH_CHECK();
}

}  // namespace

int64_t conv2d_tc_workspace_floats(const Conv2dDims& d) {
  return tc::plan(d, tc::Pass::backward_weight).workspace_floats;
}

void conv2d_tc_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y,
                       MathPrecision p, cuda_stream s) {
  const char* op = "cuda::conv2d_tc_forward";
  tc::check_precision(op, p);
  const tc::Plan pl = tc::plan(d, tc::Pass::forward);
  check_device(op);
  ForwardOp f{tc::make_geo(d), int(pl.m), int(pl.n), int(pl.k), x, w, bias, y};
  launch(pl, p, f, s);
}

void conv2d_tc_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, MathPrecision p,
                              cuda_stream s) {
  const char* op = "cuda::conv2d_tc_backward_input";
  tc::check_precision(op, p);
  const tc::Plan pl = tc::plan(d, tc::Pass::backward_input);
  check_device(op);
  BackwardInputOp f{tc::make_geo(d), int(pl.m), int(pl.n), int(pl.k), dy, w, dx};
  launch(pl, p, f, s);
}

void conv2d_tc_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* workspace,
                               MathPrecision p, cuda_stream s) {
  const char* op = "cuda::conv2d_tc_backward_weight";
  tc::check_precision(op, p);
  const tc::Plan pl = tc::plan(d, tc::Pass::backward_weight);
  FER_CHECK(pl.splits == 1 || workspace != nullptr,
            op << ": needs a workspace of conv2d_tc_workspace_floats(d) = " << pl.workspace_floats
               << " floats (the split-K partial sums), got a null pointer");
  check_device(op);
  BackwardWeightOp f{tc::make_geo(d), int(pl.m), int(pl.n), int(pl.k), int(pl.splits), int(pl.samples_per_split),
                     x,           dy,        pl.splits > 1 ? workspace : dw};
  launch(pl, p, f, s);
  if (pl.splits > 1) {
    const int64_t total = d.w_size();
    sum_splits_kernel<<<grid_for(total), kBlock, 0, to_cuda(s)>>>(total, int(pl.splits), workspace, dw);
    FER_LAUNCH_CHECK();
  }
}

}  // namespace fer::cuda
