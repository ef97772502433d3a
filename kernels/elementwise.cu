// kernels/elementwise.cu: the elementwise ops on the GPU (see elementwise.h).
//
// Parallelization: one thread per output element (grid-stride loop). The broadcast kind is a
// template parameter, so each fast path compiles to its own index formula (a division or two for the
// NCHW-style broadcasts, none for same/scalar); the generic path walks the collapsed strides.
// Formulas are the shared ew:: functions of elementwise.h, so forward/backward values match the
// CPU twin up to FMA contraction (1 ulp) and division/pow rounding of the device.
// reduce_sum_to_shape: one thread per dx element when few elements are summed (same order and
// double accumulator as the CPU twin: bit-identical), else one block per dx element with a fixed
// shared-memory tree (deterministic run to run). No atomics anywhere.
#include <type_traits>

#include "kernels/cuda_common.cuh"
#include "kernels/elementwise.h"

namespace fer::cuda {

namespace {

using K = BroadcastKind;
constexpr int kReduceBlock = 256;
// Reduce with one block per dx element from this many summed elements on.
constexpr int64_t kBlockReduceMin = 256;

// Calls f(std::integral_constant<BroadcastKind, k>) so a kernel template can be picked at run time.
template <typename F>
void dispatch_kind(K k, F f) {
  switch (k) {
    case K::same:
      f(std::integral_constant<K, K::same>{});
      break;
    case K::scalar_a:
      f(std::integral_constant<K, K::scalar_a>{});
      break;
    case K::scalar_b:
      f(std::integral_constant<K, K::scalar_b>{});
      break;
    case K::inner_a:
      f(std::integral_constant<K, K::inner_a>{});
      break;
    case K::inner_b:
      f(std::integral_constant<K, K::inner_b>{});
      break;
    case K::mid_a:
      f(std::integral_constant<K, K::mid_a>{});
      break;
    case K::mid_b:
      f(std::integral_constant<K, K::mid_b>{});
      break;
    case K::outer_inner_a:
      f(std::integral_constant<K, K::outer_inner_a>{});
      break;
    case K::outer_inner_b:
      f(std::integral_constant<K, K::outer_inner_b>{});
      break;
    case K::generic:
      f(std::integral_constant<K, K::generic>{});
      break;
  }
}

// c[i] = a[ia] op b[ib]; the op switch is uniform across the grid, so it costs no divergence.
template <K KIND>
__global__ void binary_forward_kernel(BinaryOp op, BroadcastShape bs, const float* a, const float* b, float* c) {
  FER_CUDA_KERNEL_LOOP(i, bs.numel) {
    int64_t ia, ib;
    ew::operand_offsets<KIND>(bs, i, &ia, &ib);
    c[i] = ew::binary(op, a[ia], b[ib]);
  }
}

// need_ab: mul/div read a and b; add/sub read neither (they may be null).
template <K KIND>
__global__ void binary_backward_kernel(BinaryOp op, bool need_ab, BroadcastShape bs, const float* a, const float* b,
                                       const float* dc, float* ga, float* gb) {
  FER_CUDA_KERNEL_LOOP(i, bs.numel) {
    int64_t ia, ib;
    ew::operand_offsets<KIND>(bs, i, &ia, &ib);
    const float av = need_ab ? a[ia] : 0.f, bv = need_ab ? b[ib] : 0.f;
    if (ga) ga[i] = ew::grad_a(op, av, bv, dc[i]);
    if (gb) gb[i] = ew::grad_b(op, av, bv, dc[i]);
  }
}

// Offset in dy of reduced element r, r in row-major order over the reduced dims (the CPU loop's order).
__device__ __forceinline__ int64_t reduced_offset(const ReducePlan& p, int64_t r) {
  return ew::broadcast_offset(p.red_size, p.red_stride, p.nred, r);
}

// One thread per dx element; visits the reduced elements in row-major order like the CPU twin.
__global__ void reduce_to_shape_thread_kernel(ReducePlan p, const float* dy, float* dx) {
  FER_CUDA_KERNEL_LOOP(j, p.kept_numel) {
    // dy offset of the first output that read operand element j, then every reduced position
    const int64_t base = ew::broadcast_offset(p.kept_size, p.kept_stride, p.nkept, j);
    double acc = 0;
    for (int64_t r = 0; r < p.red_numel; ++r) acc += static_cast<double>(dy[base + reduced_offset(p, r)]);
    dx[j] = static_cast<float>(acc);
  }
}

// One block per dx element: thread t sums r = t, t+256, ...; then a fixed tree over the block.
__global__ void reduce_to_shape_block_kernel(ReducePlan p, const float* dy, float* dx) {
  __shared__ double partial[kReduceBlock];
  const int t = threadIdx.x;
  for (int64_t j = blockIdx.x; j < p.kept_numel; j += gridDim.x) {  // uniform per block
    const int64_t base = ew::broadcast_offset(p.kept_size, p.kept_stride, p.nkept, j);
    double acc = 0;
    for (int64_t r = t; r < p.red_numel; r += kReduceBlock) acc += static_cast<double>(dy[base + reduced_offset(p, r)]);
    partial[t] = acc;
    __syncthreads();
    // Fixed tree: 256 -> 128 -> ... -> 1, the same pairs on every run.
    for (int s = kReduceBlock / 2; s > 0; s >>= 1) {
      if (t < s) partial[t] += partial[t + s];
      __syncthreads();
    }
    if (t == 0) dx[j] = static_cast<float>(partial[0]);
    __syncthreads();  // partial[] is reused by the next j
  }
}

// The unary kernels: one independent formula per element (see elementwise.h).
__global__ void scale_shift_kernel(int64_t n, float alpha, float beta, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = alpha * x[i] + beta;
  }
}

__global__ void binary_scalar_kernel(BinaryOp op, int64_t n, const float* x, float s, float* y, bool scalar_first) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = scalar_first ? ew::binary(op, s, x[i]) : ew::binary(op, x[i], s);
  }
}

__global__ void pow_scalar_kernel(int64_t n, float p, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = ew::pow_value(x[i], p);
  }
}

__global__ void pow_scalar_backward_kernel(int64_t n, float p, const float* x, const float* dy, float* dx) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    dx[i] = dy[i] * ew::pow_derivative(x[i], p);
  }
}

__global__ void axpy_kernel(int64_t n, float alpha, const float* x, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] += alpha * x[i];
  }
}

__global__ void fill_kernel(int64_t n, float value, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    y[i] = value;
  }
}

__global__ void add_int64_kernel(int64_t* p, int64_t v) { *p += v; }

// Up to 8 input pointers per launch, passed by value.
constexpr int kAddNChunk = 8;
struct PtrPack {
  const float* p[kAddNChunk];
};

// y = x_0 + ... + x_{k-1} (first chunk) or y = y + x_0 + ... (later chunks), left to right in float.
__global__ void add_n_kernel(int64_t n, PtrPack xs, int k, bool accumulate, float* y) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    float acc = accumulate ? y[i] : xs.p[0][i];
    for (int j = accumulate ? 0 : 1; j < k; ++j) acc += xs.p[j][i];
    y[i] = acc;
  }
}

}  // namespace

void binary_forward(BinaryOp op, const BroadcastShape& bs, const float* a, const float* b, float* c,
                    cuda_stream stream) {
  if (bs.numel == 0) return;
  // Launch the kernel instantiated for this broadcast kind (bs goes by value, ~300 bytes).
  dispatch_kind(bs.kind, [&](auto kind) {
    binary_forward_kernel<decltype(kind)::value><<<grid_for(bs.numel), kBlock, 0, to_cuda(stream)>>>(op, bs, a, b, c);
    FER_LAUNCH_CHECK();
  });
}

void binary_backward(BinaryOp op, const BroadcastShape& bs, const float* a, const float* b, const float* dc, float* ga,
                     float* gb, cuda_stream stream) {
  if (bs.numel == 0) return;
  const bool need_ab = op == BinaryOp::mul || op == BinaryOp::div;
  FER_CHECK(!need_ab || (a != nullptr && b != nullptr),
            "binary_backward(" << binary_op_name(op) << "): a and b are needed for the gradient");
  dispatch_kind(bs.kind, [&](auto kind) {
    binary_backward_kernel<decltype(kind)::value>
        <<<grid_for(bs.numel), kBlock, 0, to_cuda(stream)>>>(op, need_ab, bs, a, b, dc, ga, gb);
    FER_LAUNCH_CHECK();
  });
}

void reduce_sum_to_shape(const BroadcastShape& bs, Operand which, const float* dy, float* dx, cuda_stream stream) {
  const int64_t n_dx = which == Operand::a ? bs.a_numel : bs.b_numel;
  if (n_dx == 0) return;
  if (bs.numel == 0) {  // nothing was read: every input element has gradient 0
    fill(n_dx, 0.f, dx, stream);
    return;
  }
  const ReducePlan p = make_reduce_plan(bs, which);
  // Many summed elements per output: a block each (coalesced reads along the reduced dims);
  // few: a thread each (enough threads come from the many outputs).
  if (p.red_numel >= kBlockReduceMin) {
    const unsigned blocks = static_cast<unsigned>(p.kept_numel < 65535 * 16 ? p.kept_numel : 65535 * 16);
    reduce_to_shape_block_kernel<<<blocks, kReduceBlock, 0, to_cuda(stream)>>>(p, dy, dx);
  } else {
    reduce_to_shape_thread_kernel<<<grid_for(p.kept_numel), kBlock, 0, to_cuda(stream)>>>(p, dy, dx);
  }
  FER_LAUNCH_CHECK();
}

void scale_shift(int64_t n, float alpha, float beta, const float* x, float* y, cuda_stream stream) {
  if (n == 0) return;
  scale_shift_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, alpha, beta, x, y);
  FER_LAUNCH_CHECK();
}

void binary_scalar(BinaryOp op, int64_t n, const float* x, float s, float* y, bool scalar_first, cuda_stream stream) {
  if (n == 0) return;
  binary_scalar_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(op, n, x, s, y, scalar_first);
  FER_LAUNCH_CHECK();
}

void pow_scalar(int64_t n, float p, const float* x, float* y, cuda_stream stream) {
  if (n == 0) return;
  pow_scalar_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, p, x, y);
  FER_LAUNCH_CHECK();
}

void pow_scalar_backward(int64_t n, float p, const float* x, const float* dy, float* dx, cuda_stream stream) {
  if (n == 0) return;
  pow_scalar_backward_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, p, x, dy, dx);
  FER_LAUNCH_CHECK();
}

void axpy(int64_t n, float alpha, const float* x, float* y, cuda_stream stream) {
  if (n == 0) return;
  axpy_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, alpha, x, y);
  FER_LAUNCH_CHECK();
}

void fill(int64_t n, float value, float* y, cuda_stream stream) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, value, y);
  FER_LAUNCH_CHECK();
}

void add_int64(int64_t* p, int64_t v, cuda_stream stream) {
  add_int64_kernel<<<1, 1, 0, to_cuda(stream)>>>(p, v);
  FER_LAUNCH_CHECK();
}

void add_n(int64_t n, int k, const float* const* xs, float* y, cuda_stream stream) {
  FER_CHECK(k >= 1 && xs != nullptr, "add_n: needs at least one input (k=" << k << ")");
  if (n == 0) return;
  // Chunks of 8 inputs; every chunk after the first adds onto y, which keeps the left-to-right order.
  for (int j0 = 0; j0 < k; j0 += kAddNChunk) {
    PtrPack pack{};
    const int m = k - j0 < kAddNChunk ? k - j0 : kAddNChunk;
    for (int j = 0; j < m; ++j) pack.p[j] = xs[j0 + j];
    add_n_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, pack, m, j0 > 0, y);
    FER_LAUNCH_CHECK();
  }
}

}  // namespace fer::cuda
