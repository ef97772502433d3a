// tools/common/run_setup.h: what run_training builds from the config before the first step: the
// optimizer and LR schedule, the --init-from weights, and the --freeze / --unfreeze-epoch stages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/flat_params.h"
#include "nn/lr_schedule.h"
#include "nn/optimizer.h"
#include "tools/common/train_config.h"

namespace fer::nn {
class Module;
}

namespace fer::tools {

// The optimizer over the flat parameter buffer (--optimizer, --lr, --momentum, ...).
std::unique_ptr<nn::Optimizer> make_run_optimizer(const TrainConfig& c, nn::FlatParameters& flat);
// The LR schedule (--scheduler and its settings; plateau mode from --plateau-metric).
std::unique_ptr<nn::LrScheduler> make_run_scheduler(const TrainConfig& c);

// --init-from. Every tensor, strictly (an error names what differs), when the run continues a model:
// a recipe that fine-tunes a trained model (needs_init_from), or a fer checkpoint of the same model
// whose class set is the run's (or not recorded). Anything else (ImageNet weights converted by
// tools/import_torchvision.py, a checkpoint of another model or class set) loads by name and shape
// (nn::load_matching), and then no module of --freeze may keep its initialisation: a frozen random
// module would never learn. Returns the lines that say what was loaded.
std::string load_initial_weights(const TrainConfig& config, nn::Module& model, const std::string& class_set);

// Freezes (trainable = false) or unfreezes the parameters of the modules at the dotted paths in
// `paths` (comma-separated, TrainConfig::freeze); returns how many parameter elements they hold. An
// unknown path is a fer::Error listing the model's top-level children (and nothing is changed). run_training applies
// TrainConfig::freeze at the start of every epoch before TrainConfig::unfreeze_epoch (so a resumed
// run is in the right stage) and unfreezes from that epoch on.
int64_t set_modules_trainable(nn::Module& model, const std::string& paths, bool trainable);

// The comma-separated modules of TrainConfig::freeze still frozen at the start of 1-based `epoch`:
// all of them before unfreeze_epoch (or always, when it is 0); from unfreeze_epoch on none, or with
// unfreeze_every = E > 0 (gradual unfreezing, ULMFiT-style: the layers nearest the head first) the
// first n - r of the n listed, r = 1 + (epoch - unfreeze_epoch) / E released so far.
std::string frozen_modules_at(const TrainConfig& config, int64_t epoch);
// The 1-based epoch from which nothing is frozen (0: never).
int64_t last_unfreeze_epoch(const TrainConfig& config);

}  // namespace fer::tools
