// bench/bench_ops_cpu.cpp: the CPU twins of bench_ops_cuda's ops (BatchNorm2d training, the masking
// block, fused weighted softmax cross-entropy, residual add + ReLU fused vs unfused), forward and
// backward, float, on a few of the same shapes at 1/8 of the batch (bench/bench_ops_cases.h).
// Counters: MB (bytes per call: inputs read once + outputs written once), GB/s, and %peak against a
// std::memcpy bandwidth measured at start (64 MiB, best of 8; read + write counted, single thread: the
// OpenMP kernels may pass 100 %). The memcpy row repeats that measurement under Google Benchmark.
// Each call is timed on its own (UseManualTime); the counters come from the median call.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_ops_cases.h"
#include "kernels/activation.h"
#include "kernels/add_act.h"
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_act.h"
#include "kernels/elementwise.h"
#include "kernels/loss.h"
#include "kernels/masking.h"

namespace {

using fer::bench::Nchw;
namespace fb = fer::bench;

constexpr int64_t kBatchDiv = 8;
constexpr size_t kCopyBytes = size_t(64) << 20;
double g_peak_gbs = 0;

std::vector<float> random_floats(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = 12345u;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return v;
}

// Times every call (UseManualTime) and sets the counters from the median call.
template <typename Call>
void time_it(benchmark::State& state, double bytes, Call&& call) {
  call();  // warm-up (first touch of the outputs)
  std::vector<double> times;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(t);
    times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2], gbs = bytes / median / 1e9;
  state.counters["median_us"] = median * 1e6;
  state.counters["MB"] = bytes / 1e6;
  state.counters["GB/s"] = gbs;
  state.counters["%peak"] = 100.0 * gbs / g_peak_gbs;
}

double measure_memcpy_gbs() {
  std::vector<char> a(kCopyBytes, 1), b(kCopyBytes, 0);
  double best = 1e30;
  for (int i = 0; i < 8; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(b.data(), a.data(), kCopyBytes);
    benchmark::DoNotOptimize(b.data());
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::min(best, t);  // the first touches fresh pages
  }
  return 2.0 * kCopyBytes / best / 1e9;
}

void BM_memcpy(benchmark::State& state) {
  std::vector<char> a(kCopyBytes, 1), b(kCopyBytes, 0);
  time_it(state, 2.0 * kCopyBytes, [&] {
    std::memcpy(b.data(), a.data(), kCopyBytes);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  });
}

void BM_bn(benchmark::State& state, Nchw s, bool backward) {
  const fer::BatchNormDims d{s.n, s.c, s.h, s.w};
  const std::vector<float> x = random_floats(s.size()), dy = random_floats(s.size()), gamma = random_floats(s.c),
                           beta = random_floats(s.c);
  std::vector<float> y(x.size()), dx(x.size()), rmean(s.c, 0.f), rvar(s.c, 1.f), smean(s.c), sinv(s.c), dg(s.c),
      dbt(s.c);
  fer::cpu::batchnorm2d_forward_train<float>(d, x.data(), gamma.data(), beta.data(), 1e-5, 0.1, rmean.data(),
                                             rvar.data(), y.data(), smean.data(), sinv.data());
  time_it(state, backward ? fb::bn_backward_bytes(s) : fb::bn_forward_bytes(s), [&] {
    if (backward)
      fer::cpu::batchnorm2d_backward_train<float>(d, x.data(), dy.data(), gamma.data(), smean.data(), sinv.data(),
                                                  dx.data(), dg.data(), dbt.data());
    else
      fer::cpu::batchnorm2d_forward_train<float>(d, x.data(), gamma.data(), beta.data(), 1e-5, 0.1, rmean.data(),
                                                 rvar.data(), y.data(), smean.data(), sinv.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
  });
  state.SetLabel(s.where);
}

// BatchNorm2d + ReLU, training: one fused op (kernels/batchnorm_act.h) or batch norm then relu.
void BM_bn_relu(benchmark::State& state, Nchw s, bool backward, bool fused) {
  const fer::BatchNormDims d{s.n, s.c, s.h, s.w};
  const std::vector<float> x = random_floats(s.size()), dy = random_floats(s.size()), gamma = random_floats(s.c),
                           beta = random_floats(s.c);
  std::vector<float> z(x.size()), y(x.size()), dz(x.size()), dx(x.size()), rmean(s.c, 0.f), rvar(s.c, 1.f),
      smean(s.c), sinv(s.c), dg(s.c), dbt(s.c);
  const int64_t n = s.size();
  const auto relu = fer::Activation::relu;
  fer::cpu::batchnorm2d_forward_train<float>(d, x.data(), gamma.data(), beta.data(), 1e-5, 0.1, rmean.data(),
                                             rvar.data(), z.data(), smean.data(), sinv.data());
  time_it(state, backward ? fb::bn_relu_backward_bytes(s, fused) : fb::bn_relu_forward_bytes(s, fused), [&] {
    if (fused && !backward) {
      fer::cpu::batchnorm_act_forward_train<float>(d, relu, x.data(), gamma.data(), beta.data(), 1e-5, 0.1,
                                                   rmean.data(), rvar.data(), y.data(), smean.data(), sinv.data());
    } else if (fused) {
      fer::cpu::batchnorm_act_backward_train<float>(d, relu, x.data(), dy.data(), gamma.data(), beta.data(),
                                                    smean.data(), sinv.data(), dx.data(), dg.data(), dbt.data());
    } else if (!backward) {
      fer::cpu::batchnorm2d_forward_train<float>(d, x.data(), gamma.data(), beta.data(), 1e-5, 0.1, rmean.data(),
                                                 rvar.data(), z.data(), smean.data(), sinv.data());
      fer::cpu::activation_forward<float>(relu, n, z.data(), y.data());
    } else {
      fer::cpu::activation_backward<float>(relu, n, z.data(), y.data(), dy.data(), dz.data());
      fer::cpu::batchnorm2d_backward_train<float>(d, x.data(), dz.data(), gamma.data(), smean.data(), sinv.data(),
                                                  dx.data(), dg.data(), dbt.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
  });
  state.SetLabel(s.where);
}

void BM_masking(benchmark::State& state, Nchw s, bool backward, fer::MaskKind kind) {
  const int64_t hw = s.h * s.w;
  const std::vector<float> x = random_floats(s.size()), z = random_floats(s.size()), dy = random_floats(s.size());
  std::vector<float> y(x.size()), dx(x.size()), dz(x.size());
  time_it(state, backward ? fb::masking_backward_bytes(s) : fb::masking_forward_bytes(s), [&] {
    if (backward)
      fer::cpu::masking_backward<float>(kind, s.n, s.c, hw, x.data(), z.data(), dy.data(), dx.data(), dz.data());
    else
      fer::cpu::masking_forward<float>(kind, s.n, s.c, hw, x.data(), z.data(), y.data(), nullptr);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dz.data());
  });
  state.SetLabel(std::string(fer::mask_kind_name(kind)) + " " + s.where);
}

void BM_xent(benchmark::State& state, int64_t n, bool with_grad) {
  const int64_t k = fb::kClasses;
  const std::vector<float> logits = random_floats(n * k), weights(static_cast<size_t>(k), 1.5f);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>((i * 5) % k);
  std::vector<float> dlogits(logits.size());
  float loss = 0;
  time_it(state, fb::xent_bytes(n, with_grad), [&] {
    fer::cpu::softmax_cross_entropy<float>(n, k, logits.data(), labels.data(), weights.data(), 0.1f, &loss, nullptr,
                                           with_grad ? dlogits.data() : nullptr);
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(dlogits.data());
  });
}

void BM_add_relu(benchmark::State& state, Nchw s, bool backward, bool fused) {
  const int64_t n = s.size();
  const std::vector<int64_t> shape{s.n, s.c, s.h, s.w};
  const fer::BroadcastShape bs = fer::make_broadcast(shape, shape);
  const std::vector<float> a = random_floats(n), b = random_floats(n), dy = random_floats(n);
  std::vector<float> sum(a.size()), y(a.size()), ds(a.size()), ga(a.size()), gb(a.size());
  fer::cpu::binary_forward<float>(fer::BinaryOp::add, bs, a.data(), b.data(), sum.data());
  fer::cpu::activation_forward<float>(fer::Activation::relu, n, sum.data(), y.data());
  time_it(state, backward ? fb::add_relu_backward_bytes(s, fused) : fb::add_relu_forward_bytes(s, fused), [&] {
    if (fused && !backward) {
      fer::cpu::add_act_forward<float>(fer::Activation::relu, n, a.data(), b.data(), y.data(), nullptr);
    } else if (fused) {
      fer::cpu::add_act_backward<float>(fer::Activation::relu, n, nullptr, y.data(), dy.data(), ga.data());
    } else if (!backward) {
      fer::cpu::binary_forward<float>(fer::BinaryOp::add, bs, a.data(), b.data(), sum.data());
      fer::cpu::activation_forward<float>(fer::Activation::relu, n, sum.data(), y.data());
    } else {
      fer::cpu::activation_backward<float>(fer::Activation::relu, n, sum.data(), y.data(), dy.data(), ds.data());
      fer::cpu::binary_backward<float>(fer::BinaryOp::add, bs, nullptr, nullptr, ds.data(), ga.data(), gb.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(ga.data());
  });
  state.SetLabel(s.where);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_peak_gbs = measure_memcpy_gbs();
  std::printf(
      "memcpy (one thread, 64 MiB, read + write): %.2f GB/s (the 100%% of %%peak); batch 1/%lld of the GPU "
      "bench\n",
      g_peak_gbs, static_cast<long long>(kBatchDiv));
  auto reg = [](std::string name, auto fn, auto... args) {
    std::replace(name.begin(), name.end(), ' ', '_');
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)->UseManualTime()->Unit(benchmark::kMicrosecond);
  };
  reg("memcpy/64MiB", BM_memcpy);
  const std::vector<Nchw> bn = fb::bn_shapes(kBatchDiv), stages = fb::rmn_stage_shapes(kBatchDiv);
  for (size_t i : {0, 4, 7, 10})  // vggnet conv1, cnn6 c1, rmn layer1, rmn layer4
    for (bool bwd : {false, true})
      reg(std::string("bn/") + (bwd ? "backward/" : "forward/") + bn[i].str(), BM_bn, bn[i], bwd);
  for (size_t i : {0, 4, 7})  // vggnet conv1, cnn6 c1, rmn layer1
    for (bool bwd : {false, true})
      for (bool fused : {true, false})
        reg(std::string("bn_relu/") + (bwd ? "backward" : "forward") + (fused ? "/fused/" : "/unfused/") +
                bn[i].str(),
            BM_bn_relu, bn[i], bwd, fused);
  for (size_t i : {0, 2})
    for (fer::MaskKind kind : {fer::MaskKind::softmax, fer::MaskKind::sigmoid})
      for (bool bwd : {false, true})
        reg(std::string("masking/") + (bwd ? "backward/" : "forward/") + fer::mask_kind_name(kind) + "/" +
                stages[i].str(),
            BM_masking, stages[i], bwd, kind);
  for (int64_t n : {int64_t(128), int64_t(640)})
    for (bool grad : {false, true})
      reg(std::string("xent/") + (grad ? "loss+grad/" : "loss/") + std::to_string(n) + "x7", BM_xent, n, grad);
  for (size_t i : {0, 2})
    for (bool bwd : {false, true})
      for (bool fused : {true, false})
        reg(std::string("add_relu/") + (bwd ? "backward" : "forward") + (fused ? "/fused/" : "/unfused/") +
                stages[i].str(),
            BM_add_relu, stages[i], bwd, fused);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
