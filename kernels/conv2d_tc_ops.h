// kernels/conv2d_tc_ops.h: the operand gathers and output stores of the tensor-core convolution
// (kernels/conv2d_tc.h), one struct per pass, shared by the kernel (conv2d_tc.cu) and the CPU unit
// test that replays the kernel's tiling on the host (tests/unit/test_conv2d_tc.cpp): FER_HD code,
// C++17, no CUDA types. The GEMM each pass computes and the index math are derived in
// kernels/notes/conv2d_tc.md.
//
// Each Op has M, Ng, K (the per-group GEMM), Block block(z) (group, K range [k_begin, k_end), output
// base) for grid index z, Row row(blk, m) (the per-row state of A, computed once per thread),
// float a(blk, row, k), float b(blk, k, n) and store(blk, m, n, v). a/b/store are called only with
// m < M, n < Ng and k_begin <= k < k_end; a/b return 0 where the convolution reads padding.
// Indices are int (tc::plan proves M, N, K < 2^31 - 128); addresses int64.
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/hd.h"

namespace fer::tc {

// The geometry as kernel arguments (ints where the plan proved they fit; addresses in int64).
struct Geo {
  int N, C, H, W, Cout, kh, kw, sh, sw, ph, pw, Cg, Og, Ho, Wo, taps, P, HW, groups;
};

inline Geo make_geo(const Conv2dDims& d) {
  Geo g;
  g.N = int(d.n), g.C = int(d.c_in), g.H = int(d.h_in), g.W = int(d.w_in), g.Cout = int(d.c_out);
  g.kh = int(d.kernel_h), g.kw = int(d.kernel_w), g.sh = int(d.stride_h), g.sw = int(d.stride_w);
  g.ph = int(d.pad_h), g.pw = int(d.pad_w), g.groups = int(d.groups);
  g.Cg = int(d.c_in / d.groups), g.Og = int(d.c_out / d.groups), g.Ho = int(d.h_out()), g.Wo = int(d.w_out());
  g.taps = g.kh * g.kw, g.P = g.Ho * g.Wo, g.HW = g.H * g.W;
  return g;
}

// ---- the three passes as (gather A, gather B, store C) -------------------------------------------------

struct ForwardOp {
  Geo g;
  int M, Ng, K;
  const float *x, *w, *bias;
  float* y;
  struct Block {
    int grp, k_begin, k_end;
  };
  struct Row {
    const float* plane0;  // x[n, grp*Cg, 0, 0]
    int h0, v0;           // i*sh - ph, j*sw - pw
  };
  FER_HD Block block(int z) const { return {z, 0, K}; }
  FER_HD Row row(const Block& bk, int m) const {
    const int n = m / g.P, pix = m % g.P, i = pix / g.Wo, j = pix % g.Wo;
    return {x + (int64_t(n) * g.C + int64_t(bk.grp) * g.Cg) * g.HW, i * g.sh - g.ph, j * g.sw - g.pw};
  }
  FER_HD float a(const Block&, const Row& r, int k) const {
    const int c = k / g.taps, t = k % g.taps, h = r.h0 + t / g.kw, v = r.v0 + t % g.kw;
    return (h >= 0 && h < g.H && v >= 0 && v < g.W) ? r.plane0[int64_t(c) * g.HW + h * g.W + v] : 0.f;
  }
  FER_HD float b(const Block& bk, int k, int o) const {
    return w[(int64_t(bk.grp) * g.Og + o) * K + k];
  }
  FER_HD void store(const Block& bk, int m, int o, float v) const {
    const int n = m / g.P, pix = m % g.P, oc = bk.grp * g.Og + o;
    y[(int64_t(n) * g.Cout + oc) * g.P + pix] = bias ? v + bias[oc] : v;
  }
};

struct BackwardInputOp {
  Geo g;
  int M, Ng, K;
  const float *dy, *w;
  float* dx;
  struct Block {
    int grp, k_begin, k_end;
  };
  struct Row {
    const float* plane0;  // dy[n, grp*Og, 0, 0]
    int th, tv;           // h + ph, v + pw
  };
  FER_HD Block block(int z) const { return {z, 0, K}; }
  FER_HD Row row(const Block& bk, int m) const {
    const int n = m / g.HW, pix = m % g.HW;
    return {dy + (int64_t(n) * g.Cout + int64_t(bk.grp) * g.Og) * g.P, pix / g.W + g.ph, pix % g.W + g.pw};
  }
  // The tap (p, q) of output channel o reads input (h, v) from output (i, j) iff h + ph - p = i*sh and
  // v + pw - q = j*sw exactly, with (i, j) in range (conv::col2im_value).
  FER_HD float a(const Block&, const Row& r, int k) const {
    const int o = k / g.taps, t = k % g.taps, ti = r.th - t / g.kw, tj = r.tv - t % g.kw;
    if (ti < 0 || tj < 0 || ti % g.sh != 0 || tj % g.sw != 0) return 0.f;
    const int i = ti / g.sh, j = tj / g.sw;
    return (i < g.Ho && j < g.Wo) ? r.plane0[int64_t(o) * g.P + i * g.Wo + j] : 0.f;
  }
  FER_HD float b(const Block& bk, int k, int c) const {
    const int o = k / g.taps, t = k % g.taps;
    return w[((int64_t(bk.grp) * g.Og + o) * g.Cg + c) * g.taps + t];
  }
  FER_HD void store(const Block& bk, int m, int c, float v) const {
    const int n = m / g.HW, pix = m % g.HW;
    dx[(int64_t(n) * g.C + int64_t(bk.grp) * g.Cg + c) * g.HW + pix] = v;
  }
};

// dw^T per group: rows m = (c, p, q), columns o, K = (n, i, j) over the slice's samples.
struct BackwardWeightOp {
  Geo g;
  int M, Ng, K;
  int splits, per_split;  // samples per slice
  const float *x, *dy;
  float* out;             // dw (splits == 1) or the workspace [splits][Cout][Cg*taps]
  struct Block {
    int grp, k_begin, k_end;
    float* out;
  };
  struct Row {
    const float* plane0;  // x[0, grp*Cg + c, 0, 0]
    int dh, dv;           // p - ph, q - pw
  };
  FER_HD Block block(int z) const {
    const int grp = z % g.groups, s = z / g.groups;
    const int n0 = s * per_split, n1 = n0 + per_split < g.N ? n0 + per_split : g.N;
    return {grp, n0 * g.P, n1 * g.P, out + int64_t(s) * g.Cout * M};
  }
  FER_HD Row row(const Block& bk, int m) const {
    const int c = m / g.taps, t = m % g.taps;
    return {x + (int64_t(bk.grp) * g.Cg + c) * g.HW, t / g.kw - g.ph, t % g.kw - g.pw};
  }
  FER_HD float a(const Block&, const Row& r, int k) const {
    const int n = k / g.P, pix = k % g.P, h = (pix / g.Wo) * g.sh + r.dh, v = (pix % g.Wo) * g.sw + r.dv;
    return (h >= 0 && h < g.H && v >= 0 && v < g.W) ? r.plane0[int64_t(n) * g.C * g.HW + h * g.W + v] : 0.f;
  }
  FER_HD float b(const Block& bk, int k, int o) const {
    const int n = k / g.P, pix = k % g.P;
    return dy[(int64_t(n) * g.Cout + int64_t(bk.grp) * g.Og + o) * g.P + pix];
  }
  FER_HD void store(const Block& bk, int m, int o, float v) const {
    bk.out[(int64_t(bk.grp) * g.Og + o) * M + m] = v;
  }
};

}  // namespace fer::tc
