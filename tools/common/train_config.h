// tools/common/train_config.h: every setting of a training run, in one struct.
//
// A run's settings come from three layers, later ones winning: the defaults below, a recipe
// (--recipe, a report's published setup, tools/common/recipes.cpp), and the flags the user gave.
// The resolved config is written to <run>/config.json and stored in checkpoints, so a run can be
// resumed or reproduced from its folder alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fer::tools {

struct TrainConfig {
  // what to train
  std::string model = "cnn6";
  double width = 1.0;          // channel multiplier (1 = the published size)
  std::string model_variant;   // model-specific option
  std::string recipe;          // name of the recipe applied, "" for none

  // data
  std::string data;            // "" = the built-in synthetic faces; else a folder or a Kaggle CSV
  int64_t synthetic_count = 7000;  // images generated when data is ""
  std::string classes = "fer7";    // fer7 | fer6 (drops disgust)
  std::string val = "auto";        // auto | publictest | privatetest | split:F | none
  int64_t limit = 0;               // use only the first N training images (seeded stratified), 0 = all
  bool skip_bad = false;           // skip unreadable images/rows with a counted warning
  std::string exclude;             // file listing images to leave out (ferclean's index)
  std::string resample = "none";   // none | ros | smote | smote-tomek | smote-enn (training split only)

  // optimisation
  int64_t epochs = 5;
  int64_t batch_size = 64;
  double lr = 1e-3;
  std::string optimizer = "adam";  // sgd | adam | adamw | radam
  double momentum = 0.9;           // sgd
  bool nesterov = false;           // sgd
  double weight_decay = 0.0;       // L2 for sgd/adam, decoupled for adamw/radam
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 0.0;          // clip the global gradient norm to this (0 = off)

  // stages (transfer learning): freeze modules at the start, unfreeze them at a later epoch
  std::string freeze;              // comma-separated module paths frozen from epoch 1 ("" = none)
  int64_t unfreeze_epoch = 0;      // 1-based epoch at whose start `freeze` is undone (0 = never)
  double unfreeze_lr = 0.0;        // from unfreeze_epoch on the lr is scaled by unfreeze_lr / lr (0 = keep)
  int64_t unfreeze_every = 0;      // gradual unfreezing: > 0 releases the `freeze` modules one at a time,
                                   // the LAST listed first, at unfreeze_epoch, + every, + 2 every, ...

  // schedule and stopping
  std::string scheduler = "none";  // none | exponential | plateau | exponential+plateau | cosine | cosine-restarts | step
  double gamma = 0.9;              // exponential / step factor
  int64_t step_size = 10;          // step: epochs between decays
  double plateau_factor = 0.1;
  int64_t plateau_patience = 5;
  std::string plateau_metric = "val_loss";  // val_loss (mode min) | val_acc (mode max)
  double min_lr = 0.0;
  int64_t cosine_t0 = 10;          // cosine: T_max; cosine-restarts: first cycle length
  int64_t cosine_tmult = 1;
  int64_t warmup_epochs = 0;
  int64_t early_stop_patience = 0;  // stop after this many epochs without improvement (0 = off)
  std::string early_stop_metric = "val_acc";  // val_acc | val_loss

  // loss and sampling
  std::string loss = "ce";         // ce | focal | mse; a reconstruction model (autoencoder) trains with mse
                                   // whether ce (the default) or mse is set; mse on a classifier is an error
  bool weighted_loss = false;      // inverse-frequency class weights (R000 weighted, disgust 9.41)
  double label_smoothing = 0.0;
  double focal_gamma = 2.0;
  std::string sampler = "shuffle";  // shuffle | balanced | sequential

  // augmentation (training only)
  bool hflip = false;
  double rotate_deg = 0.0;
  double translate_px = 0.0;
  std::string augment;             // a preset of kernels/augment.h (augment_preset) as the base ("" = none);
                                   // hflip / rotate_deg / translate_px, when set, override its fields
  bool ten_crop = false;           // usef-kh: train on the ten crops (model input < 48) of every image,
                                   // each with its own random erasing; validation averages the crops' logits

  // execution
  std::string device = "cpu";      // cpu | cuda
  std::string precision = "fp32";  // fp32 | tf32 | bf16: matmul operand rounding (kernels/precision.h);
                                   // on the CPU the exact emulation of the tensor-core numerics
  std::string conv_impl = "native";  // native | cudnn (CUDA convolutions through cuDNN, for A/B runs) |
                                     // tc (implicit GEMM on the tensor cores; needs --precision tf32|bf16)
  std::string fuse = "on";         // on | off: batch norm + relu/silu as one fused op (nn::set_fusion);
                                   // a config.json without the key (older runs) means on
  std::string cuda_graph = "off";  // on | off: capture the training step as a CUDA graph and replay it
                                   // (nn/step_graph.h); CUDA only; a config.json without the key means off
  uint64_t seed = 1;
  int threads = 0;                 // CPU threads (0 = OpenMP default)
  std::string out;                 // run folder ("" = runs/<model>-<time>)
  std::string resume;              // run folder to continue
  std::string init_from;           // checkpoint to start from (weights only)
  bool progress = true;            // progress bar on a terminal
  int64_t trace = 0;               // print the modules/nodes of the first N steps (teaching)
  int64_t sync_every = 0;          // read the step metrics (loss, accuracy, gradient norm) back and check
                                   // them every N steps; 0 = auto (1 on the CPU, 50 on CUDA)
  bool detect_anomaly = false;     // check every recorded forward op's output and every backward node's
                                   // gradients; name the first non-finite one
  int64_t checkpoint_every = 0;    // also write the resumable last checkpoint every N steps inside an
                                   // epoch (0 = only at the end of each epoch and on SIGINT/SIGTERM)
  int64_t log_interval = 0;        // without a terminal (a log file, a pipe): a plain progress line every
                                   // N steps (0 = only the per-epoch lines)
};

nlohmann::json to_json(const TrainConfig& c);
// Overwrites the fields present in `j`; unknown keys are an error naming them.
void apply_json(TrainConfig& c, const nlohmann::json& j);
// "a,b.c" -> {"a", "b.c"} (spaces around names trimmed; "" -> {}; an empty name stays, validate rejects it).
std::vector<std::string> split_module_paths(const std::string& list);
// Checks ranges and names (optimizer, scheduler, loss, sampler, device, precision...): one clear
// fer::Error per problem.
void validate(const TrainConfig& c);

}  // namespace fer::tools
