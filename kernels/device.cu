// kernels/device.cu: CUDA runtime wrappers, error reporting with hints, the process stream and
// cuBLAS handle.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

#include "fer/config.h"
#include "kernels/cuda_common.cuh"
#include "kernels/cuda_messages.h"

namespace fer::cuda {
namespace detail {

static std::string short_path(const char* file) {
  std::string f(file);
  const auto p = f.find("/kernels/");
  return p == std::string::npos ? f : f.substr(p + 1);
}

static CudaFailure failure_kind(cudaError_t err) {
  switch (err) {
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDeviceFunction:
      return CudaFailure::no_kernel_image;
    case cudaErrorInsufficientDriver:
      return CudaFailure::insufficient_driver;
    case cudaErrorNoDevice:
      return CudaFailure::no_device;
    case cudaErrorMemoryAllocation:
      return CudaFailure::out_of_memory;
    default:
      return CudaFailure::other;
  }
}

static std::string hint_for(cudaError_t err) {
  const CudaFailure kind = failure_kind(err);
  return cuda_failure_hint(kind, kind == CudaFailure::no_kernel_image ? compute_capability() : 0,
                           kCudaArchitectures);
}

[[noreturn]] void cuda_failed(cudaError_t err, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "CUDA error " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ") in " << expr << " at "
     << short_path(file) << ":" << line << "; hint: " << hint_for(err);
  cudaGetLastError();  // clear a sticky-free error so later calls are not poisoned
  throw Error(os.str());
}

[[noreturn]] void cublas_failed(cublasStatus_t st, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "cuBLAS error " << cublasGetStatusName(st) << " (" << cublasGetStatusString(st) << ") in " << expr
     << " at " << short_path(file) << ":" << line;
  throw Error(os.str());
}

static bool debug_sync_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("FER_DEBUG_SYNC");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return on;
}

void launch_check(const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && debug_sync_enabled()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) cuda_failed(err, "kernel launch", file, line);
}

}  // namespace detail

static cudaError_t g_device_error = cudaSuccess;

int device_count() {
  static const int count = [] {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      g_device_error = err;
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

std::string no_device_reason() {
  if (device_count() > 0) return "";
  if (g_device_error != cudaSuccess)
    return std::string(cudaGetErrorString(g_device_error)) + " (" +
           cuda_failure_hint(detail::failure_kind(g_device_error)) + ")";
  return "no CUDA device found";
}

int compute_capability(int dev) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return p.major * 10 + p.minor;
}

std::string device_description(int dev) {
  cudaDeviceProp p{};
  FER_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();  // unknown: printed as 0.0
  std::ostringstream os;
  os.precision(1);
  os << p.name << " (sm_" << p.major << p.minor << ", " << p.multiProcessorCount << " SMs, " << std::fixed
     << static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0) << " GiB, driver " << driver / 1000 << "."
     << (driver % 1000) / 10 << ")";
  return os.str();
}

cuda_stream default_stream() {
  static cudaStream_t stream = [] {
    FER_CHECK(device_count() > 0, "no CUDA device: " << no_device_reason() << "; hint: use --device cpu");
    cudaStream_t s = nullptr;
    FER_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }();
  return stream;
}

namespace {
// A workspace of our own, so cuBLAS never allocates inside a captured CUDA graph (cuBLAS asks for
// this when graphs are captured; 32 MiB covers Hopper's largest recommendation). cublasSetStream
// resets the handle to cuBLAS's default workspace, so cublas_use_stream sets it again.
constexpr size_t kCublasWorkspace = size_t(32) << 20;
void* g_cublas_workspace = nullptr;
}  // namespace

cublasContext* cublas_handle() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    FER_CUBLAS_CHECK(cublasCreate(&h));
    FER_CUBLAS_CHECK(cublasSetStream(h, default_stream()));
    // Deterministic by default: no atomics-based algorithms, plain fp32 math (TF32 is opt-in).
    FER_CUBLAS_CHECK(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED));
    FER_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
    FER_CUDA_CHECK(cudaMalloc(&g_cublas_workspace, kCublasWorkspace));
    FER_CUBLAS_CHECK(cublasSetWorkspace(h, g_cublas_workspace, kCublasWorkspace));
    return h;
  }();
  return handle;
}

cublasContext* cublas_use_stream(cuda_stream stream) {
  cublasHandle_t h = cublas_handle();
  cudaStream_t current = nullptr;
  FER_CUBLAS_CHECK(cublasGetStream(h, &current));
  if (current != stream) {
    FER_CUBLAS_CHECK(cublasSetStream(h, stream));
    FER_CUBLAS_CHECK(cublasSetWorkspace(h, g_cublas_workspace, kCublasWorkspace));
  }
  return h;
}

void memory_info(size_t* free_bytes, size_t* total_bytes) { FER_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes)); }

void* device_malloc(size_t bytes, int64_t held_bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();  // not left for the next launch check
    FER_FAIL(cuda_oom_message(bytes, free_b, total_b, held_bytes));
  }
  FER_CUDA_CHECK(err);
  return p;
}

void device_free(void* ptr) {
  if (ptr) FER_CUDA_CHECK(cudaFree(ptr));
}

bool device_free_nothrow(void* ptr) noexcept {
  if (!ptr) return true;
  const cudaError_t err = cudaFree(ptr);
  if (err == cudaSuccess) return true;
  std::fprintf(stderr, "fer: cudaFree failed in a destructor: %s (%s); an earlier kernel probably faulted\n",
               cudaGetErrorString(err), cudaGetErrorName(err));
  return false;
}

void memcpy_h2d(void* dst, const void* src, size_t bytes, cuda_stream stream) {
  FER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
}
void memcpy_d2h(void* dst, const void* src, size_t bytes, cuda_stream stream) {
  FER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
  FER_CUDA_CHECK(cudaStreamSynchronize(stream));
}
void memcpy_d2d(void* dst, const void* src, size_t bytes, cuda_stream stream) {
  FER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
}
void memset_device(void* dst, int byte, size_t bytes, cuda_stream stream) {
  FER_CUDA_CHECK(cudaMemsetAsync(dst, byte, bytes, stream));
}

__global__ void fill_float_kernel(float* dst, float value, int64_t n) {
  FER_CUDA_KERNEL_LOOP(i, n) { dst[i] = value; }
}

void fill_float(float* dst, float value, size_t count, cuda_stream stream) {
  if (count == 0) return;
  fill_float_kernel<<<grid_for(static_cast<int64_t>(count)), kBlock, 0, stream>>>(dst, value,
                                                                                  static_cast<int64_t>(count));
  FER_LAUNCH_CHECK();
}

void stream_synchronize(cuda_stream stream) { FER_CUDA_CHECK(cudaStreamSynchronize(stream)); }

namespace {
std::mutex g_graph_mutex;
std::map<void*, int64_t> g_graph_nodes;  // executable -> node count of its graph
}  // namespace

void begin_capture(cuda_stream stream) {
  FER_CHECK(!detail::debug_sync_enabled(),
            "CUDA graph capture: FER_DEBUG_SYNC synchronises after every launch, which a capture cannot record; "
            "hint: unset FER_DEBUG_SYNC or turn the graph off (--cuda-graph off)");
  FER_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
}

void* end_capture(cuda_stream stream) {
  cudaGraph_t graph = nullptr;
  const cudaError_t err = cudaStreamEndCapture(stream, &graph);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    FER_FAIL("CUDA graph capture failed: " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err)
                                           << "); the usual cause is an operation in the captured step that "
                                              "synchronises the stream or copies from pageable host memory; hint: "
                                              "--cuda-graph off runs the step uncaptured");
  }
  size_t nodes = 0;
  FER_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t ierr = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  FER_CUDA_CHECK(ierr);
  std::lock_guard<std::mutex> lock(g_graph_mutex);
  g_graph_nodes[exec] = static_cast<int64_t>(nodes);
  return exec;
}

void abort_capture(cuda_stream stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  if (status == cudaStreamCaptureStatusNone) return;
  cudaGraph_t graph = nullptr;
  cudaStreamEndCapture(stream, &graph);
  cudaGetLastError();
  if (graph) cudaGraphDestroy(graph);
}

void graph_launch(void* graph_exec, cuda_stream stream) {
  FER_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph_exec), stream));
}

void graph_destroy(void* graph_exec) {
  if (graph_exec == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(g_graph_mutex);
    g_graph_nodes.erase(graph_exec);
  }
  FER_CUDA_CHECK(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph_exec)));
}

int64_t graph_node_count(void* graph_exec) {
  std::lock_guard<std::mutex> lock(g_graph_mutex);
  const auto it = g_graph_nodes.find(graph_exec);
  return it == g_graph_nodes.end() ? -1 : it->second;
}

}  // namespace fer::cuda
