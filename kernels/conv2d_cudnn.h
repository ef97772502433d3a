// kernels/conv2d_cudnn.h: a thin cuDNN baseline for the convolutions of kernels/conv2d.h (issue 6:
// native vs cuDNN A/B, bench/bench_conv_cuda.cpp and --conv-impl cudnn). Same geometry (Conv2dDims,
// NCHW fp32, groups, dilation 1) and the same semantics as cuda::conv2d_* (outputs written, never
// accumulated; bias / bias gradient optional).
//
// Per (geometry, pass, math) the algorithm is chosen once and cached with its descriptors:
//   search "find"       cudnnFindConvolution*Algorithm (times every algorithm once; what PyTorch's
//                       cudnn.benchmark = True does), the fastest that succeeded
//   search "heuristic"  cudnnGetConvolution*Algorithm_v7 (PyTorch's default), its first choice
// Math: tf32 off = CUDNN_FMA_MATH (strict fp32, comparable with the native fp32 path), tf32 on =
// CUDNN_DEFAULT_MATH (tensor cores with TF32 inputs on sm_80+).
// The caller provides the workspace (conv2d_algo(...).workspace_bytes; the engine's caching
// allocator in tensor/ and bench/), like the native entry points.
//
// Built only when CMake found cuDNN (fer::kCudnnBuilt); otherwise every call throws fer::Error with
// a hint. Everything runs on the stream passed (fer's default stream in practice).
#pragma once

#include <cstddef>
#include <string>

#include "kernels/common.h"
#include "kernels/conv2d.h"

namespace fer::cudnn {

enum class ConvPass { forward = 0, backward_input = 1, backward_weight = 2 };
const char* pass_name(ConvPass pass);  // "forward", "grad_input", "grad_weight"

struct ConvAlgo {
  int algo = -1;               // the cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t value
  size_t workspace_bytes = 0;  // workspace that algorithm needs
  bool tensor_ops = false;     // it may run on TF32 tensor cores (TF32 allowed, math type not FMA)
  float search_ms = 0;         // its time in cudnnFind (0 with the heuristic)
};

// Process-wide settings (read when a (shape, pass) is first seen; changing them selects anew).
void set_tf32(bool allow);
bool tf32();
void set_algo_search(const std::string& search);  // "find" (default) or "heuristic"
std::string algo_search();

// cuDNN's version as "9.x.y" (from the library actually loaded).
std::string version();

// The algorithm used for (d, pass) under the current settings; selects and caches it on first use.
ConvAlgo conv2d_algo(const Conv2dDims& d, ConvPass pass);

// y [N,Cout,Ho,Wo] = conv(x, w) (+ bias, may be null). workspace: >= conv2d_algo(d, forward).workspace_bytes.
void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y, void* workspace,
                    size_t workspace_bytes, cuda_stream stream);
// dx [N,Cin,H,W] =
void conv2d_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, void* workspace,
                           size_t workspace_bytes, cuda_stream stream);
// dw [Cout,Cin/G,kh,kw] =, dbias [Cout] = (either may be null)
void conv2d_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* dbias,
                            void* workspace, size_t workspace_bytes, cuda_stream stream);

// Drops the cached algorithms and descriptors (the handle stays).
void clear_cache();

}  // namespace fer::cudnn
