// bench/bench_conv_cuda.cpp: every conv shape of the report models (models/conv_shapes.h), forward,
// grad-input and grad-weight, native CUDA kernels (kernels/conv2d.h) vs cuDNN (kernels/conv2d_cudnn.h)
// at fp32, cuDNN with TF32 allowed, and the tensor-core implicit GEMM (kernels/conv2d_tc.h) with tf32
// and bf16 operands (issue 6). Built only with the CUDA backend.
//
// Each benchmark is one (shape, pass, impl): impl native | cudnn_fp32 (CUDNN_FMA_MATH, strict fp32
// like the native path's pedantic cuBLAS) | cudnn_tf32 (CUDNN_DEFAULT_MATH: tensor cores) | tc_tf32 |
// tc_bf16 (cuda::conv2d_tc_*, operands rounded at load; sm_80+, else skipped with the error). Kernel time
// by CUDA events around each call (UseManualTime), after 2 warm-up calls (the first selects cuDNN's
// algorithm). Counters: TFLOP/s = 2 * MACs / median time, count (calls per forward), tf32, algo,
// ws_MiB (workspace), rel_err (cuDNN's / tc's result vs native fp32 over the first 1M output elements:
// max |a - b| / max |native|; for tc it includes the operand rounding, ~1e-3 tf32, ~1e-2 bf16).
// At the end a ratio table native / cuDNN per shape and pass (median times) with the tc times and
// tc_tf32 / cudnn_tf32 (equal precision), then the median ratios and the time-weighted ratios (sum of
// count * time over shapes) as the last lines.
//
// Defaults (finish in well under a minute on one H100): models cnn6, vggnet, resnet18, unet at batch
// 64 (vggnet: 640 crops, its ten-crop training batch); transposed convs are listed but not timed.
//   --models=a,b,...  (FER_BENCH_MODELS)   registered models at their input size
//   --batch=N         (FER_BENCH_BATCH)    batch of the 48x48 models (default 64)
//   --rmn             (FER_BENCH_RMN=1)    add RMN at 224x224, batch --rmn-batch (FER_BENCH_RMN_BATCH, 48)
//   --iters=N         (FER_BENCH_ITERS)    timed calls per benchmark (default 15)
//   --search=find|heuristic (FER_CUDNN_SEARCH)  cuDNN algorithm choice (default find)
//   --tc=0|1          (FER_BENCH_TC)       time the tensor-core implicit GEMM too (default 1; 0 keeps the
//                                          old native/cuDNN-only run and its runtime)
//   --list            print the shape list and exit (needs no GPU)
// Without a CUDA device it prints "skipped: no CUDA device (...)" and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fer/config.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/conv2d_tc.h"
#include "kernels/device.h"
#include "models/conv_shapes.h"
#include "tensor/allocator.h"

namespace {

using fer::models::ConvShape;
using fer::cudnn::ConvPass;

enum Impl { kNative = 0, kCudnnFp32 = 1, kCudnnTf32 = 2, kTcTf32 = 3, kTcBf16 = 4 };
const char* kImplName[] = {"native", "cudnn_fp32", "cudnn_tf32", "tc_tf32", "tc_bf16"};
bool is_tc(int impl) { return impl == kTcTf32 || impl == kTcBf16; }

struct BenchShape {
  ConvShape shape;
  std::string models;  // which models have it ("cnn6,vggnet")
};

std::vector<BenchShape> g_shapes;
// median seconds per (shape index, pass, impl); NaN when not run
std::map<std::array<int, 3>, double> g_median;
int64_t g_iters = 15;

// ---- device memory from the engine's caching allocator --------------------------------------------
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceBuffer(size_t b) : bytes(b) {
    if (bytes) ptr = fer::allocate(fer::Device::cuda, bytes);
  }
  ~DeviceBuffer() {
    if (ptr) fer::deallocate(fer::Device::cuda, ptr, bytes);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* f() const { return static_cast<float*>(ptr); }
};

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_conv_cuda: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Fills `count` floats with a fixed pseudo-random pattern in [-1, 1) (uploaded in chunks).
void fill_random(float* dst, int64_t count, uint32_t seed) {
  static std::vector<float> pattern = [] {
    std::vector<float> v(1 << 20);
    uint32_t s = 12345u;
    for (float& x : v) {
      s = s * 1664525u + 1013904223u;
      x = static_cast<float>(s >> 8) / static_cast<float>(1u << 23) - 1.0f;
    }
    return v;
  }();
  const int64_t chunk = static_cast<int64_t>(pattern.size());
  int64_t offset = seed % 997;
  for (int64_t i = 0; i < count; i += chunk - offset, offset = 0) {
    const int64_t n = std::min(chunk - offset, count - i);
    fer::cuda::memcpy_h2d(dst + i, pattern.data() + offset, static_cast<size_t>(n) * sizeof(float),
                          fer::cuda::default_stream());
  }
}

std::vector<float> download(const float* src, int64_t count) {
  std::vector<float> h(static_cast<size_t>(count));
  fer::cuda::memcpy_d2h(h.data(), src, h.size() * sizeof(float), fer::cuda::default_stream());
  return h;
}

double rel_err(const std::vector<float>& ref, const std::vector<float>& got) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(ref[i]) - got[i]));
    scale = std::max(scale, std::abs(static_cast<double>(ref[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// The buffers of one (shape, pass): inputs random, outputs written by the call.
struct Operands {
  fer::Conv2dDims d;
  DeviceBuffer x, w, b, y, dx, dw, db;
  Operands(const fer::Conv2dDims& dims, bool bias, ConvPass pass)
      : d(dims),
        x(sizeof(float) * static_cast<size_t>(dims.x_size())),
        w(sizeof(float) * static_cast<size_t>(dims.w_size())),
        b(bias ? sizeof(float) * static_cast<size_t>(dims.c_out) : 0),
        y(sizeof(float) * static_cast<size_t>(dims.y_size())),  // y (forward) or dy (backward)
        dx(pass == ConvPass::backward_input ? sizeof(float) * static_cast<size_t>(dims.x_size()) : 0),
        dw(pass == ConvPass::backward_weight ? sizeof(float) * static_cast<size_t>(dims.w_size()) : 0),
        db(pass == ConvPass::backward_weight && bias ? sizeof(float) * static_cast<size_t>(dims.c_out) : 0) {
    fill_random(x.f(), d.x_size(), 1);
    fill_random(w.f(), d.w_size(), 2);
    if (b.ptr) fill_random(b.f(), d.c_out, 3);
    fill_random(y.f(), d.y_size(), 4);
  }
  // the pass's main output
  const float* out() const { return dx.ptr ? dx.f() : dw.ptr ? dw.f() : y.f(); }
  int64_t out_size() const { return dx.ptr ? d.x_size() : dw.ptr ? d.w_size() : d.y_size(); }
};

// The operands of the last (shape, pass): the benchmarks of one (shape, pass) run back to back (one per
// impl) and only write the pass's output, so they share one random fill (keeps --tc=1 within the
// runtime budget: the uploads of the big vggnet planes dominate the setup).
std::unique_ptr<Operands> g_operands;
std::array<int, 2> g_operands_key{-1, -1};

Operands& operands_for(int shape_index, ConvPass pass, const fer::Conv2dDims& d, bool bias) {
  const std::array<int, 2> key{shape_index, static_cast<int>(pass)};
  if (!g_operands || g_operands_key != key) {
    g_operands.reset();  // free the previous buffers first
    g_operands_key = {-1, -1};
    g_operands = std::make_unique<Operands>(d, bias, pass);
    g_operands_key = key;
  }
  return *g_operands;
}

void run_native(Operands& o, ConvPass pass, float* ws) {
  const fer::cuda_stream s = fer::cuda::default_stream();
  if (pass == ConvPass::forward)
    fer::cuda::conv2d_forward(o.d, o.x.f(), o.w.f(), o.b.f(), o.y.f(), ws, s);
  else if (pass == ConvPass::backward_input)
    fer::cuda::conv2d_backward_input(o.d, o.y.f(), o.w.f(), o.dx.f(), ws, s);
  else
    fer::cuda::conv2d_backward_weight(o.d, o.x.f(), o.y.f(), o.dw.f(), o.db.f(), ws, s);
}

void run_tc(Operands& o, ConvPass pass, float* ws, fer::MathPrecision p) {
  const fer::cuda_stream s = fer::cuda::default_stream();
  if (pass == ConvPass::forward)
    fer::cuda::conv2d_tc_forward(o.d, o.x.f(), o.w.f(), o.b.f(), o.y.f(), p, s);
  else if (pass == ConvPass::backward_input)
    fer::cuda::conv2d_tc_backward_input(o.d, o.y.f(), o.w.f(), o.dx.f(), p, s);
  else  // the bias gradient stays the native fp32 reduction of dy (as in tensor/ops_conv.cpp)
    fer::cuda::conv2d_tc_backward_weight(o.d, o.x.f(), o.y.f(), o.dw.f(), ws, p, s);
}

void run_cudnn(Operands& o, ConvPass pass, void* ws, size_t ws_bytes) {
  const fer::cuda_stream s = fer::cuda::default_stream();
  if (pass == ConvPass::forward)
    fer::cudnn::conv2d_forward(o.d, o.x.f(), o.w.f(), o.b.f(), o.y.f(), ws, ws_bytes, s);
  else if (pass == ConvPass::backward_input)
    fer::cudnn::conv2d_backward_input(o.d, o.y.f(), o.w.f(), o.dx.f(), ws, ws_bytes, s);
  else
    fer::cudnn::conv2d_backward_weight(o.d, o.x.f(), o.y.f(), o.dw.f(), o.db.f(), ws, ws_bytes, s);
}

void BM_conv(benchmark::State& state, int shape_index, ConvPass pass, Impl impl) {
  const BenchShape& bs = g_shapes[static_cast<size_t>(shape_index)];
  const fer::Conv2dDims d = bs.shape.dims();
  try {
    Operands& o = operands_for(shape_index, pass, d, bs.shape.bias);
    const cudaStream_t stream = reinterpret_cast<cudaStream_t>(fer::cuda::default_stream());
    fer::cudnn::ConvAlgo algo;
    size_t ws_bytes = 0;
    const fer::MathPrecision tc_prec = impl == kTcBf16 ? fer::MathPrecision::bf16 : fer::MathPrecision::tf32;
    if (impl == kNative) {
      ws_bytes = sizeof(float) * static_cast<size_t>(fer::cuda::conv2d_workspace_floats(d));
    } else if (is_tc(impl)) {
      ws_bytes = sizeof(float) * static_cast<size_t>(fer::cuda::conv2d_tc_workspace_floats(d));
    } else {
      fer::cudnn::set_tf32(impl == kCudnnTf32);
      algo = fer::cudnn::conv2d_algo(d, pass);
      ws_bytes = algo.workspace_bytes;
    }
    DeviceBuffer ws(ws_bytes);
    auto call = [&] {
      if (impl == kNative)
        run_native(o, pass, ws.f());
      else if (is_tc(impl))
        run_tc(o, pass, ws.f(), tc_prec);
      else
        run_cudnn(o, pass, ws.ptr, ws_bytes);
    };
    for (int i = 0; i < 2; ++i) call();  // warm-up
    fer::cuda::stream_synchronize(fer::cuda::default_stream());
    cudaEvent_t start, stop;
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    std::vector<double> times;
    for (auto _ : state) {
      check(cudaEventRecord(start, stream), "cudaEventRecord");
      call();
      check(cudaEventRecord(stop, stream), "cudaEventRecord");
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
    g_median[{shape_index, static_cast<int>(pass), impl}] = median;
    const double macs = static_cast<double>(d.macs());
    state.counters["TFLOP/s"] = 2.0 * macs / median / 1e12;
    state.counters["median_us"] = median * 1e6;
    state.counters["count"] = static_cast<double>(bs.shape.count);
    state.counters["tf32"] = impl == kCudnnTf32 ? 1 : 0;
    state.counters["ws_MiB"] = static_cast<double>(ws_bytes) / (1024.0 * 1024.0);
    if (impl != kNative) {
      if (!is_tc(impl)) state.counters["algo"] = algo.algo;
      // the same call on the native path, for the error counter
      // (the first 1M elements of the output: enough to catch a wrong layout or algorithm, cheap to copy)
      const int64_t checked = std::min<int64_t>(o.out_size(), 1 << 20);
      const std::vector<float> got = download(o.out(), checked);
      DeviceBuffer native_ws(sizeof(float) * static_cast<size_t>(fer::cuda::conv2d_workspace_floats(d)));
      run_native(o, pass, native_ws.f());
      state.counters["rel_err"] = rel_err(download(o.out(), checked), got);
    }
    state.SetLabel(bs.models);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- flags -----------------------------------------------------------------------------------------
struct Options {
  std::string models = "cnn6,vggnet,resnet18,unet";
  int64_t batch = 64;
  bool rmn = false;
  int64_t rmn_batch = 48;
  std::string search = "find";
  bool list = false;
  bool tc = true;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

Options parse(int& argc, char** argv) {
  Options o;
  o.models = env_or("FER_BENCH_MODELS", o.models);
  o.batch = std::stoll(env_or("FER_BENCH_BATCH", "64"));
  o.rmn = env_or("FER_BENCH_RMN", "0") == "1";
  o.rmn_batch = std::stoll(env_or("FER_BENCH_RMN_BATCH", "48"));
  g_iters = std::stoll(env_or("FER_BENCH_ITERS", "15"));
  o.search = env_or("FER_CUDNN_SEARCH", o.search);
  o.tc = env_or("FER_BENCH_TC", "1") != "0";
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--models="))
      o.models = v;
    else if (const char* v2 = value("--batch="))
      o.batch = std::stoll(v2);
    else if (const char* v3 = value("--rmn-batch="))
      o.rmn_batch = std::stoll(v3), o.rmn = true;
    else if (a == "--rmn")
      o.rmn = true;
    else if (const char* v4 = value("--iters="))
      g_iters = std::stoll(v4);
    else if (const char* v5 = value("--search="))
      o.search = v5;
    else if (const char* v6 = value("--tc="))
      o.tc = std::string(v6) != "0";
    else if (a == "--list")
      o.list = true;
    else
      argv[out++] = argv[i];
  }
  argc = out;
  return o;
}

void add_model(const std::string& name, int64_t batch) {
  const std::vector<ConvShape> shapes = fer::models::conv_shapes(name, batch);
  for (const ConvShape& s : shapes) {
    bool found = false;
    for (BenchShape& b : g_shapes)
      if (b.shape.same_geometry(s)) {
        b.shape.count += s.count;
        if (b.models.find(name) == std::string::npos) b.models += "," + name;
        found = true;
        break;
      }
    if (!found) g_shapes.push_back({s, name});
  }
}

void print_ratio_table() {
  std::printf("\nnative / cuDNN kernel time per shape (median of %lld calls; < 1: native is faster)\n",
              static_cast<long long>(g_iters));
  std::printf("%-4s %-46s %5s %-11s %11s %11s %7s %11s %7s %11s %11s %7s\n", "id", "shape", "count", "pass",
              "native_us", "fp32_us", "ratio", "tf32_us", "ratio", "tc_tf32_us", "tc_bf16_us", "tc/tf32");
  std::array<std::vector<double>, 3> fp32_ratios, tf32_ratios, tc_ratios;  // per pass
  std::array<double, 3> sum_native{}, sum_fp32{}, sum_tf32{}, sum_native_tf{}, sum_tc{}, sum_tf32_tc{};
  for (size_t i = 0; i < g_shapes.size(); ++i)
    for (int p = 0; p < 3; ++p) {
      auto get = [&](int impl) {
        auto it = g_median.find({static_cast<int>(i), p, impl});
        return it == g_median.end() ? NAN : it->second;
      };
      const double n = get(kNative), f = get(kCudnnFp32), t = get(kCudnnTf32);
      const double tt = get(kTcTf32), tb = get(kTcBf16);
      if (std::isnan(n)) continue;
      const double c = static_cast<double>(g_shapes[i].shape.count);
      if (!std::isnan(f)) fp32_ratios[p].push_back(n / f), sum_native[p] += c * n, sum_fp32[p] += c * f;
      if (!std::isnan(t)) tf32_ratios[p].push_back(n / t), sum_native_tf[p] += c * n, sum_tf32[p] += c * t;
      if (!std::isnan(t) && !std::isnan(tt))
        tc_ratios[p].push_back(tt / t), sum_tc[p] += c * tt, sum_tf32_tc[p] += c * t;
      std::printf("%-4zu %-46s %5lld %-11s %11.1f %11.1f %7.2f %11.1f %7.2f %11.1f %11.1f %7.2f\n", i,
                  g_shapes[i].shape.str().c_str(), static_cast<long long>(g_shapes[i].shape.count),
                  fer::cudnn::pass_name(static_cast<ConvPass>(p)), n * 1e6, f * 1e6, n / f, t * 1e6, n / t, tt * 1e6,
                  tb * 1e6, tt / t);
    }
  auto median = [](std::vector<double> v) -> double {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  std::vector<double> all_fp32, all_tf32;
  double tn = 0, tf = 0, tnt = 0, tt = 0;
  for (int p = 0; p < 3; ++p) {
    all_fp32.insert(all_fp32.end(), fp32_ratios[p].begin(), fp32_ratios[p].end());
    all_tf32.insert(all_tf32.end(), tf32_ratios[p].begin(), tf32_ratios[p].end());
    tn += sum_native[p], tf += sum_fp32[p], tnt += sum_native_tf[p], tt += sum_tf32[p];
  }
  std::printf("\nsummary (native / cuDNN; median over shapes | time-weighted sum(count*t) ratio)\n");
  std::printf("%-12s %16s %16s\n", "pass", "vs cudnn fp32", "vs cudnn tf32");
  for (int p = 0; p < 3; ++p)
    std::printf("%-12s %7.2f | %6.2f %7.2f | %6.2f\n", fer::cudnn::pass_name(static_cast<ConvPass>(p)),
                median(fp32_ratios[p]), sum_native[p] / sum_fp32[p], median(tf32_ratios[p]),
                sum_native_tf[p] / sum_tf32[p]);
  std::printf("%-12s %7.2f | %6.2f %7.2f | %6.2f\n", "all", median(all_fp32), tn / tf, median(all_tf32), tnt / tt);
  std::printf("\ntc_tf32 / cudnn_tf32 (equal precision; median over shapes | time-weighted)\n");
  std::vector<double> all_tc;
  double stc = 0, stf = 0;
  for (int p = 0; p < 3; ++p) {
    all_tc.insert(all_tc.end(), tc_ratios[p].begin(), tc_ratios[p].end());
    stc += sum_tc[p], stf += sum_tf32_tc[p];
    std::printf("%-12s %7.2f | %6.2f\n", fer::cudnn::pass_name(static_cast<ConvPass>(p)), median(tc_ratios[p]),
                sum_tc[p] / sum_tf32_tc[p]);
  }
  std::printf("%-12s %7.2f | %6.2f\n", "all", median(all_tc), stc / stf);
  std::printf("(issue 6 target: median native/cuDNN <= 1.0 at equal precision; native is fp32 here)\n");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conv_cuda: bad flag value (%s)\n", e.what());
    return 1;
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const bool have_device = fer::cuda::device_count() > 0;
  if (!have_device && !opt.list) {
    std::printf("skipped: no CUDA device (%s)\n", fer::cuda::no_device_reason().c_str());
    return 0;
  }
  try {
    std::stringstream models(opt.models);
    for (std::string name; std::getline(models, name, ',');) {
      if (name.empty()) continue;
      const int64_t crops = name == "vggnet" ? 10 : 1;  // vggnet trains on ten crops per image
      add_model(name, opt.batch * crops);
    }
    if (opt.rmn) add_model("rmn", opt.rmn_batch);
    fer::cudnn::set_algo_search(opt.search);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conv_cuda: %s\n", e.what());
    return 1;
  }
  int64_t transposed = 0;
  for (const BenchShape& b : g_shapes) transposed += b.shape.transposed;
  std::printf("conv shapes: %zu distinct (%lld transposed, not timed) from %s%s at batch %lld%s\n", g_shapes.size(),
              static_cast<long long>(transposed), opt.models.c_str(), opt.rmn ? ",rmn" : "",
              static_cast<long long>(opt.batch), opt.rmn ? " (rmn: --rmn-batch)" : "");
  if (opt.list) {
    for (size_t i = 0; i < g_shapes.size(); ++i)
      std::printf("%-4zu %-50s x%-3lld %8.3f GMAC  %s\n", i, g_shapes[i].shape.str().c_str(),
                  static_cast<long long>(g_shapes[i].shape.count), static_cast<double>(g_shapes[i].shape.macs()) / 1e9,
                  g_shapes[i].models.c_str());
    return 0;
  }
  std::printf("device: %s; cuDNN %s (built: %s), algorithm search: %s, %lld timed calls per benchmark\n",
              fer::cuda::device_description().c_str(), fer::kCudnnBuilt ? fer::cudnn::version().c_str() : "none",
              fer::kCudnnBuilt ? "yes" : "no", opt.search.c_str(), static_cast<long long>(g_iters));

  for (size_t i = 0; i < g_shapes.size(); ++i) {
    if (g_shapes[i].shape.transposed) continue;
    for (int p = 0; p < 3; ++p)
      for (int impl = 0; impl < 5; ++impl) {
        if (!fer::kCudnnBuilt && (impl == kCudnnFp32 || impl == kCudnnTf32)) continue;
        if (!opt.tc && is_tc(impl)) continue;
        std::ostringstream name;
        name << "conv/" << i << "/" << fer::cudnn::pass_name(static_cast<ConvPass>(p)) << "/" << kImplName[impl] << "/"
             << g_shapes[i].shape.str();
        benchmark::RegisterBenchmark(name.str().c_str(), BM_conv, static_cast<int>(i), static_cast<ConvPass>(p),
                                     static_cast<Impl>(impl))
            ->UseManualTime()
            ->Iterations(g_iters)
            ->Unit(benchmark::kMicrosecond);
      }
  }
  benchmark::RunSpecifiedBenchmarks();
  g_operands.reset();
  print_ratio_table();
  benchmark::Shutdown();
  return 0;
}
