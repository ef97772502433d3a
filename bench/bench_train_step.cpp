// bench/bench_train_step.cpp: whole training steps, images/s and peak memory (issue 6), for the
// models of the report: cnn6, vggnet (ten-crop batches: B images -> 10 B crops), resnet18, unet
// (the attention U-Net classifier) and rmn (224x224x3).
//
// One step is what fertrain does per batch (tools/common/trainer.cpp), with the batch made once
// beforehand (synthetic faces, data::make_batch / make_ten_crop_batch, so data loading is not timed):
//   logits = model(images); loss = cross_entropy(logits, labels); loss.backward();
//   optimizer.step() (SGD, lr 0.01, momentum 0.9: the PyTorch twins in bench/peers/ use the same);
//   optimizer.zero_grad()
// followed by a device synchronisation (wall time per step, UseRealTime). On CUDA each model runs
// twice: launched kernel by kernel (impl "fer") and captured once as a CUDA graph then replayed
// (impl "fer-graph", nn/step_graph.h; the warm-up steps include the capture); --no-graph skips that. Warm-up steps run first
// (the caching allocator fills, cuDNN-free native path), then the peak statistics are reset.
// Counters: images/s (source images; vggnet's crops are 10 per image), inputs/s (what the model
// saw), step_ms, and on CUDA peak_MiB / reserved_MiB from the caching allocator (peak of live
// bytes during the timed steps, parameters and optimizer state included: compare with PyTorch's
// torch.cuda.max_memory_allocated()).
//
// Defaults: CPU always, a couple of steps at small batches (batch 4; vggnet 2 images; rmn only with
// --rmn); CUDA when a device exists (else "skipped: no CUDA device (...)"): batch 64 (vggnet 64
// images = 640 crops), rmn at batch 48, 20 timed steps (rmn 5).
//   --batch=N (FER_BENCH_BATCH)  CUDA batch of the 48x48 models     --rmn-batch=N (FER_BENCH_RMN_BATCH)
//   --cpu-batch=N                CPU batch                           --iters=N  timed CUDA steps
//   --models=a,b,...             subset (FER_BENCH_MODELS)           --rmn      also rmn on the CPU (FER_BENCH_RMN=1)
//   --no-cpu / --no-cuda         skip a device                       --csv=FILE the summary table as CSV
//   --no-graph                   no CUDA-graph variant
// The summary table at the end has the columns of bench/peers/train_step_torch.py's CSV.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/synthetic.h"
#include "fer/config.h"
#include "kernels/device.h"
#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"
#include "nn/step_graph.h"
#include "tensor/allocator.h"
#include "tensor/rng.h"
#include "tensor/ops.h"

namespace {

using fer::Device;

struct Row {  // one line of the summary / CSV
  std::string impl, model, device;
  int64_t batch = 0, inputs = 0;
  double images_per_s = 0, step_ms = 0, peak_mib = -1;
};
std::vector<Row> g_rows;

void synchronize(Device device) {
  if constexpr (fer::kCudaBuilt) {
    if (device == Device::cuda) fer::cuda::stream_synchronize(fer::cuda::default_stream());
  }
}

void BM_train_step(benchmark::State& state, std::string model_name, Device device, int64_t batch, int64_t warmup,
                   bool graph) {
  try {
    const fer::models::ModelSpec& spec = fer::models::find_model(model_name);
    const bool ten_crop = model_name == "vggnet";
    // data: `batch` synthetic faces on the device, one batch made once
    const fer::data::Dataset ds = fer::data::make_synthetic_faces(batch, 7);
    const fer::data::DeviceImages images(ds, device);
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < batch; ++i) indices.push_back(i);
    const fer::data::InputSpec input{spec.input_channels, spec.input_size};
    const fer::data::AugmentOptions none{fer::augment_preset("none"), 0, 7, 0.0f, 1.0f};
    const fer::data::Batch b = ten_crop ? fer::data::make_ten_crop_batch(images, indices, input, none)
                                        : fer::data::make_batch(images, indices, input);
    // model and optimizer as run_training builds them
    fer::nn::ModulePtr model = fer::models::build_model(model_name, {7, 1.0, ""});  // the synthetic labels are fer7
    model->to(device);
    model->train();
    fer::nn::FlatParameters flat(*model);
    fer::nn::OptimizerOptions o;
    o.lr = 0.01;
    o.momentum = 0.9;
    std::unique_ptr<fer::nn::Optimizer> optimizer = fer::nn::make_optimizer("sgd", flat, o);
    // the step minus the optimizer's host half (prepare_step), as nn::StepGraph wants it
    const fer::nn::StepGraph::Body body = [&](const fer::Tensor& images, const fer::Tensor& labels) {
      const fer::Tensor logits = (*model)(images);
      const fer::Tensor loss = fer::ops::cross_entropy(logits, labels);
      loss.backward();
      optimizer->apply_step();
      optimizer->zero_grad();
      return fer::nn::StepGraph::Outputs{loss.detach(), fer::Tensor(), fer::Tensor()};
    };
    std::unique_ptr<fer::nn::StepGraph> runner;
    if (graph) runner = std::make_unique<fer::nn::StepGraph>(*optimizer, fer::default_generator(), body);
    auto step = [&] {
      if (runner) {
        runner->run(b.images, b.labels);
      } else {
        optimizer->prepare_step();
        body(b.images, b.labels);
      }
      synchronize(device);
    };
    for (int64_t i = 0; i < warmup; ++i) step();
    if (device == Device::cuda) fer::reset_peak_stats(device);
    for (auto _ : state) step();
    const int64_t inputs = b.images.size(0);
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["inputs/s"] = benchmark::Counter(static_cast<double>(inputs), benchmark::Counter::kIsIterationInvariantRate);
    Row row{graph ? "fer-graph" : "fer", model_name, device == Device::cuda ? "cuda" : "cpu", batch, inputs, 0, 0, -1};
    if (device == Device::cuda) {
      const fer::AllocatorStats s = fer::allocator_stats(device);
      row.peak_mib = static_cast<double>(s.peak_allocated_bytes) / (1024.0 * 1024.0);
      state.counters["peak_MiB"] = row.peak_mib;
      state.counters["reserved_MiB"] = static_cast<double>(s.reserved_bytes) / (1024.0 * 1024.0);
    }
    std::ostringstream label;
    label << model_name << " " << row.device << " batch " << batch;
    if (ten_crop) label << " (" << inputs << " crops)";
    label << ", " << model->parameter_count() << " params, sgd";
    if (runner) label << ", cuda graph (" << runner->graph_nodes() << " nodes)";
    state.SetLabel(label.str());
    g_rows.push_back(row);  // the rates are filled in from the reporter's times below
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  if (device == Device::cuda) fer::empty_cache(device);
}

// Fills images/s and step_ms of g_rows from the run reports (real time per iteration).
class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred || r.iterations == 0) continue;
      const double seconds = r.real_accumulated_time / static_cast<double>(r.iterations);
      for (Row& row : g_rows)
        if (row.step_ms == 0 && r.report_label.rfind(row.model + " " + row.device + " ", 0) == 0) {
          row.step_ms = seconds * 1e3;
          row.images_per_s = static_cast<double>(row.batch) / seconds;
          break;
        }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string models = env_or("FER_BENCH_MODELS", "cnn6,vggnet,resnet18,unet,rmn"), csv;
  int64_t batch = 64, cpu_batch = 4, rmn_batch = 48, iters = 20;
  bool cpu_rmn = env_or("FER_BENCH_RMN", "0") == "1", no_cpu = false, no_cuda = false, no_graph = false;
  try {
    batch = std::stoll(env_or("FER_BENCH_BATCH", "64"));
    rmn_batch = std::stoll(env_or("FER_BENCH_RMN_BATCH", "48"));
    int out = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&](const char* flag) -> const char* {
        const size_t n = std::strlen(flag);
        return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
      };
      if (const char* v = value("--batch="))
        batch = std::stoll(v);
      else if (const char* v2 = value("--cpu-batch="))
        cpu_batch = std::stoll(v2);
      else if (const char* v3 = value("--rmn-batch="))
        rmn_batch = std::stoll(v3);
      else if (const char* v4 = value("--iters="))
        iters = std::stoll(v4);
      else if (const char* v5 = value("--models="))
        models = v5;
      else if (const char* v6 = value("--csv="))
        csv = v6;
      else if (a == "--rmn")
        cpu_rmn = true;
      else if (a == "--no-cpu")
        no_cpu = true;
      else if (a == "--no-cuda")
        no_cuda = true;
      else if (a == "--no-graph")
        no_graph = true;
      else
        argv[out++] = argv[i];
    }
    argc = out;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: bad flag value (%s)\n", e.what());
    return 1;
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::vector<std::string> names;
  {
    std::stringstream s(models);
    for (std::string n; std::getline(s, n, ',');)
      if (!n.empty()) names.push_back(n);
  }
  bool cuda = false;
  if constexpr (fer::kCudaBuilt) {
    if (!no_cuda) {
      cuda = fer::cuda::device_count() > 0;
      if (cuda)
        std::printf("CUDA device: %s\n", fer::cuda::device_description().c_str());
      else
        std::printf("skipped: no CUDA device (%s); CPU steps only\n", fer::cuda::no_device_reason().c_str());
    }
  } else {
    std::printf("skipped: no CUDA device (CUDA backend not built); CPU steps only\n");
  }
  auto add = [&](const std::string& name, Device device, int64_t b, int64_t n_iters, int64_t warmup, bool graph) {
    std::ostringstream id;
    id << "train_step/" << name << "/" << (device == Device::cuda ? "cuda" : "cpu") << "/batch:" << b
       << (graph ? "/graph" : "");
    benchmark::RegisterBenchmark(id.str().c_str(), BM_train_step, name, device, b, warmup, graph)
        ->UseRealTime()
        ->Iterations(n_iters)
        ->Unit(benchmark::kMillisecond);
  };
  for (const std::string& name : names) {
    const bool rmn = name == "rmn";
    if (!no_cpu && (!rmn || cpu_rmn)) add(name, Device::cpu, rmn ? 1 : name == "vggnet" ? 2 : cpu_batch, 2, 1, false);
    if (cuda) {
      const int64_t b = rmn ? rmn_batch : batch, n = rmn ? std::max<int64_t>(1, iters / 4) : iters;
      add(name, Device::cuda, b, n, 3, false);
      if (!no_graph) add(name, Device::cuda, b, n, 3, true);
    }
  }
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  std::ostringstream table;
  table << "impl,model,device,precision,batch,inputs,images_per_s,step_ms,peak_mib\n";
  for (const Row& r : g_rows) {
    char line[256];
    std::snprintf(line, sizeof line, "%s,%s,%s,fp32,%lld,%lld,%.1f,%.3f,%.1f\n", r.impl.c_str(), r.model.c_str(),
                  r.device.c_str(),
                  static_cast<long long>(r.batch), static_cast<long long>(r.inputs), r.images_per_s, r.step_ms,
                  r.peak_mib);
    table << line;
  }
  std::printf("\nwhole training step (peak_mib -1: not measured on the CPU)\n%s", table.str().c_str());
  if (!csv.empty()) {
    std::ofstream f(csv);
    f << table.str();
    if (!f) {
      std::fprintf(stderr, "bench_train_step: cannot write %s\n", csv.c_str());
      return 1;
    }
  }
  benchmark::Shutdown();
  return 0;
}
