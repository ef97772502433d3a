// kernels/add_act.cu: fused residual add + activation on the GPU.
//
// Strategy: a pointwise op is bound by memory traffic, so the kernels are templated on the
// activation (the switch disappears) and, when every pointer is 16-byte aligned, each thread of a
// grid-stride loop moves float4s (one 128-bit load per input, one store per output); the n % 4
// tail elements go through a scalar loop in the same launch. Unaligned pointers (a sub-tensor at
// an odd offset) take the scalar grid-stride loop. The per-element formula is the shared
// act::forward / add_act_math::grad of the headers: the result equals the CPU twin for relu
// exactly, and up to the device's exp/erf rounding (a few ulp) for the others.
#include <cstdint>

#include "kernels/add_act.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

bool aligned16(const void* p) { return p == nullptr || (reinterpret_cast<uintptr_t>(p) % 16) == 0; }

template <Activation A>
__device__ __forceinline__ float f(float s) {
  return act::forward(A, s);
}
template <Activation A>
__device__ __forceinline__ float df(float s, float y, float dy) {
  return add_act_math::grad(A, s, y, dy);
}

template <Activation A, bool KEEP_SUM>
__global__ void add_act_forward_scalar(int64_t n, const float* a, const float* b, float* y, float* sum) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    const float s = a[i] + b[i];
    if (KEEP_SUM) sum[i] = s;
    y[i] = f<A>(s);
  }
}

template <Activation A, bool KEEP_SUM>
__global__ void add_act_forward_vec4(int64_t n, const float* a, const float* b, float* y, float* sum) {
  const int64_t n4 = n / 4;
  const float4* a4 = reinterpret_cast<const float4*>(a);
  const float4* b4 = reinterpret_cast<const float4*>(b);
  float4* y4 = reinterpret_cast<float4*>(y);
  float4* s4 = reinterpret_cast<float4*>(sum);
  FER_CUDA_KERNEL_LOOP(i, n4) {
    const float4 va = a4[i], vb = b4[i];
    const float4 vs = make_float4(va.x + vb.x, va.y + vb.y, va.z + vb.z, va.w + vb.w);
    if (KEEP_SUM) s4[i] = vs;
    y4[i] = make_float4(f<A>(vs.x), f<A>(vs.y), f<A>(vs.z), f<A>(vs.w));
  }
  // tail: the last n % 4 elements, one thread each
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t i = n4 * 4 + t;
  if (i < n) {
    const float s = a[i] + b[i];
    if (KEEP_SUM) sum[i] = s;
    y[i] = f<A>(s);
  }
}

template <Activation A>
__global__ void add_act_backward_scalar(int64_t n, const float* sum, const float* y, const float* dy, float* g) {
  FER_CUDA_KERNEL_LOOP(i, n) { g[i] = df<A>(sum != nullptr ? sum[i] : 0.f, y[i], dy[i]); }
}

template <Activation A>
__global__ void add_act_backward_vec4(int64_t n, const float* sum, const float* y, const float* dy, float* g) {
  const int64_t n4 = n / 4;
  const float4* s4 = reinterpret_cast<const float4*>(sum);
  const float4* y4 = reinterpret_cast<const float4*>(y);
  const float4* d4 = reinterpret_cast<const float4*>(dy);
  float4* g4 = reinterpret_cast<float4*>(g);
  FER_CUDA_KERNEL_LOOP(i, n4) {
    const float4 vy = y4[i], vd = d4[i];
    const float4 vs = sum != nullptr ? s4[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    g4[i] = make_float4(df<A>(vs.x, vy.x, vd.x), df<A>(vs.y, vy.y, vd.y), df<A>(vs.z, vy.z, vd.z),
                        df<A>(vs.w, vy.w, vd.w));
  }
  const int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t i = n4 * 4 + t;
  if (i < n) g[i] = df<A>(sum != nullptr ? sum[i] : 0.f, y[i], dy[i]);
}

template <Activation A>
void forward_for(int64_t n, const float* a, const float* b, float* y, float* sum, cudaStream_t st) {
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y) && aligned16(sum);
  if (vec) {
    const unsigned grid = grid_for(n / 4 > 0 ? n / 4 : 1);  // >= 1 block of kBlock >= 3 tail threads
    if (sum != nullptr)
      add_act_forward_vec4<A, true><<<grid, kBlock, 0, st>>>(n, a, b, y, sum);
    else
      add_act_forward_vec4<A, false><<<grid, kBlock, 0, st>>>(n, a, b, y, sum);
  } else if (sum != nullptr) {
    add_act_forward_scalar<A, true><<<grid_for(n), kBlock, 0, st>>>(n, a, b, y, sum);
  } else {
    add_act_forward_scalar<A, false><<<grid_for(n), kBlock, 0, st>>>(n, a, b, y, sum);
  }
  FER_LAUNCH_CHECK();
}

template <Activation A>
void backward_for(int64_t n, const float* sum, const float* y, const float* dy, float* g, cudaStream_t st) {
  const bool vec = aligned16(sum) && aligned16(y) && aligned16(dy) && aligned16(g);
  if (vec)
    add_act_backward_vec4<A><<<grid_for(n / 4 > 0 ? n / 4 : 1), kBlock, 0, st>>>(n, sum, y, dy, g);
  else
    add_act_backward_scalar<A><<<grid_for(n), kBlock, 0, st>>>(n, sum, y, dy, g);
  FER_LAUNCH_CHECK();
}

}  // namespace

void add_act_forward(Activation act, int64_t n, const float* a, const float* b, float* y, float* sum,
                     cuda_stream stream) {
  add_act_check("add_act", act, n, a, b, y);
  if (n == 0) return;
  const cudaStream_t st = to_cuda(stream);
  switch (act) {
    case Activation::relu: forward_for<Activation::relu>(n, a, b, y, sum, st); break;
    case Activation::sigmoid: forward_for<Activation::sigmoid>(n, a, b, y, sum, st); break;
    case Activation::silu: forward_for<Activation::silu>(n, a, b, y, sum, st); break;
    case Activation::gelu: forward_for<Activation::gelu>(n, a, b, y, sum, st); break;
  }
}

void add_act_backward(Activation act, int64_t n, const float* sum, const float* y, const float* dy, float* g,
                      cuda_stream stream) {
  add_act_backward_check("add_act backward", act, n, sum, y, dy, g);
  if (n == 0) return;
  const cudaStream_t st = to_cuda(stream);
  switch (act) {
    case Activation::relu: backward_for<Activation::relu>(n, sum, y, dy, g, st); break;
    case Activation::sigmoid: backward_for<Activation::sigmoid>(n, sum, y, dy, g, st); break;
    case Activation::silu: backward_for<Activation::silu>(n, sum, y, dy, g, st); break;
    case Activation::gelu: backward_for<Activation::gelu>(n, sum, y, dy, g, st); break;
  }
}

}  // namespace fer::cuda
