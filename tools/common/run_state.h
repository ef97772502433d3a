// tools/common/run_state.h: what a resumed fertrain run needs beyond the model and optimizer tensors,
// and the two files that hold it.
//
// last.safetensors holds the model and, as metadata, the RunState (epoch and step reached, the
// interrupted epoch's tally, the best checkpoint so far, the LR schedule's and early stopping's
// state); last.optim.safetensors holds the optimizer's state tensors and the generator positions
// (fer.rng). save_last writes both atomically and in an order that a kill at any moment cannot
// break (see save_last in run_state.cpp); load_last restores them and checks that both are of the
// same step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "nn/module.h"
#include "nn/optimizer.h"
#include "tensor/rng.h"
#include "tools/common/train_config.h"

namespace fer::tools {

// One epoch's running figures.
struct EpochTally {
  double loss_sum = 0;  // sum over images of the per-image (batch-mean) loss
  int64_t correct = 0;
  int64_t seen = 0;
  double seconds = 0;
  double mean_loss() const { return seen ? loss_sum / static_cast<double>(seen) : 0.0; }
  double accuracy() const { return seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0; }
};

// Everything beyond the model and optimizer tensors that a resumed run needs.
struct RunState {
  int64_t epoch = 0;  // epochs completed
  int64_t step = 0;   // steps done inside epoch `epoch` (non-zero only for an interrupted epoch)
  EpochTally partial; // the interrupted epoch's tally so far
  double best_val_acc = -1;
  double best_val_loss = 0;
  int64_t best_epoch = 0;
  nlohmann::json scheduler, early_stop;
  std::string data_plan;  // data_plan_fingerprint() of the run's images; empty in runs older than it
};

// A double as text that reads back to the same bits (checkpoint metadata).
std::string exact_text(double v);

// The metadata of a checkpoint (best.safetensors, last.safetensors): model, config, classes, RunState.
std::map<std::string, std::string> checkpoint_metadata(const TrainConfig& c, const data::ClassSet& classes,
                                                       const RunState& s);

// Writes last.safetensors and last.optim.safetensors into `dir`.
void save_last(const std::filesystem::path& dir, const TrainConfig& c, const data::ClassSet& classes,
               const RunState& s, nn::Module& model, nn::Optimizer& opt, const Generator& gen);

// Restores model, optimizer and generator from `dir` (what save_last wrote) and returns the state.
RunState load_last(const std::filesystem::path& dir, nn::Module& model, nn::Optimizer& opt, Generator& gen);

}  // namespace fer::tools
