// kernels/conv2d_cudnn.cu: the cuDNN baseline of kernels/conv2d_cudnn.h (legacy convolution API:
// tensor/filter/convolution descriptors, algorithm per shape, cached).
#include "kernels/conv2d_cudnn.h"

#include <map>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

#include "kernels/cuda_common.cuh"

#if defined(FER_HAVE_CUDNN)
#include <cudnn.h>
#endif

namespace fer::cudnn {

const char* pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return "forward";
    case ConvPass::backward_input: return "grad_input";
    case ConvPass::backward_weight: return "grad_weight";
  }
  return "?";
}

namespace {
bool g_tf32 = false;
std::string g_search = "find";
}  // namespace

void set_tf32(bool allow) { g_tf32 = allow; }
bool tf32() { return g_tf32; }
void set_algo_search(const std::string& search) {
  FER_CHECK(search == "find" || search == "heuristic",
            "cudnn: unknown algorithm search '" << search << "'; hint: find or heuristic");
  g_search = search;
}
std::string algo_search() { return g_search; }

#if !defined(FER_HAVE_CUDNN)

namespace {
[[noreturn]] void no_cudnn(const char* what) {
  FER_FAIL(what << ": this build has no cuDNN; hint: configure with -DCUDNN_ROOT=<prefix holding include/cudnn.h "
                   "and lib/libcudnn.so> (the device suite does this from PyTorch's nvidia-cudnn package)");
}
}  // namespace

std::string version() { return "none"; }
ConvAlgo conv2d_algo(const Conv2dDims&, ConvPass) { no_cudnn("cudnn::conv2d_algo"); }
void conv2d_forward(const Conv2dDims&, const float*, const float*, const float*, float*, void*, size_t, cuda_stream) {
  no_cudnn("cudnn::conv2d_forward");
}
void conv2d_backward_input(const Conv2dDims&, const float*, const float*, float*, void*, size_t, cuda_stream) {
  no_cudnn("cudnn::conv2d_backward_input");
}
void conv2d_backward_weight(const Conv2dDims&, const float*, const float*, float*, float*, void*, size_t, cuda_stream) {
  no_cudnn("cudnn::conv2d_backward_weight");
}
void clear_cache() {}

#else

#define FER_CUDNN_CHECK(expr)                                                                                \
  do {                                                                                                       \
    const cudnnStatus_t fer_st_ = (expr);                                                                    \
    FER_CHECK(fer_st_ == CUDNN_STATUS_SUCCESS, "cuDNN call " #expr " failed: " << cudnnGetErrorString(fer_st_) \
                                                   << "; hint: FER_DEBUG_SYNC=1 names an earlier failing kernel"); \
  } while (0)

namespace {

cudnnHandle_t handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t out = nullptr;
    FER_CUDNN_CHECK(cudnnCreate(&out));
    return out;
  }();
  return h;
}

// Descriptors and the chosen algorithm of one (geometry, pass, math, search).
struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ConvAlgo algo;
};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int, bool, bool>;

std::map<Key, Plan>& plans() {
  static std::map<Key, Plan> m;
  return m;
}
std::mutex g_mutex;

int to_int(int64_t v, const char* what) {
  FER_CHECK(v >= 0 && v <= 0x7fffffff, "cudnn: " << what << " = " << v << " does not fit cuDNN's int");
  return static_cast<int>(v);
}

bool is_tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// Whether the chosen algorithm may run on tensor cores (the benches' label): with TF32 allowed,
// CUDNN_DEFAULT_MATH may use TF32 tensor cores on sm_80+ too; only FMA math rules them out.
bool may_use_tensor_cores(cudnnMathType_t m, bool tf32) { return tf32 && m != CUDNN_FMA_MATH; }

// Results come sorted fastest first (find) or best first (heuristic): the first that succeeded with an
// allowed math type (no tensor-op math when TF32 is off; never ALLOW_CONVERSION, which may compute
// in fp16, not TF32).
template <typename Perf>
int pick(const Perf* perf, int count, bool allow_tf32, const char* op) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    if (!allow_tf32 && is_tensor_op(perf[i].mathType)) continue;
    return i;
  }
  FER_FAIL("cudnn " << op << ": no algorithm succeeded for this shape (" << count << " tried)");
}

void destroy_descriptors(Plan& p) {
  if (p.x) cudnnDestroyTensorDescriptor(p.x);
  if (p.y) cudnnDestroyTensorDescriptor(p.y);
  if (p.bias) cudnnDestroyTensorDescriptor(p.bias);
  if (p.w) cudnnDestroyFilterDescriptor(p.w);
  if (p.conv) cudnnDestroyConvolutionDescriptor(p.conv);
  p.x = p.y = p.bias = nullptr, p.w = nullptr, p.conv = nullptr;
}

Plan make_plan_or_throw(const Conv2dDims& d, ConvPass pass, Plan& p);

// A plan, or an error with no descriptor left behind.
Plan make_plan(const Conv2dDims& d, ConvPass pass) {
  conv2d_check("cudnn conv2d", d);
  Plan p;
  try {
    return make_plan_or_throw(d, pass, p);
  } catch (...) {
    destroy_descriptors(p);
    throw;
  }
}

Plan make_plan_or_throw(const Conv2dDims& d, ConvPass pass, Plan& p) {
  FER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  FER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  FER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.bias));
  FER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  FER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
  FER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(d.n, "N"),
                                             to_int(d.c_in, "Cin"), to_int(d.h_in, "H"), to_int(d.w_in, "W")));
  FER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(d.n, "N"),
                                             to_int(d.c_out, "Cout"), to_int(d.h_out(), "Ho"), to_int(d.w_out(), "Wo")));
  FER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, to_int(d.c_out, "Cout"), 1, 1));
  FER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(d.c_out, "Cout"),
                                             to_int(d.c_in / d.groups, "Cin/groups"), to_int(d.kernel_h, "kh"),
                                             to_int(d.kernel_w, "kw")));
  FER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, to_int(d.pad_h, "pad_h"), to_int(d.pad_w, "pad_w"),
                                                  to_int(d.stride_h, "stride_h"), to_int(d.stride_w, "stride_w"), 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  FER_CUDNN_CHECK(cudnnSetConvolutionGroupCount(p.conv, to_int(d.groups, "groups")));
  FER_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, g_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  cudnnHandle_t h = handle();
  const bool find = g_search == "find";
  int returned = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  if (pass == ConvPass::forward) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    if (find)
      FER_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, p.x, p.w, p.conv, p.y, static_cast<int>(perf.size()),
                                                           &returned, perf.data()));
    else
      FER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, static_cast<int>(perf.size()),
                                                             &returned, perf.data()));
    const int i = pick(perf.data(), returned, g_tf32, "forward");
    p.algo = {static_cast<int>(perf[i].algo), perf[i].memory, may_use_tensor_cores(perf[i].mathType, g_tf32),
              find ? perf[i].time : 0.0f};
    math = perf[i].mathType;
  } else if (pass == ConvPass::backward_input) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    if (find)
      FER_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, p.w, p.y, p.conv, p.x, static_cast<int>(perf.size()),
                                                                &returned, perf.data()));
    else
      FER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x,
                                                                  static_cast<int>(perf.size()), &returned, perf.data()));
    const int i = pick(perf.data(), returned, g_tf32, "grad_input");
    p.algo = {static_cast<int>(perf[i].algo), perf[i].memory, may_use_tensor_cores(perf[i].mathType, g_tf32),
              find ? perf[i].time : 0.0f};
    math = perf[i].mathType;
  } else {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    if (find)
      FER_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x, p.y, p.conv, p.w,
                                                                  static_cast<int>(perf.size()), &returned, perf.data()));
    else
      FER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w,
                                                                    static_cast<int>(perf.size()), &returned, perf.data()));
    const int i = pick(perf.data(), returned, g_tf32, "grad_weight");
    p.algo = {static_cast<int>(perf[i].algo), perf[i].memory, may_use_tensor_cores(perf[i].mathType, g_tf32),
              find ? perf[i].time : 0.0f};
    math = perf[i].mathType;
  }
  // run with the math type the algorithm was chosen for (as PyTorch does); strict FMA when TF32 is off
  FER_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, g_tf32 ? math : CUDNN_FMA_MATH));
  return p;
}

Plan& plan_for(const Conv2dDims& d, ConvPass pass) {
  const Key key{d.n,        d.c_in,     d.h_in,  d.w_in,  d.c_out,  d.kernel_h,         d.kernel_w,       d.stride_h,
                d.stride_w, d.pad_h,    d.pad_w, d.groups, static_cast<int>(pass), g_tf32, g_search == "find"};
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = plans().find(key);
  if (it == plans().end()) it = plans().emplace(key, make_plan(d, pass)).first;
  return it->second;
}

void check_workspace(const Plan& p, size_t workspace_bytes, const char* op) {
  FER_CHECK(workspace_bytes >= p.algo.workspace_bytes,
            op << ": workspace of " << workspace_bytes << " bytes, the algorithm needs " << p.algo.workspace_bytes
               << "; hint: size it with cudnn::conv2d_algo(d, pass).workspace_bytes");
}

}  // namespace

std::string version() {
  const size_t v = cudnnGetVersion();  // major*10000 + minor*100 + patch (cuDNN 9)
  std::ostringstream s;
  s << v / 10000 << "." << (v % 10000) / 100 << "." << v % 100;
  return s.str();
}

ConvAlgo conv2d_algo(const Conv2dDims& d, ConvPass pass) { return plan_for(d, pass).algo; }

void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y, void* workspace,
                    size_t workspace_bytes, cuda_stream stream) {
  Plan& p = plan_for(d, ConvPass::forward);
  check_workspace(p, workspace_bytes, "cudnn::conv2d_forward");
  cudnnHandle_t h = handle();
  FER_CUDNN_CHECK(cudnnSetStream(h, cuda::to_cuda(stream)));
  const float one = 1.0f, zero = 0.0f;
  FER_CUDNN_CHECK(cudnnConvolutionForward(h, &one, p.x, x, p.w, w, p.conv,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(p.algo.algo), workspace,
                                          workspace_bytes, &zero, p.y, y));
  if (bias) FER_CUDNN_CHECK(cudnnAddTensor(h, &one, p.bias, bias, &one, p.y, y));
}

void conv2d_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, void* workspace,
                           size_t workspace_bytes, cuda_stream stream) {
  Plan& p = plan_for(d, ConvPass::backward_input);
  check_workspace(p, workspace_bytes, "cudnn::conv2d_backward_input");
  cudnnHandle_t h = handle();
  FER_CUDNN_CHECK(cudnnSetStream(h, cuda::to_cuda(stream)));
  const float one = 1.0f, zero = 0.0f;
  FER_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, p.w, w, p.y, dy, p.conv,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo.algo), workspace,
                                               workspace_bytes, &zero, p.x, dx));
}

void conv2d_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* dbias,
                            void* workspace, size_t workspace_bytes, cuda_stream stream) {
  Plan& p = plan_for(d, ConvPass::backward_weight);
  cudnnHandle_t h = handle();
  FER_CUDNN_CHECK(cudnnSetStream(h, cuda::to_cuda(stream)));
  const float one = 1.0f, zero = 0.0f;
  if (dw) {
    check_workspace(p, workspace_bytes, "cudnn::conv2d_backward_weight");
    FER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, p.x, x, p.y, dy, p.conv,
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo.algo), workspace,
                                                   workspace_bytes, &zero, p.w, dw));
  }
  if (dbias) FER_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, p.y, dy, &zero, p.bias, dbias));
}

void clear_cache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto& [key, p] : plans()) {
    (void)key;
    destroy_descriptors(p);
  }
  plans().clear();
}

#endif  // FER_HAVE_CUDNN

}  // namespace fer::cudnn
