// kernels/conv2d_tc_cpu.cpp: the host-side planning of the tensor-core convolution (kernels/conv2d_tc.h):
// GEMM sizes and grid per pass, the grad-weight batch split, argument / precision / architecture
// checks. Compiled in every build (no CUDA needed), so the unit tests cover it on the CPU.
#include <algorithm>
#include <limits>

#include "kernels/conv2d_tc.h"

namespace fer::tc {

namespace {
// The kernels index M, N and K with int32 and step by a tile past the end: keep a margin.
constexpr int64_t kIndexLimit = std::numeric_limits<int32_t>::max() - 2 * 64;
constexpr int64_t kGridYZLimit = 65535;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::forward: return "forward";
    case Pass::backward_input: return "grad_input";
    case Pass::backward_weight: return "grad_weight";
  }
  return "?";
}

int64_t weight_splits(int64_t batch, int64_t tiles_per_split) {
  FER_CHECK(batch >= 1 && tiles_per_split >= 1,
            "tc::weight_splits: batch " << batch << " and tiles " << tiles_per_split << " must be >= 1");
  int64_t s = std::clamp<int64_t>(ceil_div(kTargetBlocks, tiles_per_split), 1, std::min(kMaxSplits, batch));
  const int64_t per = ceil_div(batch, s);  // samples per slice; then no slice is empty
  return ceil_div(batch, per);
}

Plan plan(const Conv2dDims& d, Pass pass) {
  conv2d_check("conv2d_tc", d);
  const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, taps = d.kernel_h * d.kernel_w;
  const int64_t P = d.h_out() * d.w_out();
  Plan pl;
  pl.groups = d.groups;
  switch (pass) {
    case Pass::forward: pl.m = d.n * P, pl.n = Og, pl.k = Cg * taps; break;
    case Pass::backward_input: pl.m = d.n * d.h_in * d.w_in, pl.n = Cg, pl.k = Og * taps; break;
    case Pass::backward_weight: pl.m = Cg * taps, pl.n = Og, pl.k = d.n * P; break;
  }
  FER_CHECK(pl.m <= kIndexLimit && pl.n <= kIndexLimit && pl.k <= kIndexLimit,
            "conv2d_tc " << pass_name(pass) << ": GEMM " << pl.m << " x " << pl.n << " x " << pl.k
                         << " exceeds the kernels' 32-bit indexing (" << kIndexLimit
                         << "); hint: split the batch, or use --conv-impl native");
  // the gathers index one image's planes in 32 bits too (conv2d_tc_ops.h: h * W + w, c * H * W)
  const int64_t plane_in = d.h_in * d.w_in, plane_out = P;
  FER_CHECK(plane_in <= kIndexLimit && plane_out <= kIndexLimit && d.c_in * plane_in <= kIndexLimit &&
                d.c_out * plane_out <= kIndexLimit,
            "conv2d_tc " << pass_name(pass) << ": one image (" << d.c_in << "x" << d.h_in << "x" << d.w_in << " -> "
                         << d.c_out << "x" << d.h_out() << "x" << d.w_out()
                         << ") exceeds the kernels' 32-bit indexing; hint: use --conv-impl native");
  pl.tiles_m = ceil_div(pl.m, kTileM);
  pl.tiles_n = ceil_div(pl.n, kTileN);
  if (pass == Pass::backward_weight) {
    pl.splits = weight_splits(d.n, pl.tiles_m * pl.tiles_n * pl.groups);
    pl.samples_per_split = ceil_div(d.n, pl.splits);
    pl.workspace_floats = pl.splits > 1 ? pl.splits * d.c_out * Cg * taps : 0;
  }
  FER_CHECK(pl.tiles_n <= kGridYZLimit && pl.groups * pl.splits <= kGridYZLimit,
            "conv2d_tc " << pass_name(pass) << ": grid (" << pl.tiles_m << ", " << pl.tiles_n << ", "
                         << pl.groups * pl.splits << ") exceeds 65535 in y or z; hint: use --conv-impl native");
  return pl;
}

void check_precision(const char* op, MathPrecision p) {
  FER_CHECK(p == MathPrecision::tf32 || p == MathPrecision::bf16,
            op << ": the tensor-core convolution needs tf32 or bf16 operands, got " << math_precision_name(p)
               << "; hint: --conv-impl tc needs --precision tf32|bf16");
}

void check_arch(const char* op, int cc_major, int cc_minor) {
  FER_CHECK(cc_major >= 8, op << ": the tensor-core convolution (mma.sync tf32/bf16) needs a GPU of compute "
                              << "capability 8.0 or newer (A100, H100), this one is " << cc_major << "." << cc_minor
                              << "; hint: use --conv-impl native");
}

}  // namespace fer::tc
