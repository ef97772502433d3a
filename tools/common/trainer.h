// tools/common/trainer.h: one training run, start to finish (what fertrain runs).
//
// The loop, top-down:
//   resolve data (train_data.h) -> build the model on its device -> optimizer over the flat
//   parameter buffer, LR schedule, early stopping -> for each epoch:
//       for each batch of the sampler's epoch order:
//           images (augmented for training) -> logits = model(images)
//           loss = cross-entropy (class-weighted, label smoothing) or focal loss; for a reconstruction
//                  model (registry default_classes 0: R003's autoencoder) the MSE of its output against
//                  the batch it was given (reconstruction.h)
//           loss.backward(); clip the gradient norm; optimizer.step(); zero the gradients
//       (stages: --freeze modules frozen before --unfreeze-epoch, lr scaled by unfreeze_lr/lr after)
//       evaluate on the validation split -> metrics.csv/jsonl, LR schedule step,
//       last.safetensors (+ optimizer state) every epoch, best.safetensors when val accuracy improves
//       (reconstruction: when the val MSE falls)
//   -> reload the best checkpoint, evaluate val (and test when it is a different split):
//      confusion matrices (CSV, PNG), per-class report, curves.png, report.html, summary.json.
//
// Reconstruction runs log the mean per-image MSE as train_loss / val_loss; their train_acc, val_acc and
// val_macro_f1 are missing (null in metrics.jsonl, empty in metrics.csv), and they write no confusion
// matrices or classification report; summary.json's val/test hold {split, images, mse, mse_p98}.
//
// Resuming (`config.resume`) restores the model, optimizer, schedule, early-stopping state, the
// generator positions and the position inside the epoch, so the run continues with the very
// losses of an uninterrupted one. SIGINT (Ctrl-C) and SIGTERM stop at the next step boundary and
// write such a resumable checkpoint (a second signal of the same kind kills the process);
// TrainConfig::checkpoint_every also writes it every N steps inside an epoch, so a SIGKILL loses at
// most N steps. A non-finite loss stops the run with the epoch and step named.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "tools/common/run_setup.h"  // the stages (set_modules_trainable, frozen_modules_at) tests call
#include "tools/common/train_config.h"

namespace fer::nn {
class Module;
}

namespace fer::tools {

struct TrainSummary {
  std::string run_dir;
  int64_t epochs_done = 0;      // completed epochs (including those of a resumed run)
  int64_t best_epoch = 0;       // 1-based epoch of best.safetensors (0: none)
  double best_val_acc = 0;      // validation accuracy of the best checkpoint (NaN for a reconstruction model)
  double best_val_loss = 0;
  double final_train_loss = 0;  // mean training loss of the last completed epoch
  double test_acc = -1;         // accuracy of the best checkpoint on the test split (-1: no separate test split)
  std::string stop_reason;      // "completed", "early stopping", "interrupted"
  int stop_signal = 0;          // the signal that interrupted the run (SIGINT, SIGTERM; 0: none, or
                                // request_stop)
  double seconds = 0;
};

// How run_training runs, beside what it trains (not part of TrainConfig, never in config.json).
struct RunOptions {
  // Resolve everything (data, splits, class table, model, --init-from, augmentation), print it and
  // the steps the run would take, then stop: nothing is trained, no run folder is written.
  bool dry_run = false;
  // With dry_run: a PNG grid of the first 8 training images of each class in epoch 1's order, as the
  // training step sees them (augmented; shown at 48x48 gray, before any crop/resize to the model's input).
  std::string preview;
};

// Runs the training described by `config` (already resolved: defaults, recipe, flags), printing to
// `out`. Errors are fer::Error with a message for the user. summary.stop_reason is "dry run" after
// a dry run.
TrainSummary run_training(const TrainConfig& config, std::FILE* out = stdout, const RunOptions& options = {});

// Makes a running run_training stop at its next step boundary with a resumable checkpoint
// (what the SIGINT/SIGTERM handler does, with the signal's number; async-signal-safe).
void request_stop();

// Testing aid (fertrain --stop-after-steps): behave as if Ctrl-C came after `steps` training steps of
// this process (0 = never).
void request_stop_after_steps(int64_t steps);

}  // namespace fer::tools
