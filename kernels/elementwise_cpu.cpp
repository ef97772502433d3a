// kernels/elementwise_cpu.cpp: broadcast descriptions (shared with CUDA) and the CPU twin of the
// elementwise ops (see elementwise.h).
//
// Every broadcasting loop goes through for_each_broadcast(bs, body), which visits each output
// index i with the operand offsets (ia, ib) in a loop nest chosen by the fast-path kind: one flat
// loop for same/scalar, [outer][mid][inner] nests for the NCHW-style broadcasts, and rows of the
// last collapsed dim for the generic case. The body is the formula (forward or backward terms).
#include <algorithm>
#include <sstream>

#include "kernels/elementwise.h"

namespace fer {

namespace {
// Below this many elements OpenMP's fork/join costs more than the loop.
constexpr int64_t kParallelMin = 32768;
}  // namespace

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "add";
    case BinaryOp::sub:
      return "sub";
    case BinaryOp::mul:
      return "mul";
    case BinaryOp::div:
      return "div";
  }
  return "?";
}

const char* broadcast_kind_name(BroadcastKind k) {
  switch (k) {
    case BroadcastKind::same:
      return "same";
    case BroadcastKind::scalar_a:
      return "scalar_a";
    case BroadcastKind::scalar_b:
      return "scalar_b";
    case BroadcastKind::inner_a:
      return "inner_a";
    case BroadcastKind::inner_b:
      return "inner_b";
    case BroadcastKind::mid_a:
      return "mid_a";
    case BroadcastKind::mid_b:
      return "mid_b";
    case BroadcastKind::outer_inner_a:
      return "outer_inner_a";
    case BroadcastKind::outer_inner_b:
      return "outer_inner_b";
    case BroadcastKind::generic:
      return "generic";
  }
  return "?";
}

std::string shape_string(const int64_t* shape, int ndim) {
  std::ostringstream os;
  os << "(";
  for (int d = 0; d < ndim; ++d) os << (d ? "," : "") << shape[d];
  os << ")";
  return os.str();
}

// Classifies the small operand's collapsed strides `s` (the other operand being full). Returns
// false when no fast path applies.
static bool classify_small(BroadcastShape& bs, const int64_t* s, bool small_is_b) {
  const int nd = bs.ndim;
  const int64_t* o = bs.out;
  BroadcastKind scalar = small_is_b ? BroadcastKind::scalar_b : BroadcastKind::scalar_a;
  BroadcastKind inner = small_is_b ? BroadcastKind::inner_b : BroadcastKind::inner_a;
  BroadcastKind mid = small_is_b ? BroadcastKind::mid_b : BroadcastKind::mid_a;
  BroadcastKind outer_inner = small_is_b ? BroadcastKind::outer_inner_b : BroadcastKind::outer_inner_a;
  // Stride 0 in every collapsed dim: the small operand is one element.
  const bool all_zero = std::all_of(s, s + nd, [](int64_t v) { return v == 0; });
  if (all_zero) {
    bs.kind = scalar;
    bs.inner = bs.numel;
  } else if (nd == 2 && s[0] == 1 && s[1] == 0) {  // [outer, inner], small = [outer, 1]
    bs.kind = inner;
    bs.outer = o[0], bs.inner = o[1];
  } else if (nd == 2 && s[0] == 0 && s[1] == 1) {  // [mid, inner], small = [1, inner]
    bs.kind = mid;
    bs.mid = o[0], bs.inner = o[1];
  } else if (nd == 3 && s[0] == o[2] && s[1] == 0 && s[2] == 1) {  // small = [outer, 1, inner]
    bs.kind = mid;
    bs.outer = o[0], bs.mid = o[1], bs.inner = o[2];
  } else if (nd == 3 && s[0] == 0 && s[1] == 1 && s[2] == 0) {  // small = [1, mid, 1]
    bs.kind = outer_inner;
    bs.outer = o[0], bs.mid = o[1], bs.inner = o[2];
  } else {
    return false;
  }
  return true;
}

BroadcastShape make_broadcast(const int64_t* a_shape, int na, const int64_t* b_shape, int nb) {
  const std::string sa_str = shape_string(a_shape, na), sb_str = shape_string(b_shape, nb);
  FER_CHECK(na >= 0 && nb >= 0 && na <= kMaxBroadcastDims && nb <= kMaxBroadcastDims,
            "broadcast: shapes " << sa_str << " and " << sb_str << " have more than " << kMaxBroadcastDims
                                 << " dims; hint: reshape to fewer dims first");
  BroadcastShape bs;
  // The result has the larger rank; the shorter shape is padded with leading 1s.
  const int nd = std::max(na, nb);
  bs.shape_ndim = nd;
  // Right-align the shapes (missing leading dims count as 1) and check each dim.
  int64_t sa[kMaxBroadcastDims], sb[kMaxBroadcastDims];
  for (int d = 0; d < nd; ++d) {
    sa[d] = d >= nd - na ? a_shape[d - (nd - na)] : 1;
    sb[d] = d >= nd - nb ? b_shape[d - (nd - nb)] : 1;
    FER_CHECK(sa[d] >= 0 && sb[d] >= 0, "broadcast: negative size in shapes " << sa_str << " and " << sb_str);
    FER_CHECK(sa[d] == sb[d] || sa[d] == 1 || sb[d] == 1,
              "broadcast: shapes " << sa_str << " and " << sb_str << " are not broadcastable (dim " << d - nd << ": "
                                   << sa[d] << " vs " << sb[d]
                                   << "); hint: aligned from the last dim, sizes must be equal or 1");
    bs.shape[d] = sa[d] == 1 ? sb[d] : sa[d];
  }
  // Contiguous strides of a and b in their own (padded) shapes; 0 on size-1 dims, which is the
  // stride that makes a broadcast dim read the same element again.
  int64_t stra[kMaxBroadcastDims], strb[kMaxBroadcastDims];
  int64_t ra = 1, rb = 1, rn = 1;
  for (int d = nd - 1; d >= 0; --d) {
    stra[d] = sa[d] == 1 ? 0 : ra;
    strb[d] = sb[d] == 1 ? 0 : rb;
    ra *= sa[d], rb *= sb[d], rn *= bs.shape[d];
  }
  // After the loop ra, rb, rn are the element counts of a, b and the result.
  bs.a_numel = ra, bs.b_numel = rb, bs.numel = rn;
  if (rn == 0) return bs;  // empty result: kind same, ndim 0; every kernel returns at once
  // Collapse: drop size-1 dims, merge dim d into the previous kept dim p when, for both operands,
  // stride[p] == stride[d] * size[d] (index p*size[d] + d then has one stride).
  for (int d = 0; d < nd; ++d) {
    if (bs.shape[d] == 1) continue;  // a size-1 output dim contributes nothing to any offset
    const int p = bs.ndim - 1;       // the last dim kept so far (-1: none yet)
    if (p >= 0 && bs.a_stride[p] == stra[d] * bs.shape[d] && bs.b_stride[p] == strb[d] * bs.shape[d]) {
      // Merged: the combined dim steps like its inner part.
      bs.out[p] *= bs.shape[d];
      bs.a_stride[p] = stra[d];
      bs.b_stride[p] = strb[d];
    } else {  // a new collapsed dim
      bs.out[bs.ndim] = bs.shape[d];
      bs.a_stride[bs.ndim] = stra[d];
      bs.b_stride[bs.ndim] = strb[d];
      ++bs.ndim;
    }
  }
  // Fast-path classification. An operand is "full" when its strides are the contiguous strides of
  // the collapsed output, i.e. it has the output's shape.
  auto is_full = [&](const int64_t* s) {
    int64_t r = 1;
    for (int d = bs.ndim - 1; d >= 0; --d) {
      if (s[d] != r) return false;
      r *= bs.out[d];
    }
    return true;
  };
  const bool a_full = is_full(bs.a_stride), b_full = is_full(bs.b_stride);
  bs.inner = bs.numel;  // the [1, 1, numel] view of same/generic
  if (a_full && b_full) {
    bs.kind = BroadcastKind::same;
  } else if (!(a_full && classify_small(bs, bs.b_stride, true)) &&
             !(b_full && classify_small(bs, bs.a_stride, false))) {
    // Neither "b small, a full" nor "a small, b full" matched a fast path.
    bs.kind = BroadcastKind::generic;
    bs.outer = bs.mid = 1;
    bs.inner = bs.numel;
  }
  return bs;
}

BroadcastShape make_broadcast(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape) {
  return make_broadcast(a_shape.data(), static_cast<int>(a_shape.size()), b_shape.data(),
                        static_cast<int>(b_shape.size()));
}

BroadcastShape make_reduce_to_shape(const std::vector<int64_t>& out_shape, const std::vector<int64_t>& in_shape) {
  const int no = static_cast<int>(out_shape.size()), ni = static_cast<int>(in_shape.size());
  // `in` broadcasts to exactly `out`: no more dims, and each of its dims is out's size or 1.
  bool ok = ni <= no;
  for (int d = 0; ok && d < ni; ++d) {
    const int64_t si = in_shape[ni - 1 - d], so = out_shape[no - 1 - d];
    ok = si == so || si == 1;
  }
  FER_CHECK(ok, "reduce_sum_to_shape: cannot sum shape " << shape_string(out_shape.data(), no) << " down to "
                                                         << shape_string(in_shape.data(), ni)
                                                         << "; hint: the target must broadcast to the source");
  return make_broadcast(in_shape, out_shape);  // operand a = in, b = out (full)
}

ReducePlan make_reduce_plan(const BroadcastShape& bs, Operand which) {
  const int64_t* s = which == Operand::a ? bs.a_stride : bs.b_stride;
  ReducePlan p;
  // A dim the operand has (stride != 0) is kept: it indexes dx. A dim it broadcasts over
  // (stride 0) is reduced. Both get the output's contiguous stride, since they index dy.
  int64_t r = 1;  // contiguous stride of the collapsed output dim d
  for (int d = bs.ndim - 1; d >= 0; --d) {
    if (s[d] != 0) {
      p.kept_size[p.nkept] = bs.out[d], p.kept_stride[p.nkept] = r, ++p.nkept;
      p.kept_numel *= bs.out[d];
    } else {
      p.red_size[p.nred] = bs.out[d], p.red_stride[p.nred] = r, ++p.nred;
      p.red_numel *= bs.out[d];
    }
    r *= bs.out[d];
  }
  // The loop above went from the last dim to the first; store the dims first-to-last (row-major).
  std::reverse(p.kept_size, p.kept_size + p.nkept);
  std::reverse(p.kept_stride, p.kept_stride + p.nkept);
  std::reverse(p.red_size, p.red_size + p.nred);
  std::reverse(p.red_stride, p.red_stride + p.nred);
  return p;
}

namespace cpu {

namespace {

// Visits every output index i of the broadcast with the offsets of a and b: body(i, ia, ib).
// Every loop writes output element i exactly once, so iterations are independent: parallel over
// the outermost loop(s), contiguous innermost loops.
template <typename Body>
void for_each_broadcast(const BroadcastShape& bs, Body body) {
  const int64_t n = bs.numel, outer = bs.outer, mid = bs.mid, inner = bs.inner;
  const bool par = n > kParallelMin;
  using K = BroadcastKind;
  switch (bs.kind) {
    case K::same:  // both operands full: one flat loop
#pragma omp parallel for schedule(static) if (par)
      for (int64_t i = 0; i < n; ++i) body(i, i, i);
      break;
    case K::scalar_a:  // a is one element, read at offset 0 every time
#pragma omp parallel for schedule(static) if (par)
      for (int64_t i = 0; i < n; ++i) body(i, int64_t(0), i);
      break;
    case K::scalar_b:  // b is one element
#pragma omp parallel for schedule(static) if (par)
      for (int64_t i = 0; i < n; ++i) body(i, i, int64_t(0));
      break;
    case K::inner_a:
    case K::inner_b: {  // small operand = [outer, 1, 1]: one value per row of `inner`
      const bool small_b = bs.kind == K::inner_b;
#pragma omp parallel for schedule(static) if (par)
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < inner; ++k) {
          const int64_t i = o * inner + k;  // output (and full operand) offset
          if (small_b)
            body(i, i, o);
          else
            body(i, o, i);
        }
      }
      break;
    }
    case K::mid_a:
    case K::mid_b: {  // small operand = [outer, 1, inner]: the same row for every m
      const bool small_b = bs.kind == K::mid_b;
#pragma omp parallel for collapse(2) schedule(static) if (par)
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t m = 0; m < mid; ++m) {
          for (int64_t k = 0; k < inner; ++k) {
            // output offset, and the small operand's: row o, position k (m is skipped)
            const int64_t i = (o * mid + m) * inner + k, s = o * inner + k;
            if (small_b)
              body(i, i, s);
            else
              body(i, s, i);
          }
        }
      }
      break;
    }
    case K::outer_inner_a:
    case K::outer_inner_b: {  // small operand = [1, mid, 1]: a per-channel value
      const bool small_b = bs.kind == K::outer_inner_b;
#pragma omp parallel for collapse(2) schedule(static) if (par)
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t m = 0; m < mid; ++m) {
          for (int64_t k = 0; k < inner; ++k) {
            const int64_t i = (o * mid + m) * inner + k;  // the small operand is read at m
            if (small_b)
              body(i, i, m);
            else
              body(i, m, i);
          }
        }
      }
      break;
    }
    case K::generic: {  // rows of the last collapsed dim; the row start comes from the strides
      const int last = bs.ndim - 1;
      const int64_t len = bs.out[last], sa = bs.a_stride[last], sb = bs.b_stride[last];
      const int64_t rows = n / len;
#pragma omp parallel for schedule(static) if (par)
      for (int64_t r = 0; r < rows; ++r) {
        // Offsets of the row start: decompose r over the collapsed dims before the last.
        const int64_t oa = ew::broadcast_offset(bs.out, bs.a_stride, last, r);
        const int64_t ob = ew::broadcast_offset(bs.out, bs.b_stride, last, r);
        // Along the row each operand steps by its last-dim stride (0 if broadcast there).
        for (int64_t k = 0; k < len; ++k) body(r * len + k, oa + k * sa, ob + k * sb);
      }
      break;
    }
  }
}

// c[i] = a[ia] OP b[ib]; OP is a compile-time constant, so ew::binary's switch folds away.
template <BinaryOp OP, typename T>
void binary_forward_op(const BroadcastShape& bs, const T* a, const T* b, T* c) {
  for_each_broadcast(bs, [=](int64_t i, int64_t ia, int64_t ib) { c[i] = ew::binary(OP, a[ia], b[ib]); });
}

}  // namespace

template <typename T>
void binary_forward(BinaryOp op, const BroadcastShape& bs, const T* a, const T* b, T* c) {
  if (bs.numel == 0) return;
  // One instantiation per op, so the inner loops carry no switch.
  switch (op) {
    case BinaryOp::add:
      binary_forward_op<BinaryOp::add>(bs, a, b, c);
      break;
    case BinaryOp::sub:
      binary_forward_op<BinaryOp::sub>(bs, a, b, c);
      break;
    case BinaryOp::mul:
      binary_forward_op<BinaryOp::mul>(bs, a, b, c);
      break;
    case BinaryOp::div:
      binary_forward_op<BinaryOp::div>(bs, a, b, c);
      break;
  }
}

template <typename T>
void binary_backward(BinaryOp op, const BroadcastShape& bs, const T* a, const T* b, const T* dc, T* ga, T* gb) {
  if (bs.numel == 0) return;
  const bool need_a = op == BinaryOp::mul || op == BinaryOp::div;  // gb needs a
  const bool need_b = need_a;                                      // ga needs b (mul, div)
  FER_CHECK(!need_a || (a != nullptr && b != nullptr),
            "binary_backward(" << binary_op_name(op) << "): a and b are needed for the gradient");
  for_each_broadcast(bs, [=](int64_t i, int64_t ia, int64_t ib) {
    // The operands as the forward saw them at output i (broadcast values repeat).
    const T av = need_a ? a[ia] : T(0), bv = need_b ? b[ib] : T(0);
    if (ga) ga[i] = ew::grad_a(op, av, bv, dc[i]);  // dc * d(a op b)/da
    if (gb) gb[i] = ew::grad_b(op, av, bv, dc[i]);  // dc * d(a op b)/db
  });
}

template <typename T>
void reduce_sum_to_shape(const BroadcastShape& bs, Operand which, const T* dy, T* dx) {
  const int64_t n_dx = which == Operand::a ? bs.a_numel : bs.b_numel;
  if (bs.numel == 0) {  // nothing was read: the gradient of every input element is 0
    std::fill(dx, dx + n_dx, T(0));
    return;
  }
  const ReducePlan p = make_reduce_plan(bs, which);
  // Reduced dims as rows of the last reduced dim, visited in row-major order (the CUDA thread
  // path visits them in the same order).
  const int last = p.nred - 1;
  const int64_t len = p.nred ? p.red_size[last] : 1, step = p.nred ? p.red_stride[last] : 0;
  const int64_t rows = p.red_numel / len;
#pragma omp parallel for schedule(static) if (bs.numel > kParallelMin)
  for (int64_t j = 0; j < p.kept_numel; ++j) {  // dx[j]: one element of the operand
    // dy offset of the first output element that read operand element j
    const int64_t base = ew::broadcast_offset(p.kept_size, p.kept_stride, p.nkept, j);
    double acc = 0;                       // double for float inputs too: sums over a whole batch lose no bits
    for (int64_t r = 0; r < rows; ++r) {  // every other output element that read it
      const T* row = dy + base + (last > 0 ? ew::broadcast_offset(p.red_size, p.red_stride, last, r) : 0);
      for (int64_t k = 0; k < len; ++k) acc += static_cast<double>(row[k * step]);
    }
    dx[j] = static_cast<T>(acc);
  }
}

// The unary ops below are one independent formula per element.
template <typename T>
void scale_shift(int64_t n, T alpha, T beta, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + beta;
}

template <typename T>
void binary_scalar(BinaryOp op, int64_t n, const T* x, T s, T* y, bool scalar_first) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = scalar_first ? ew::binary(op, s, x[i]) : ew::binary(op, x[i], s);
}

template <typename T>
void pow_scalar(int64_t n, T p, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = ew::pow_value(x[i], p);
}

template <typename T>
void pow_scalar_backward(int64_t n, T p, const T* x, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * ew::pow_derivative(x[i], p);
}

template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <typename T>
void fill(int64_t n, T value, T* y) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

template <typename T>
void add_n(int64_t n, int k, const T* const* xs, T* y) {
  FER_CHECK(k >= 1 && xs != nullptr, "add_n: needs at least one input (k=" << k << ")");
#pragma omp parallel for schedule(static) if (n * k > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    // Read every input at i before writing y[i]: this is what makes y == x_j safe.
    T acc = xs[0][i];
    for (int j = 1; j < k; ++j) acc += xs[j][i];  // left to right, in T: the CUDA kernel does the same
    y[i] = acc;
  }
}

// Explicit instantiations: float (training on the CPU) and double (gradient checks).
#define FER_INSTANTIATE_EW(T)                                                                              \
  template void binary_forward<T>(BinaryOp, const BroadcastShape&, const T*, const T*, T*);                \
  template void binary_backward<T>(BinaryOp, const BroadcastShape&, const T*, const T*, const T*, T*, T*); \
  template void reduce_sum_to_shape<T>(const BroadcastShape&, Operand, const T*, T*);                      \
  template void scale_shift<T>(int64_t, T, T, const T*, T*);                                               \
  template void binary_scalar<T>(BinaryOp, int64_t, const T*, T, T*, bool);                                \
  template void pow_scalar<T>(int64_t, T, const T*, T*);                                                   \
  template void pow_scalar_backward<T>(int64_t, T, const T*, const T*, T*);                                \
  template void axpy<T>(int64_t, T, const T*, T*);                                                         \
  template void fill<T>(int64_t, T, T*);                                                                   \
  template void add_n<T>(int64_t, int, const T* const*, T*);
FER_INSTANTIATE_EW(float)
FER_INSTANTIATE_EW(double)
#undef FER_INSTANTIATE_EW

}  // namespace cpu
}  // namespace fer
