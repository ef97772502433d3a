// bench/bench_ops_cuda.cpp: the memory-bound ops of a training step on the GPU (issue 6), forward and
// backward, at the activation shapes of the report models (bench/bench_ops_cases.h):
//   bn/{forward,backward}/{native,cudnn}   BatchNorm2d training (kernels/batchnorm.h), cuDNN's
//                                          cudnnBatchNormalizationForwardTraining / Backward
//                                          (CUDNN_BATCHNORM_SPATIAL, what PyTorch runs for NCHW) as
//                                          the baseline when cuDNN was built in
//   masking/{forward,backward}/{softmax,sigmoid}   RMN's masking block (kernels/masking.h)
//   xent/{loss,loss+grad}                  fused weighted softmax cross-entropy, K = 7 (kernels/loss.h)
//   add_relu/{forward,backward}/{fused,unfused}   ResNet's residual end: kernels/add_act.h vs
//                                          elementwise add + activation (two kernels each way)
//   memcpy_d2d                             cudaMemcpyAsync device to device, the bandwidth reference
// Kernel time by CUDA events around each call (UseManualTime), after 2 warm-up calls; counters from the
// median: median_us, MB (bytes per call, bench_ops_cases.h: inputs read once + outputs written once),
// GB/s = MB / time, %peak = GB/s / the device-to-device copy bandwidth measured at start (a 256 MiB
// copy, best of 10; a copy reads and writes, so its bytes are 2 x 256 MiB). These ops do a handful of
// flops per byte, so GB/s, not TFLOP/s, is the measure; a table with the ratios follows the run.
//   --iters=N (FER_BENCH_ITERS)      timed calls per benchmark (default 20)
//   --csv=FILE (FER_BENCH_OPS_CSV)   also write the summary table as CSV
//                                    (op,median_us,mb,gb_per_s,pct_of_peak,copy_peak_gb_per_s)
// Without a CUDA device it prints "skipped: no CUDA device (...)" and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#if defined(FER_HAVE_CUDNN)
#include <cudnn.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_ops_cases.h"
#include "fer/config.h"
#include "kernels/activation.h"
#include "kernels/add_act.h"
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_act.h"
#include "kernels/device.h"
#include "kernels/elementwise.h"
#include "kernels/loss.h"
#include "kernels/masking.h"

namespace {

using fer::bench::Nchw;
namespace fb = fer::bench;

int64_t g_iters = 20;
double g_peak_gbs = 0;  // measured device-to-device copy bandwidth

struct Row {
  std::string name;
  double us, mb, gbs;
};
std::vector<Row> g_rows;
std::string g_current;  // the name of the benchmark running (this Google Benchmark has no State::name())

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
cudaStream_t stream() {
  return reinterpret_cast<cudaStream_t>(fer::cuda::default_stream());
}

// A float device buffer for one benchmark, filled with a fixed pseudo-random pattern in [-1, 1).
struct Buf {
  float* p = nullptr;
  int64_t n = 0;
  explicit Buf(int64_t count, bool random = true) : n(count) {
    p = static_cast<float*>(fer::cuda::device_malloc(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)));
    if (random) fill();
  }
  ~Buf() { fer::cuda::device_free(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  void fill() {
    static const std::vector<float> pattern = [] {
      std::vector<float> v(1 << 20);
      uint32_t s = 12345u;
      for (float& x : v) {
        s = s * 1664525u + 1013904223u;
        x = static_cast<float>(s >> 8) / static_cast<float>(1u << 23) - 1.0f;
      }
      return v;
    }();
    const int64_t chunk = static_cast<int64_t>(pattern.size());
    for (int64_t i = 0; i < n; i += chunk)
      fer::cuda::memcpy_h2d(p + i, pattern.data(), static_cast<size_t>(std::min(chunk, n - i)) * sizeof(float),
                            fer::cuda::default_stream());
  }
};

// Times `call` (2 warm-up calls), sets the counters, records the row for the summary.
void time_it(benchmark::State& state, double bytes, const std::function<void()>& call) {
  for (int i = 0; i < 2; ++i) call();
  check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> times;
  for (auto _ : state) {
    check(cudaEventRecord(start, stream()), "cudaEventRecord");
    call();
    check(cudaEventRecord(stop, stream()), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms * 1e-3);
    times.push_back(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  const double median = times.empty() ? NAN : times[times.size() / 2];
  const double gbs = bytes / median / 1e9;
  state.counters["median_us"] = median * 1e6;
  state.counters["MB"] = bytes / 1e6;
  state.counters["GB/s"] = gbs;
  state.counters["%peak"] = g_peak_gbs > 0 ? 100.0 * gbs / g_peak_gbs : NAN;
  g_rows.push_back({g_current, median * 1e6, bytes / 1e6, gbs});
}

// ---- device-to-device copy: the bandwidth reference -------------------------------------------------
constexpr int64_t kCopyFloats = int64_t(64) << 20;  // 256 MiB

double measure_copy_gbs() {
  Buf a(kCopyFloats, false), b(kCopyFloats, false);
  fer::cuda::memset_device(a.p, 0, static_cast<size_t>(kCopyFloats) * sizeof(float), fer::cuda::default_stream());
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  double best = 1e30;
  for (int i = 0; i < 12; ++i) {
    check(cudaEventRecord(start, stream()), "cudaEventRecord");
    fer::cuda::memcpy_d2d(b.p, a.p, static_cast<size_t>(kCopyFloats) * sizeof(float), fer::cuda::default_stream());
    check(cudaEventRecord(stop, stream()), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (i >= 2) best = std::min(best, ms * 1e-3);  // two warm-up copies
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 2.0 * kCopyFloats * sizeof(float) / best / 1e9;
}

void BM_memcpy(benchmark::State& state) {
  Buf a(kCopyFloats), b(kCopyFloats, false);
  time_it(state, 2.0 * kCopyFloats * sizeof(float), [&] {
    fer::cuda::memcpy_d2d(b.p, a.p, static_cast<size_t>(kCopyFloats) * sizeof(float), fer::cuda::default_stream());
  });
}

// ---- BatchNorm2d, training ------------------------------------------------------------------------------
#if defined(FER_HAVE_CUDNN)
void cudnn_check(cudnnStatus_t st, const char* what) {
  if (st != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(st));
}
// One handle for the process (cudnnCreate loads the library's kernels: slow, so not per benchmark).
cudnnHandle_t cudnn_handle() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    cudnn_check(cudnnCreate(&h), "cudnnCreate");
    cudnn_check(cudnnSetStream(h, stream()), "cudnnSetStream");
    return h;
  }();
  return handle;
}
struct CudnnBn {
  cudnnHandle_t handle = cudnn_handle();
  cudnnTensorDescriptor_t x = nullptr, bn = nullptr;
  explicit CudnnBn(const Nchw& s) {
    cudnn_check(cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor");
    cudnn_check(cudnnCreateTensorDescriptor(&bn), "cudnnCreateTensorDescriptor");
    cudnn_check(
        cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(s.n), int(s.c), int(s.h), int(s.w)),
        "cudnnSetTensor4dDescriptor");
    cudnn_check(cudnnDeriveBNTensorDescriptor(bn, x, CUDNN_BATCHNORM_SPATIAL), "cudnnDeriveBNTensorDescriptor");
  }
  ~CudnnBn() {
    cudnnDestroyTensorDescriptor(bn);
    cudnnDestroyTensorDescriptor(x);
  }
  CudnnBn(const CudnnBn&) = delete;
  CudnnBn& operator=(const CudnnBn&) = delete;
};
#endif

void BM_bn(benchmark::State& state, Nchw s, bool backward, bool cudnn) {
  try {
    const fer::BatchNormDims d{s.n, s.c, s.h, s.w};
    Buf x(s.size()), dy(s.size()), y(s.size(), false), dx(s.size(), false);
    Buf gamma(s.c), beta(s.c), rmean(s.c), rvar(s.c), smean(s.c, false), sinv(s.c, false), dg(s.c, false),
        dbt(s.c, false);
    fer::cuda::fill_float(rvar.p, 1.0f, static_cast<size_t>(s.c), fer::cuda::default_stream());
    const double eps = 1e-5, momentum = 0.1;
    const double bytes = backward ? fb::bn_backward_bytes(s) : fb::bn_forward_bytes(s);
    // the saved statistics the backward reads
    fer::cuda::batchnorm2d_forward_train(d, x.p, gamma.p, beta.p, eps, momentum, rmean.p, rvar.p, y.p, smean.p, sinv.p,
                                         fer::cuda::default_stream());
    if (!cudnn) {
      time_it(state, bytes, [&] {
        if (backward)
          fer::cuda::batchnorm2d_backward_train(d, x.p, dy.p, gamma.p, smean.p, sinv.p, dx.p, dg.p, dbt.p,
                                                fer::cuda::default_stream());
        else
          fer::cuda::batchnorm2d_forward_train(d, x.p, gamma.p, beta.p, eps, momentum, rmean.p, rvar.p, y.p, smean.p,
                                               sinv.p, fer::cuda::default_stream());
      });
      return;
    }
#if defined(FER_HAVE_CUDNN)
    CudnnBn c(s);
    const float one = 1.0f, zero = 0.0f;
    if (!backward) {
      time_it(state, bytes, [&] {
        cudnn_check(cudnnBatchNormalizationForwardTraining(c.handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, c.x, x.p,
                                                           c.x, y.p, c.bn, gamma.p, beta.p, momentum, rmean.p, rvar.p,
                                                           eps, smean.p, sinv.p),
                    "cudnnBatchNormalizationForwardTraining");
      });
    } else {
      // cuDNN's own saved statistics (it stores 1/sqrt(var + eps) as fer does)
      cudnn_check(cudnnBatchNormalizationForwardTraining(c.handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, c.x, x.p, c.x,
                                                         y.p, c.bn, gamma.p, beta.p, momentum, rmean.p, rvar.p, eps,
                                                         smean.p, sinv.p),
                  "cudnnBatchNormalizationForwardTraining");
      time_it(state, bytes, [&] {
        cudnn_check(
            cudnnBatchNormalizationBackward(c.handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, c.x, x.p, c.x,
                                            dy.p, c.x, dx.p, c.bn, gamma.p, dg.p, dbt.p, eps, smean.p, sinv.p),
            "cudnnBatchNormalizationBackward");
      });
    }
#endif
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- BatchNorm2d + ReLU, training: fused (kernels/batchnorm_act.h) or batch norm then relu ------------------
void BM_bn_relu(benchmark::State& state, Nchw s, bool backward, bool fused) {
  try {
    const fer::BatchNormDims d{s.n, s.c, s.h, s.w};
    Buf x(s.size()), dy(s.size()), z(s.size(), false), y(s.size(), false), dz(s.size(), false), dx(s.size(), false);
    Buf gamma(s.c), beta(s.c), rmean(s.c), rvar(s.c), smean(s.c, false), sinv(s.c, false), dg(s.c, false),
        dbt(s.c, false);
    fer::cuda::fill_float(rvar.p, 1.0f, static_cast<size_t>(s.c), fer::cuda::default_stream());
    const double eps = 1e-5, momentum = 0.1;
    const auto relu = fer::Activation::relu;
    const auto st = fer::cuda::default_stream();
    fer::cuda::batchnorm2d_forward_train(d, x.p, gamma.p, beta.p, eps, momentum, rmean.p, rvar.p, z.p, smean.p, sinv.p,
                                         st);
    fer::cuda::activation_forward(relu, s.size(), z.p, y.p, st);
    time_it(state, backward ? fb::bn_relu_backward_bytes(s, fused) : fb::bn_relu_forward_bytes(s, fused), [&] {
      if (fused && !backward) {
        fer::cuda::batchnorm_act_forward_train(d, relu, x.p, gamma.p, beta.p, eps, momentum, rmean.p, rvar.p, y.p,
                                               smean.p, sinv.p, st);
      } else if (fused) {
        fer::cuda::batchnorm_act_backward_train(d, relu, x.p, dy.p, gamma.p, beta.p, smean.p, sinv.p, dx.p, dg.p,
                                                dbt.p, st);
      } else if (!backward) {
        fer::cuda::batchnorm2d_forward_train(d, x.p, gamma.p, beta.p, eps, momentum, rmean.p, rvar.p, z.p, smean.p,
                                             sinv.p, st);
        fer::cuda::activation_forward(relu, s.size(), z.p, y.p, st);
      } else {
        fer::cuda::activation_backward(relu, s.size(), z.p, y.p, dy.p, dz.p, st);
        fer::cuda::batchnorm2d_backward_train(d, x.p, dz.p, gamma.p, smean.p, sinv.p, dx.p, dg.p, dbt.p, st);
      }
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- masking block ---------------------------------------------------------------------------------------
void BM_masking(benchmark::State& state, Nchw s, bool backward, fer::MaskKind kind) {
  try {
    const int64_t hw = s.h * s.w;
    Buf x(s.size()), z(s.size()), dy(s.size()), y(s.size(), false), dx(s.size(), false), dz(s.size(), false);
    time_it(state, backward ? fb::masking_backward_bytes(s) : fb::masking_forward_bytes(s), [&] {
      if (backward)
        fer::cuda::masking_backward(kind, s.n, s.c, hw, x.p, z.p, dy.p, dx.p, dz.p, fer::cuda::default_stream());
      else
        fer::cuda::masking_forward(kind, s.n, s.c, hw, x.p, z.p, y.p, nullptr, fer::cuda::default_stream());
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- fused weighted softmax cross-entropy --------------------------------------------------------------
void BM_xent(benchmark::State& state, int64_t n, bool with_grad) {
  try {
    const int64_t k = fb::kClasses;
    Buf logits(n * k), weights(k), loss(1, false), dlogits(n * k, false);
    std::vector<int32_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>((i * 5) % k);
    void* d_labels = fer::cuda::device_malloc(labels.size() * sizeof(int32_t));
    fer::cuda::memcpy_h2d(d_labels, labels.data(), labels.size() * sizeof(int32_t), fer::cuda::default_stream());
    fer::cuda::fill_float(weights.p, 1.5f, static_cast<size_t>(k), fer::cuda::default_stream());
    time_it(state, fb::xent_bytes(n, with_grad), [&] {
      fer::cuda::softmax_cross_entropy(n, k, logits.p, static_cast<const int32_t*>(d_labels), weights.p, 0.1f, loss.p,
                                       nullptr, with_grad ? dlogits.p : nullptr, fer::cuda::default_stream());
    });
    fer::cuda::device_free(d_labels);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- residual add + ReLU: fused vs add then activation --------------------------------------------------
void BM_add_relu(benchmark::State& state, Nchw s, bool backward, bool fused) {
  try {
    const int64_t n = s.size();
    const std::vector<int64_t> shape{s.n, s.c, s.h, s.w};
    const fer::BroadcastShape bs = fer::make_broadcast(shape, shape);
    Buf a(n), b(n), dy(n), sum(n, false), y(n, false), ds(n, false), ga(n, false), gb(n, false);
    const fer::cuda_stream st = fer::cuda::default_stream();
    fer::cuda::binary_forward(fer::BinaryOp::add, bs, a.p, b.p, sum.p, st);
    fer::cuda::activation_forward(fer::Activation::relu, n, sum.p, y.p, st);
    const double bytes = backward ? fb::add_relu_backward_bytes(s, fused) : fb::add_relu_forward_bytes(s, fused);
    time_it(state, bytes, [&] {
      if (fused && !backward) {
        fer::cuda::add_act_forward(fer::Activation::relu, n, a.p, b.p, y.p, nullptr, st);
      } else if (fused) {
        fer::cuda::add_act_backward(fer::Activation::relu, n, nullptr, y.p, dy.p, ga.p, st);
      } else if (!backward) {
        fer::cuda::binary_forward(fer::BinaryOp::add, bs, a.p, b.p, sum.p, st);
        fer::cuda::activation_forward(fer::Activation::relu, n, sum.p, y.p, st);
      } else {
        fer::cuda::activation_backward(fer::Activation::relu, n, sum.p, y.p, dy.p, ds.p, st);
        fer::cuda::binary_backward(fer::BinaryOp::add, bs, nullptr, nullptr, ds.p, ga.p, gb.p, st);
      }
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The summary as CSV (--csv=FILE or FER_BENCH_OPS_CSV): one line per benchmark.
bool write_csv(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "op,median_us,mb,gb_per_s,pct_of_peak,copy_peak_gb_per_s\n");
  for (const Row& r : g_rows)
    std::fprintf(f, "%s,%.3f,%.4f,%.2f,%.2f,%.1f\n", r.name.c_str(), r.us, r.mb, r.gbs,
                 g_peak_gbs > 0 ? 100.0 * r.gbs / g_peak_gbs : NAN, g_peak_gbs);
  return std::fclose(f) == 0;
}

void print_summary() {
  std::printf("\n%-58s %10s %9s %9s %7s\n", "op", "median_us", "MB", "GB/s", "%peak");
  std::map<std::string, double> us;
  for (const Row& r : g_rows) {
    std::printf("%-58s %10.1f %9.2f %9.1f %6.1f%%\n", r.name.c_str(), r.us, r.mb, r.gbs,
                g_peak_gbs > 0 ? 100.0 * r.gbs / g_peak_gbs : NAN);
    us[r.name] = r.us;
  }
  // pairs: fused / unfused add+relu, native / cuDNN BN (time ratios; < 1 means the first is faster)
  std::printf("\n%-58s %10s\n", "time ratio", "ratio");
  for (const Row& r : g_rows) {
    const auto pair = [&](const char* from, const char* to, const char* label) {
      const size_t at = r.name.find(from);
      if (at == std::string::npos) return;
      std::string other = r.name;
      other.replace(at, std::strlen(from), to);
      auto it = us.find(other);
      if (it != us.end()) std::printf("%-58s %10.2f\n", (r.name + " " + label).c_str(), r.us / it->second);
    };
    pair("/fused/", "/unfused/", "vs unfused");
    pair("/native/", "/cudnn/", "vs cudnn");
  }
}

int64_t env_or(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoll(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  g_iters = env_or("FER_BENCH_ITERS", 20);
  const char* csv_env = std::getenv("FER_BENCH_OPS_CSV");
  std::string csv = csv_env != nullptr ? csv_env : "";
  for (int i = 1; i < argc; ++i) {
    const bool iters = std::strncmp(argv[i], "--iters=", 8) == 0, csv_flag = std::strncmp(argv[i], "--csv=", 6) == 0;
    if (!iters && !csv_flag) continue;
    if (iters) g_iters = std::atoll(argv[i] + 8);
    if (csv_flag) csv = argv[i] + 6;
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc, --i;
  }
  if (g_iters < 1) {
    std::fprintf(stderr, "bench_ops_cuda: --iters must be >= 1\n");
    return 1;
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (fer::cuda::device_count() == 0) {
    std::printf("skipped: no CUDA device (%s)\n", fer::cuda::no_device_reason().c_str());
    return 0;
  }
  try {
    g_peak_gbs = measure_copy_gbs();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ops_cuda: %s\n", e.what());
    return 1;
  }
  std::printf("device: %s; cuDNN %s; device-to-device copy %.1f GB/s (the 100%% of %%peak); %lld timed calls\n",
              fer::cuda::device_description().c_str(), fer::kCudnnBuilt ? "yes" : "no", g_peak_gbs,
              static_cast<long long>(g_iters));
  auto reg = [](std::string name, auto fn, auto... args) {
    std::replace(name.begin(), name.end(), ' ', '_');
    benchmark::RegisterBenchmark(name.c_str(),
                                 [=](benchmark::State& state) {
                                   g_current = name;
                                   fn(state, args...);
                                 })
        ->UseManualTime()
        ->Iterations(g_iters)
        ->Unit(benchmark::kMicrosecond);
  };
  reg("memcpy_d2d/256MiB", BM_memcpy);
  for (const Nchw& s : fb::bn_shapes())
    for (bool bwd : {false, true})
      for (bool cudnn : {false, true}) {
        if (cudnn && !fer::kCudnnBuilt) continue;
        reg(std::string("bn/") + (bwd ? "backward" : "forward") + (cudnn ? "/cudnn/" : "/native/") + s.str() + " " +
                s.where,
            BM_bn, s, bwd, cudnn);
      }
  for (const Nchw& s : fb::bn_shapes())
    for (bool bwd : {false, true})
      for (bool fused : {true, false})
        reg(std::string("bn_relu/") + (bwd ? "backward" : "forward") + (fused ? "/fused/" : "/unfused/") + s.str() +
                " " + s.where,
            BM_bn_relu, s, bwd, fused);
  for (const Nchw& s : fb::rmn_stage_shapes())
    for (fer::MaskKind kind : {fer::MaskKind::softmax, fer::MaskKind::sigmoid})
      for (bool bwd : {false, true})
        reg(std::string("masking/") + (bwd ? "backward/" : "forward/") + fer::mask_kind_name(kind) + "/" + s.str() +
                " " + s.where,
            BM_masking, s, bwd, kind);
  for (int64_t n : fb::xent_rows())
    for (bool grad : {false, true})
      reg(std::string("xent/") + (grad ? "loss+grad" : "loss") + "/" + std::to_string(n) + "x7", BM_xent, n, grad);
  for (const Nchw& s : fb::rmn_stage_shapes())
    for (bool bwd : {false, true})
      for (bool fused : {true, false})
        reg(std::string("add_relu/") + (bwd ? "backward" : "forward") + (fused ? "/fused/" : "/unfused/") + s.str() +
                " " + s.where,
            BM_add_relu, s, bwd, fused);
  benchmark::RunSpecifiedBenchmarks();
  print_summary();
  if (!csv.empty()) {
    if (!write_csv(csv)) {
      std::fprintf(stderr, "bench_ops_cuda: cannot write %s\n", csv.c_str());
      return 1;
    }
    std::printf("csv: %s\n", csv.c_str());
  }
  benchmark::Shutdown();
  return 0;
}
