// nn/checkpoint.h: model checkpoints as safetensors files with PyTorch state_dict names.
//
// A checkpoint holds every parameter and buffer of a model under its PyTorch name
// ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", ...), so
//     model.load_state_dict(safetensors.torch.load_file(path))
// loads it into the PyTorch twin, plus string metadata: "format" = "fer-checkpoint",
// "version" = "1", and whatever the caller adds (model name, config JSON, class order, epoch,
// metrics). Extra tensors (optimizer state, EMA weights, ...) may ride along under their own names;
// their names are listed in the metadata key "extra_tensors" (a JSON array) so that loading the
// model skips them instead of calling them unexpected. Files are written atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/safetensors.h"

namespace fer::nn {

using safetensors::TensorRef;

inline constexpr const char* kCheckpointFormat = "fer-checkpoint";
inline constexpr const char* kCheckpointVersion = "1";

// Parameters and buffers by name (named_parameters() then named_buffers()).
std::vector<TensorRef> state_dict(const Module& model);

void save_state_dict(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata,
                     const std::vector<TensorRef>& extra = {});

// Loads the file's tensors into `model` (on the model's device), in place.
//   strict: every model key must be in the file and every file key in the model (extra tensors
//           excepted). Not strict: keys missing on either side are skipped.
// Either way shapes must match, and the dtype must match or convert between floating types
// (f64/bf16 -> f32 and so on). All problems (missing keys, unexpected keys, shape and dtype
// mismatches) are reported together in one fer::Error naming the file, before anything is loaded.
void load_state_dict(const std::string& path, Module& model, bool strict = true);

// What load_matching loaded and what it left alone.
struct LoadReport {
  int64_t model_tensors = 0, loaded_tensors = 0;    // parameters and buffers of the model; loaded
  int64_t model_values = 0, loaded_values = 0;      // their elements
  std::vector<std::string> kept;                    // model keys not loaded (keep their values)
  std::vector<std::string> unused;                  // file keys not loaded, with the reason:
                                                    //   "fc.weight [1000,512] (model [7,512])", "fc.bias [1000] (not in the model)"
};

// Transfer learning from weights made for another head or by another program (a torchvision
// ImageNet backbone, a checkpoint of another model): loads every tensor of the file whose name
// and shape match one of the model's (dtype converted between floating types), leaves the rest
// of the model as it is and reports both sides. Throws fer::Error, before loading anything, when
// the weights that match (floating tensors of more than one value) hold under 5% of the model's
// values (weights for another width match nothing but a head bias and the scalar counters),
// showing the first names of each side.
LoadReport load_matching(const std::string& path, Module& model);

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path);

}  // namespace fer::nn
