// kernels/add_act.h: fused residual add + activation, forward and backward.
//
//   forward   s = a + b,  y = f(s)             f in Activation (kernels/activation.h)
//   backward  g = dy * f'(s),  da = db = g     (d(a+b)/da = d(a+b)/db = 1: both inputs get g)
//   f'(s) from what was kept: relu [y > 0] (= [s > 0]), sigmoid y (1 - y): y only;
//             silu, gelu: s (add_act_needs_sum), which the forward writes to `sum` when asked.
//
// Shapes: a, b, y (and sum, dy, g) all have n elements, contiguous, the same shape (no broadcasting:
// the residual end of a ResNet block adds two equal-shaped maps). forward writes y (=) and, when
// sum != nullptr, s (=); backward writes g (=) from (sum or null, y, dy). The one pass replaces
// add (read a, b; write s) + activation (read s; write y): 3n instead of 5n floats moved, and the
// tape keeps y (relu/sigmoid) instead of s and y. y == a or y == b is allowed (in place); g == dy too.
// Bit-identical to ops::relu(ops::add(a, b)) on the CPU (the same two IEEE operations per element).
// Both backends: CPU twin templated over float/double; CUDA float with a trailing stream.
// See kernels/notes/add_act.md.
#pragma once

#include <cstdint>

#include "kernels/activation.h"
#include "kernels/common.h"

namespace fer {

// Whether the backward of f needs the pre-activation s = a + b (silu, gelu) or the output y suffices.
constexpr bool add_act_needs_sum(Activation a) { return a == Activation::silu || a == Activation::gelu; }

// Validates n and the pointers (sum required in the backward iff add_act_needs_sum); both backends
// call it. `op` names the caller in the message.
void add_act_check(const char* op, Activation act, int64_t n, const void* a, const void* b, const void* y);
void add_act_backward_check(const char* op, Activation act, int64_t n, const void* sum, const void* y,
                            const void* dy, const void* g);

namespace add_act_math {
// Per-element gradient shared by both backends: relu is evaluated on y (y > 0 exactly when s > 0).
template <typename T>
FER_HD T grad(Activation a, T s, T y, T dy) {
  return act::backward(a, a == Activation::relu ? y : s, y, dy);
}
}  // namespace add_act_math

namespace cpu {
// y = f(a + b) (=); sum = a + b (=) when sum != nullptr.
template <typename T>
void add_act_forward(Activation act, int64_t n, const T* a, const T* b, T* y, T* sum);
// g = dy * f'(a + b) (=); sum may be null unless add_act_needs_sum(act).
template <typename T>
void add_act_backward(Activation act, int64_t n, const T* sum, const T* y, const T* dy, T* g);
}  // namespace cpu

namespace cuda {
// float4 loads/stores when every pointer is 16-byte aligned, scalar grid-stride loop otherwise.
void add_act_forward(Activation act, int64_t n, const float* a, const float* b, float* y, float* sum,
                     cuda_stream stream);
void add_act_backward(Activation act, int64_t n, const float* sum, const float* y, const float* dy, float* g,
                      cuda_stream stream);
}  // namespace cuda

}  // namespace fer
