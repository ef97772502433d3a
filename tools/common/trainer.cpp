// tools/common/trainer.cpp: see trainer.h. Read run_training() first. What it builds from the config
// before the first step (optimizer, schedule, --init-from, the --freeze stages) is run_setup.h; one
// training step (forward, loss, backward, clipping, update, with --trace and --detect-anomaly) is
// train_step.h; the resume state and the last/best checkpoint files are run_state.h; the end-of-run
// evaluation files are split_evaluation.h; the --trace tables are step_trace.h.
#include "tools/common/trainer.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "data/loader.h"
#include "data/preview.h"
#include "data/sampler.h"
#include "fer/config.h"
#include "kernels/device.h"
#include "kernels/precision.h"
#include "models/registry.h"
#include "nn/atomic_file.h"
#include "nn/checkpoint.h"
#include "nn/flat_params.h"
#include "nn/layers.h"
#include "nn/lr_schedule.h"
#include "nn/metrics.h"
#include "nn/optimizer.h"
#include "nn/step_graph.h"
#include "nn/safetensors.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tools/common/build_info.h"
#include "tools/common/charts.h"
#include "tools/common/evaluate.h"
#include "tools/common/progress.h"
#include "tools/common/recipes.h"
#include "tools/common/reconstruction.h"
#include "tools/common/report_html.h"
#include "tools/common/run_log.h"
#include "tools/common/run_setup.h"
#include "tools/common/run_state.h"
#include "tools/common/split_evaluation.h"
#include "tools/common/train_data.h"
#include "tools/common/train_step.h"

namespace fer::tools {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};
std::atomic<int64_t> g_stop_after_steps{0};

// SIGINT (Ctrl-C) and SIGTERM (timeout, Slurm, docker stop, kill): stop at the next step boundary.
extern "C" void on_stop_signal(int signo) {
  g_stop_signal.store(signo);
  g_stop_requested.store(true);
  std::signal(signo, SIG_DFL);  // a second signal of the same kind kills the process
}

// Installs on_stop_signal for SIGINT and SIGTERM for the lifetime of the object, then restores the
// handlers that were there before.
class StopSignals {
 public:
  StopSignals() : int_(std::signal(SIGINT, on_stop_signal)), term_(std::signal(SIGTERM, on_stop_signal)) {}
  ~StopSignals() {
    std::signal(SIGINT, int_);
    std::signal(SIGTERM, term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*int_)(int);
  void (*term_)(int);
};

const char* signal_name(int signo) { return signo == SIGTERM ? "SIGTERM" : "SIGINT"; }

// ---- small formatting helpers -------------------------------------------------------------------

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << 100.0 * v << "%";
  return s.str();
}

std::string default_run_dir(const TrainConfig& c) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return (fs::path("runs") / (c.model + "-" + stamp)).string();
}

// --dry-run: what the run would do, and (--preview) what its first batches look like. Stops before the
// run folder exists.
TrainSummary dry_run(const TrainConfig& config, const RunOptions& options, const TrainData& td,
                     const data::Sampler& sampler, const AugmentSpec& augment,
                     const std::function<void(const std::string&)>& say) {
  const int64_t n_train = sampler.epoch_size();
  const int64_t steps = n_train / config.batch_size + (n_train % config.batch_size > 1 ? 1 : 0);
  std::ostringstream s;
  s << "dry run:   " << n_train << " training images per epoch, " << steps << " steps of " << config.batch_size
    << ", " << config.epochs << " epochs = " << steps * config.epochs << " steps; nothing trained, no run folder written";
  say(s.str());
  TrainSummary summary;
  summary.stop_reason = "dry run";
  if (options.preview.empty()) return summary;
  constexpr int kPerClass = 8;
  std::vector<int> taken(static_cast<size_t>(td.dataset.num_classes()), 0);
  std::vector<int64_t> picked;
  for (int64_t i : sampler.epoch(0))
    if (taken[static_cast<size_t>(td.dataset.labels[static_cast<size_t>(i)])]++ < kPerClass) picked.push_back(i);
  const data::DeviceImages images(td.dataset, Device::cpu);
  const data::InputSpec gray48{1, data::kImageSide};
  const data::Batch batch =
      augment.is_identity()
          ? data::make_batch(images, picked, gray48)
          : data::make_batch(images, picked, gray48, data::AugmentOptions{augment, 0, config.seed, 0.0f, 1.0f});
  const std::vector<float> values = batch.images.to_vector<float>();
  data::Dataset shown;
  shown.classes = td.dataset.classes;
  std::vector<uint8_t> pixels(data::kImagePixels);
  for (size_t b = 0; b < picked.size(); ++b) {
    for (int64_t k = 0; k < data::kImagePixels; ++k)
      pixels[static_cast<size_t>(k)] = static_cast<uint8_t>(
          std::lround(std::clamp(values[b * data::kImagePixels + static_cast<size_t>(k)], 0.0f, 1.0f) * 255.0f));
    const size_t i = static_cast<size_t>(picked[b]);
    shown.push_back(pixels.data(), td.dataset.labels[i], td.dataset.splits[i], td.dataset.sources[i]);
  }
  data::write_class_grid_png(shown, options.preview, kPerClass, 2);
  say("preview:   " + options.preview + " (the first " + std::to_string(kPerClass) +
      " training images of each class in epoch 1's order, " +
      (augment.is_identity() ? std::string("no augmentation") : std::string("augmented as the step sees them")) +
      "; one row per class: " + [&] {
        std::ostringstream names;
        for (const std::string& n : td.dataset.classes.names) names << (names.tellp() ? ", " : "") << n;
        return names.str();
      }() + ")");
  return summary;
}

}  // namespace

void request_stop() { g_stop_requested.store(true); }
void request_stop_after_steps(int64_t steps) { g_stop_after_steps.store(steps); }

TrainSummary run_training(const TrainConfig& config, std::FILE* out, const RunOptions& options) {
  validate(config);
  const auto run_start = std::chrono::steady_clock::now();
  auto say = [&](const std::string& line) {
    std::fputs(line.c_str(), out);
    std::fputc('\n', out);
    std::fflush(out);
  };
  // The matmul precision of the whole run (training, validation, the final evaluation), restored on
  // return; parameters, gradients, optimizer state and statistics stay fp32 (kernels/precision.h).
  const MathPrecisionScope precision_scope(parse_math_precision(config.precision));
  if (config.threads > 0) omp_set_num_threads(config.threads);

  // 1. device
  const Device device = config.device == "cuda" ? Device::cuda : Device::cpu;
  std::ostringstream head;
  std::string device_text;  // also recorded in summary.json's provenance
  if (device == Device::cuda) {
    FER_CHECK(kCudaBuilt, "--device cuda: this build has no CUDA (configured with FER_CUDA=OFF or without nvcc)");
    FER_CHECK(cuda::device_count() > 0, "--device cuda: " << cuda::no_device_reason() << "; hint: --device cpu");
    device_text = cuda::device_description(0) + " (build archs " + kCudaArchitectures + ")";
  } else {
    device_text = "cpu, " + std::to_string(omp_get_max_threads()) + " threads, GEMM " + kCpuGemm;
  }
  const nlohmann::json build = provenance(device_text);
  head << "build:     fer " << kVersion << ", commit " << build_commit() << ", " << compiler_text() << "\n";
  head << "device:    " << device_text << (device == Device::cpu ? " (" + cpu_model() + ")" : std::string()) << "\n";
  ops::set_conv_impl(ops::conv_impl_from_name(config.conv_impl));  // validate() allows cudnn only on CUDA
  nn::set_fusion(config.fuse != "off");                            // validate() allows on | off
  head << "precision: " << config.precision;
  if (config.precision != "fp32")
    head << (device == Device::cuda ? " (tensor cores: matmul operands rounded to "
                                    : " (CPU emulation of the tensor-core numerics: matmul operands rounded to ")
         << config.precision << ", fp32 accumulation, fp32 master weights)";
  head << ", seed " << config.seed;
  if (config.conv_impl != "native") head << ", conv " << config.conv_impl;
  // How often the step metrics come back to the host: every step on the CPU (free there), every 50
  // on CUDA so that the device runs ahead of the host; --detect-anomaly checks every step.
  const int64_t sync_every = config.detect_anomaly ? 1
                             : config.sync_every > 0 ? config.sync_every
                                                     : (device == Device::cuda ? 50 : 1);
  if (sync_every != 1) head << ", metrics read every " << sync_every << " steps";
  head << ", bn+act fusion " << config.fuse;
  if (config.cuda_graph == "on") head << ", cuda graph on";
  say(head.str());

  // 2. data
  const TrainData td = load_train_data(config);
  say(describe_train_data(td));
  FER_CHECK(!td.plan.train.empty(), "no training images");
  const std::vector<std::string>& class_names = td.dataset.classes.names;
  FER_CHECK(!td.plan.val.empty() || config.scheduler.find("plateau") == std::string::npos,
            "--scheduler " << config.scheduler << " watches a validation metric, but --val " << config.val
                           << " leaves no validation images; hint: --val split:0.1");
  FER_CHECK(!td.plan.val.empty() || config.early_stop_patience == 0,
            "--early-stop needs validation images, but --val " << config.val << " leaves none");

  // 3. model
  const models::ModelSpec& spec = models::find_model(config.model);
  // The task follows the model: a classifier trains with cross-entropy (or focal loss) against the
  // labels; a reconstruction model (default_classes 0: R003's autoencoder) with the mean squared error
  // against its own input batch (reconstruction.h), and its "accuracy" figures are missing (NaN).
  const bool reconstruction = spec.default_classes == 0;
  if (reconstruction) {
    FER_CHECK(config.loss != "focal" && !config.weighted_loss && config.label_smoothing == 0.0,
              "--model " << spec.name << " is trained on its reconstruction error (MSE against the input): "
                         << "--loss focal, --weighted-loss and --label-smoothing do not apply; hint: leave them out");
    FER_CHECK(config.plateau_metric == "val_loss" || config.scheduler.find("plateau") == std::string::npos,
              "--plateau-metric val_acc: --model " << spec.name << " has no accuracy; hint: --plateau-metric val_loss");
    FER_CHECK(config.early_stop_metric == "val_loss" || config.early_stop_patience == 0,
              "--early-stop-metric val_acc: --model " << spec.name
                                                      << " has no accuracy; hint: --early-stop-metric val_loss");
  } else {
    FER_CHECK(config.loss != "mse", "--loss mse is the reconstruction loss of an autoencoder; --model "
                                        << spec.name << " is a classifier; hint: --loss ce");
  }
  manual_seed(config.seed);
  Generator& gen = default_generator();
  nn::ModulePtr model = models::build_model(config.model, {td.dataset.num_classes(), config.width, config.model_variant});
  const int64_t macs = models::count_forward_macs(*model, spec.input_channels, spec.input_size);
  model->to(device);
  if (!config.init_from.empty()) say(load_initial_weights(config, *model, td.dataset.classes.id));
  {
    std::ostringstream s;
    s << "model:     " << spec.name << " (" << spec.source << "), width " << config.width << ", "
      << model->parameter_count() << " parameters, " << std::fixed << std::setprecision(1) << macs / 1e6
      << " M MACs per image, input " << spec.input_channels << "x" << spec.input_size << "x" << spec.input_size;
    say(s.str());
  }
  const data::InputSpec input{spec.input_channels, spec.input_size};
  if (!config.freeze.empty()) {  // checks the paths now; the loop sets each epoch's state
    const int64_t frozen = set_modules_trainable(*model, config.freeze, false);
    std::ostringstream s;
    s << "stages:    " << config.freeze << " frozen (" << frozen << " parameters) ";
    if (config.unfreeze_epoch > 0 && config.unfreeze_every > 0) {
      s << "; gradual unfreezing, last listed first, one module every " << config.unfreeze_every << " epochs from epoch "
        << config.unfreeze_epoch << "; everything trains from epoch " << last_unfreeze_epoch(config);
      if (config.unfreeze_lr > 0) s << " (lr x " << config.unfreeze_lr / config.lr << " from epoch " << config.unfreeze_epoch << ")";
    } else if (config.unfreeze_epoch > 0) {
      s << "until epoch " << config.unfreeze_epoch << ", then everything trains";
      if (config.unfreeze_lr > 0) s << " at lr x " << config.unfreeze_lr / config.lr << " (unfreeze lr " << config.unfreeze_lr << ")";
    } else {
      s << "for the whole run";
    }
    say(s.str());
  }

  // 4. optimisation
  nn::FlatParameters flat(*model);
  std::unique_ptr<nn::Optimizer> optimizer = make_run_optimizer(config, flat);
  std::unique_ptr<nn::LrScheduler> scheduler = make_run_scheduler(config);
  const bool early_on_loss = config.early_stop_metric == "val_loss";
  nn::EarlyStopping early_stop(early_on_loss ? "min" : "max", std::max<int64_t>(config.early_stop_patience, 1), 0.0);
  Tensor class_weights;
  if (config.weighted_loss) {
    std::vector<float> w(td.weights.weights.begin(), td.weights.weights.end());
    class_weights = Tensor::from_vector(w, {static_cast<int64_t>(w.size())}).to(device);
  }
  const data::Sampler sampler(data::sampler_from_name(config.sampler), td.plan.train, td.dataset.labels,
                              td.dataset.num_classes(), config.seed);
  // --cuda-graph on: the step below, from the forward to the metrics, captured once and replayed
  // (nn/step_graph.h). The body is the uncaptured step's code minus its host-side checks, which
  // --cuda-graph on excludes (--sync-every 1, --trace, --detect-anomaly).
  // The step's loss; reconstruction: the target is the very batch the model saw (augmented too, when
  // augmentation is on).
  const StepLossFn step_loss = [&](const Tensor& logits, const Tensor& images, const Tensor& labels) {
    return reconstruction ? ops::mse_loss(logits, images)
           : config.loss == "focal"
               ? ops::focal_loss(logits, labels, config.focal_gamma, class_weights)
               : ops::cross_entropy(logits, labels, class_weights, config.label_smoothing);
  };
  std::unique_ptr<nn::StepGraph> step_graph;
  if (config.cuda_graph == "on") {
    step_graph = std::make_unique<nn::StepGraph>(
        *optimizer, default_generator(), [&](const Tensor& images, const Tensor& labels) {
          const Tensor logits = (*model)(images);
          const Tensor loss = step_loss(logits, images, labels);
          loss.backward();
          nn::StepGraph::Outputs out;
          out.norm = config.grad_clip > 0 ? nn::clip_grad_norm_tensor(flat, config.grad_clip)
                                          : nn::grad_norm_tensor(flat);
          optimizer->apply_step();
          optimizer->zero_grad();
          out.loss = loss.detach();
          if (!reconstruction) out.correct = ops::count_correct(logits.detach(), labels);
          return out;
        });
  }
  // Augmentation (training batches only): --hflip p 0.5, --rotate U(-DEG, DEG), --translate U(-PX, PX)
  // pixels of the 48-pixel side; image i of epoch e is keyed by augment_key(e, i) under the run's seed.
  AugmentSpec augment = config.augment.empty() ? AugmentSpec{} : augment_preset(config.augment);
  if (config.hflip) augment.hflip = true;
  if (config.rotate_deg > 0) augment.rotate_deg = config.rotate_deg;
  if (config.translate_px > 0) augment.translate = config.translate_px / static_cast<double>(data::kImageSide);
  FER_CHECK(!config.ten_crop || input.size < data::kImageSide,
            "--ten-crop needs a model whose input is smaller than " << data::kImageSide << "x" << data::kImageSide
                                                                    << " (e.g. vggnet, 40x40); " << config.model << " takes "
                                                                    << input.size << "x" << input.size);
  check_augment_spec("fertrain augmentation", augment);
  if (!augment.is_identity() || config.ten_crop) {
    std::ostringstream a;
    a << "augment:   " << (config.augment.empty() ? std::string("flags") : config.augment);
    if (augment.hflip) a << ", flip";
    if (augment.rotate_deg > 0) a << ", rotate +-" << augment.rotate_deg << " deg (p " << augment.rotate_p << ")";
    if (augment.translate > 0) a << ", translate +-" << augment.translate * data::kImageSide << " px (p " << augment.translate_p << ")";
    if (augment.scale_min != 1.0 || augment.scale_max != 1.0) a << ", resized crop " << augment.scale_min << "-" << augment.scale_max;
    if (augment.erase_p > 0) a << ", erasing p " << augment.erase_p << (config.ten_crop ? " per crop" : "");
    if (config.ten_crop) a << "; ten crops of " << input.size << "x" << input.size << " per image (batch " << config.batch_size
                           << " = " << config.batch_size * 10 << " crops), validation on the mean of the crops' logits";
    say(a.str());
  }

  if (options.dry_run) return dry_run(config, options, td, sampler, augment, say);

  // 5. run folder, resume
  const fs::path dir = !config.resume.empty() ? fs::path(config.resume)
                       : !config.out.empty()  ? fs::path(config.out)
                                              : fs::path(default_run_dir(config));
  fs::create_directories(dir);
  RunState state;
  MetricsLog log(dir.string());
  if (!config.resume.empty()) {
    // a run killed mid-write (SIGKILL) may have left a temporary file beside the intact ones
    if (const int stale = remove_stale_temp_files(dir.string()); stale > 0)
      say("resume:    removed " + std::to_string(stale) + " unfinished temporary file(s) of the interrupted run");
    state = load_last(dir, *model, *optimizer, gen);
    const std::string plan_now = data_plan_fingerprint(td);
    FER_CHECK(state.data_plan.empty() || state.data_plan == plan_now,
              "--resume " << dir.string() << ": the run's images changed since it started (was " << state.data_plan
                          << "; now " << plan_now << "); hint: the data folder, the --exclude file or the fer "
                          << "version differ from the run's, so it would train or validate on other images; start "
                          << "a new run");
    scheduler->load_state(state.scheduler);
    early_stop.load_state(state.early_stop);
    log = MetricsLog::load(dir.string());
    log.truncate(state.epoch);  // epochs after the checkpoint are run again
    std::ostringstream s;
    s << "resume:    " << dir.string() << " at epoch " << state.epoch + 1 << ", step " << state.step;
    if (reconstruction)
      s << " (best val MSE so far " << (state.best_epoch > 0 ? exact_text(state.best_val_loss) : std::string("none")) << ")";
    else
      s << " (best val acc so far " << percent(std::max(0.0, state.best_val_acc)) << ")";
    say(s.str());
  }
  state.data_plan = data_plan_fingerprint(td);
  nn::write_file_atomic((dir / "config.json").string(), to_json(config).dump(2) + "\n");
  say("output:    " + dir.string());

  const data::DeviceImages images(td.dataset, device);
  g_stop_requested.store(false);
  g_stop_signal.store(0);
  const StopSignals stop_signals;

  Progress progress(config.progress, out);
  TrainSummary summary;
  summary.run_dir = dir.string();
  summary.stop_reason = "completed";
  const int64_t n_train = sampler.epoch_size();
  // A final batch of one image is dropped: BatchNorm cannot train on a single value per channel.
  const int64_t steps_per_epoch = n_train / config.batch_size + (n_train % config.batch_size > 1 ? 1 : 0);

  // 6. the epochs
  int64_t steps_this_process = 0;
  const double nan_value = std::numeric_limits<double>::quiet_NaN();
  for (int64_t epoch = state.epoch; epoch < config.epochs; ++epoch) {
    model->train(true);
    // stages: the freeze state and lr scale follow from the epoch alone, so a resumed run gets them too
    const bool unfrozen = config.unfreeze_epoch > 0 && epoch + 1 >= config.unfreeze_epoch;
    if (!config.freeze.empty()) {
      const std::string frozen = frozen_modules_at(config, epoch + 1);
      const std::string frozen_before = frozen_modules_at(config, epoch);
      set_modules_trainable(*model, config.freeze, true);
      if (!frozen.empty()) set_modules_trainable(*model, frozen, false);
      if (frozen != frozen_before && epoch + 1 >= config.unfreeze_epoch && state.step == 0) {
        // the modules released now: those frozen before and not any more
        const std::vector<std::string> before = split_module_paths(frozen_before);
        const size_t still = frozen.empty() ? 0 : split_module_paths(frozen).size();
        std::ostringstream released;
        for (size_t i = still; i < before.size(); ++i) released << (i > still ? "," : "") << before[i];
        say("epoch " + std::to_string(epoch + 1) + ": unfreezing " + released.str() +
            (frozen.empty() ? std::string() : " (still frozen: " + frozen + ")"));
        // the fine-tuning stage is a fresh fit: early stopping counts from here
        early_stop = nn::EarlyStopping(early_on_loss ? "min" : "max", std::max<int64_t>(config.early_stop_patience, 1), 0.0);
      }
    }
    const double lr_scale = unfrozen && config.unfreeze_lr > 0 ? config.unfreeze_lr / config.lr : 1.0;
    optimizer->set_lr(scheduler->lr() * lr_scale);
    const std::vector<int64_t> order = sampler.epoch(epoch);
    EpochTally tally = state.step > 0 ? state.partial : EpochTally{};
    const auto epoch_start = std::chrono::steady_clock::now();
    const double seconds_before = tally.seconds;
    progress.start_epoch(epoch + 1, config.epochs, steps_per_epoch, state.step, tally.seen);
    std::vector<PendingStep> pending;
    auto check_loss = [&](int64_t at_epoch, int64_t at_step, double value, bool deferred) {
      if (std::isfinite(value)) return;
      std::ostringstream s;
      s << "training stopped: the loss is " << value << " at epoch " << at_epoch + 1 << ", step " << at_step + 1
        << " of " << steps_per_epoch << " (lr " << optimizer->lr() << "); hint: lower --lr, or set --grad-clip";
      if (deferred)
        s << "; metrics are checked every " << sync_every << " steps, --sync-every 1 stops before the update";
      FER_FAIL(s.str());
    };
    // Reads the pending steps' metrics, checks them and adds them to the tally, in step order.
    auto flush = [&] {
      for (const PendingStep& p : pending) {
        const double loss_value = p.checked ? p.loss_value : p.loss.item();
        if (!p.checked) {
          check_loss(p.epoch, p.step, loss_value, true);
          const double norm = p.norm.item();
          FER_CHECK(std::isfinite(norm), "training stopped at epoch "
                                             << p.epoch + 1 << ", step " << p.step + 1
                                             << ": the gradient norm is not finite (loss " << loss_value
                                             << "); hint: lower --lr, set --grad-clip, or rerun with --sync-every 1 "
                                             << "(names the parameter) or --detect-anomaly (names the op)");
        }
        if (p.correct.defined()) tally.correct += static_cast<int64_t>(p.correct.item());
        tally.loss_sum += loss_value * static_cast<double>(p.images);
        tally.seen += p.images;
        progress.step(p.step + 1, tally.mean_loss(), reconstruction ? nan_value : tally.accuracy(), tally.seen);
      }
      pending.clear();
    };
    for (int64_t step = state.step; step < steps_per_epoch; ++step) {
      const size_t begin = static_cast<size_t>(step * config.batch_size);
      const size_t end = std::min(order.size(), begin + static_cast<size_t>(config.batch_size));
      const std::vector<int64_t> indices(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                         order.begin() + static_cast<std::ptrdiff_t>(end));
      const data::AugmentOptions augment_options{augment, epoch, config.seed, 0.0f, 1.0f};
      const data::Batch batch = config.ten_crop            ? data::make_ten_crop_batch(images, indices, input, augment_options)
                                : augment.is_identity() ? data::make_batch(images, indices, input)
                                                        : data::make_batch(images, indices, input, augment_options);

      PendingStep p;
      bool immediate = false;  // the metrics are read and checked during this step (sync_every 1)
      if (step_graph) {
        const nn::StepGraph::Outputs o = step_graph->run(batch.images, batch.labels);
        p.epoch = epoch;
        p.step = step;
        p.loss = o.loss;
        p.norm = o.norm;
        p.correct = o.correct;
      } else {
        EagerStepOptions o;
        o.epoch = epoch;
        o.step = step;
        o.trace = steps_this_process < config.trace;  // --trace N: the first N steps of this process
        // One step's metrics stay on the device until they are read (see `sync_every` above); with
        // sync_every 1 (the CPU default, --trace, --detect-anomaly) they are checked during the step.
        o.check_now = immediate = sync_every == 1 || o.trace;
        o.detect_anomaly = config.detect_anomaly;
        o.grad_clip = config.grad_clip;
        o.classifier = !reconstruction;
        p = run_eager_step(*model, flat, *optimizer, batch, step_loss,
                           [&](double value) { check_loss(epoch, step, value, false); }, o, out);
      }
      p.images = static_cast<int64_t>(indices.size());
      pending.push_back(std::move(p));
      ++steps_this_process;
      if (g_stop_after_steps.load() > 0 && steps_this_process == g_stop_after_steps.load()) request_stop();
      const bool stopping = g_stop_requested.load();
      const bool mid_epoch = step + 1 < steps_per_epoch;  // the epoch's end writes its own checkpoint
      const bool checkpoint_now = mid_epoch && config.checkpoint_every > 0 && (step + 1) % config.checkpoint_every == 0;
      const bool log_now = config.log_interval > 0 && (step + 1) % config.log_interval == 0 && !progress.interactive();
      if (immediate || stopping || checkpoint_now || log_now || static_cast<int64_t>(pending.size()) >= sync_every ||
          !mid_epoch)
        flush();
      if (log_now)
        progress.log_line(step + 1, tally.mean_loss(), reconstruction ? nan_value : tally.accuracy(), tally.seen,
                          epoch + 1 < config.epochs ? config.epochs - epoch - 1 : 0);

      if ((stopping || checkpoint_now) && mid_epoch) {
        // the resumable position after this step: a resume continues with step + 1
        if (stopping) progress.end_epoch();
        tally.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
        state.epoch = epoch;
        state.step = step + 1;
        state.partial = tally;
        state.scheduler = scheduler->state();
        state.early_stop = early_stop.state();
        save_last(dir, config, td.dataset.classes, state, *model, *optimizer, gen);
        if (!stopping) continue;
        summary.stop_signal = g_stop_signal.load();
        say("interrupted at epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(step + 1) +
            (summary.stop_signal > 0 ? std::string(" by ") + signal_name(summary.stop_signal) : std::string()) +
            ": resumable checkpoint written; continue with: fertrain --resume " + dir.string());
        summary.stop_reason = "interrupted";
        summary.epochs_done = epoch;
        summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
        return summary;
      }
    }
    state.step = 0;
    progress.end_epoch();
    tally.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();

    // validation, schedule, checkpoints
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.lr = optimizer->lr();
    m.train_loss = tally.mean_loss();
    m.train_acc = reconstruction ? nan_value : tally.accuracy();
    m.seconds = tally.seconds;
    m.images_per_second = tally.seconds > 0 ? static_cast<double>(tally.seen) / tally.seconds : 0.0;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    m.val_loss = m.val_acc = m.val_macro_f1 = nan;
    bool improved = false;
    if (!td.plan.val.empty() && reconstruction) {
      // lower is better; best_epoch 0 means no best yet (also after a resume)
      m.val_loss = mean_of(reconstruction_errors(*model, images, td.plan.val, input, config.batch_size));
      improved = state.best_epoch == 0 || m.val_loss < state.best_val_loss;
    } else if (!td.plan.val.empty()) {
      const SplitEvaluation v = evaluate_split("val", td.plan.val_desc, *model, images, td.plan.val, input,
                                               config.batch_size, class_names, config.ten_crop);
      m.val_loss = v.predictions.loss;
      m.val_acc = v.report.accuracy;
      m.val_macro_f1 = v.report.macro_f1;
      improved = m.val_acc > state.best_val_acc;
    } else {
      improved = true;  // no validation split: the best checkpoint is the last one
    }
    if (improved) {
      state.best_val_acc = td.plan.val.empty() ? m.train_acc : m.val_acc;
      state.best_val_loss = td.plan.val.empty() ? m.train_loss : m.val_loss;
      state.best_epoch = epoch + 1;
    }
    const double plateau_value = config.plateau_metric == "val_acc" ? m.val_acc : m.val_loss;
    scheduler->step_epoch(td.plan.val.empty() ? std::optional<double>{} : std::optional<double>{plateau_value});
    bool stop_early = false;
    if (config.early_stop_patience > 0 && !td.plan.val.empty())
      stop_early = early_stop.update(early_on_loss ? m.val_loss : m.val_acc);
    if (stop_early && !config.freeze.empty() && last_unfreeze_epoch(config) > epoch + 1) {
      stop_early = false;  // the frozen stages run to the last unfreeze epoch; the count restarts at each
      say("early stopping deferred: modules stay frozen until epoch " + std::to_string(last_unfreeze_epoch(config)));
    }
    log.append(m);
    state.epoch = epoch + 1;
    state.partial = EpochTally{};
    state.scheduler = scheduler->state();
    state.early_stop = early_stop.state();
    save_last(dir, config, td.dataset.classes, state, *model, *optimizer, gen);
    if (improved) nn::save_state_dict((dir / "best.safetensors").string(), *model,
                                      checkpoint_metadata(config, td.dataset.classes, state));

    std::ostringstream line;
    if (reconstruction) {
      line << "epoch " << std::setw(3) << epoch + 1 << "/" << config.epochs << "  train mse " << std::fixed
           << std::setprecision(6) << m.train_loss;
      if (!td.plan.val.empty()) line << "  val mse " << std::setprecision(6) << m.val_loss;
    } else {
      line << "epoch " << std::setw(3) << epoch + 1 << "/" << config.epochs << "  train loss " << std::fixed
           << std::setprecision(4) << m.train_loss << " acc " << percent(m.train_acc);
      if (!td.plan.val.empty()) line << "  val loss " << std::setprecision(4) << m.val_loss << " acc " << percent(m.val_acc);
    }
    line << "  lr " << std::scientific << std::setprecision(2) << m.lr << std::fixed << "  " << std::setprecision(0)
         << m.images_per_second << " img/s  " << format_duration(m.seconds) << (improved ? "  *best" : "");
    say(line.str());
    summary.final_train_loss = m.train_loss;
    summary.epochs_done = epoch + 1;
    if (stop_early) {
      say("early stopping: no improvement of " + config.early_stop_metric + " for " +
          std::to_string(config.early_stop_patience) + " epochs");
      summary.stop_reason = "early stopping";
      break;
    }
    // A stop asked for during the epoch's last step or its validation: the epoch's checkpoint is
    // written, so stop here rather than after another step. (After the last epoch the run finishes:
    // only its final evaluation is left; a second signal kills it.)
    if (g_stop_requested.load() && epoch + 1 < config.epochs) {
      summary.stop_signal = g_stop_signal.load();
      say("interrupted after epoch " + std::to_string(epoch + 1) +
          (summary.stop_signal > 0 ? std::string(" by ") + signal_name(summary.stop_signal) : std::string()) +
          ": resumable checkpoint written; continue with: fertrain --resume " + dir.string());
      summary.stop_reason = "interrupted";
      summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      return summary;
    }
  }
  if (summary.epochs_done == 0) summary.epochs_done = state.epoch;

  // 7. the best checkpoint on val (and test), figures, report
  nn::load_state_dict((dir / "best.safetensors").string(), *model, true);
  RunReport report;
  report.title = "fertrain: " + config.model + " on " + td.dataset.origin;
  report.config = to_json(config);
  report.epochs = log.rows();
  const std::string curves = (dir / "curves.png").string();
  write_training_curves(log, curves);
  report.images.push_back({"Training curves", curves});
  summary.best_epoch = state.best_epoch;
  summary.best_val_acc = state.best_val_acc;
  summary.best_val_loss = state.best_val_loss;
  json result = {{"model", config.model},
                 {"data", td.dataset.origin},
                 {"device", config.device},
                 {"epochs_done", summary.epochs_done},
                 {"best_epoch", state.best_epoch},
                 {"stop_reason", summary.stop_reason},
                 {"provenance", build}};
  const bool separate_test = !td.plan.test.empty() && td.plan.test != td.plan.val;
  if (reconstruction) {
    // no classes: the mean reconstruction error (MSE per image, averaged) per split, no confusion matrices
    summary.best_val_acc = nan_value;
    auto score = [&](const char* name, const std::string& desc, const std::vector<int64_t>& split) {
      const std::vector<double> errors = reconstruction_errors(*model, images, split, input, config.batch_size);
      const double mse = mean_of(errors);
      result[name] = {{"split", desc}, {"images", static_cast<int64_t>(split.size())}, {"mse", mse},
                      {"mse_p98", percentile_linear(errors, 98.0)}};
      std::ostringstream s;
      s << "best checkpoint (epoch " << state.best_epoch << ") on " << name << " (" << desc << "): mean MSE "
        << std::setprecision(6) << mse << " over " << split.size() << " images";
      say(s.str());
      return mse;
    };
    if (!td.plan.val.empty()) score("val", td.plan.val_desc, td.plan.val);
    if (separate_test) score("test", td.plan.test_desc, td.plan.test);
  }
  if (!reconstruction && !td.plan.val.empty()) {
    const SplitEvaluation v = evaluate_split("val", td.plan.val_desc, *model, images, td.plan.val, input,
                                             config.batch_size, class_names, config.ten_crop);
    write_split_artefacts(dir, v, class_names, report);
    result["val"] = {{"split", td.plan.val_desc}, {"images", v.predictions.size()},
                     {"accuracy", v.report.accuracy}, {"macro_f1", v.report.macro_f1}, {"loss", v.predictions.loss}};
    say("best checkpoint (epoch " + std::to_string(state.best_epoch) + ") on val (" + td.plan.val_desc +
        "): accuracy " + percent(v.report.accuracy));
  }
  if (!reconstruction && separate_test) {
    const SplitEvaluation t = evaluate_split("test", td.plan.test_desc, *model, images, td.plan.test, input,
                                             config.batch_size, class_names, config.ten_crop);
    write_split_artefacts(dir, t, class_names, report);
    summary.test_acc = t.report.accuracy;
    result["test"] = {{"split", td.plan.test_desc}, {"images", t.predictions.size()},
                      {"accuracy", t.report.accuracy}, {"macro_f1", t.report.macro_f1}};
    say("best checkpoint on test (" + td.plan.test_desc + "): accuracy " + percent(t.report.accuracy));
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  result["seconds"] = summary.seconds;
  report.facts = {{"device", device_text + (device == Device::cpu ? " (" + cpu_model() + ")" : std::string())},
                  {"build", std::string("fer ") + kVersion + ", commit " + build_commit() + ", " + compiler_text()},
                  {"started", build["started_utc"].get<std::string>()},
                  {"model", spec.name + " (" + std::to_string(model->parameter_count()) + " parameters)"},
                  {"data", td.dataset.origin},
                  {"train / val / test", std::to_string(td.plan.train.size()) + " / " +
                                             std::to_string(td.plan.val.size()) + " / " +
                                             std::to_string(td.plan.test.size())},
                  {"best epoch", std::to_string(state.best_epoch)},
                  {"stopped", summary.stop_reason},
                  {"wall time", format_duration(summary.seconds)}};
  write_report_html(report, (dir / "report.html").string());
  nn::write_file_atomic((dir / "summary.json").string(), result.dump(2) + "\n");
  if (step_graph)
    say("cuda graph: " + std::to_string(step_graph->captures()) + " capture(s), " +
        std::to_string(step_graph->replays()) + " replays, " + std::to_string(step_graph->uncaptured_steps()) +
        " uncaptured steps (warm-up, other batch shapes), " + std::to_string(step_graph->graph_nodes()) +
        " nodes in the graph");
  say("done in " + format_duration(summary.seconds) + "; report: " + (dir / "report.html").string());
  return summary;
}

}  // namespace fer::tools
