// tools/common/run_setup.cpp: see run_setup.h.
#include "tools/common/run_setup.h"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <vector>

#include "kernels/common.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "tools/common/recipes.h"

namespace fer::tools {

std::unique_ptr<nn::Optimizer> make_run_optimizer(const TrainConfig& c, nn::FlatParameters& flat) {
  nn::OptimizerOptions o;
  o.lr = c.lr;
  o.momentum = c.momentum;
  o.nesterov = c.nesterov;
  o.weight_decay = c.weight_decay;
  o.beta1 = c.beta1;
  o.beta2 = c.beta2;
  o.eps = c.eps;
  return nn::make_optimizer(c.optimizer, flat, o);
}

std::unique_ptr<nn::LrScheduler> make_run_scheduler(const TrainConfig& c) {
  nn::SchedulerOptions o;
  o.name = c.scheduler;
  o.base_lr = c.lr;
  o.gamma = c.gamma;
  o.step_size = c.step_size;
  o.plateau_mode = c.plateau_metric == "val_acc" ? "max" : "min";
  o.plateau_factor = c.plateau_factor;
  o.plateau_patience = c.plateau_patience;
  o.min_lr = c.min_lr;
  o.cosine_t0 = c.cosine_t0;
  o.cosine_tmult = c.cosine_tmult;
  o.warmup_epochs = c.warmup_epochs;
  return nn::make_scheduler(o);
}

std::string load_initial_weights(const TrainConfig& config, nn::Module& model, const std::string& class_set) {
  const std::string& path = config.init_from;
  const auto meta = nn::read_checkpoint_metadata(path);
  auto get = [&](const char* key) { return meta.count(key) ? meta.at(key) : std::string(); };
  const bool fine_tuning = !config.recipe.empty() && needs_init_from(find_recipe(config.recipe));
  const bool same_model = get("format") == nn::kCheckpointFormat && get("fer.model") == config.model &&
                          (get("fer.class_set").empty() || get("fer.class_set") == class_set);
  if (fine_tuning || same_model) {
    nn::load_state_dict(path, model, true);
    return "weights:   from " + path + " (" + (same_model ? "a fer checkpoint of " + config.model : std::string("the checkpoint")) +
           ", every tensor" + (fine_tuning ? ": --recipe " + config.recipe + " continues a trained model" : std::string()) + ")";
  }
  const nn::LoadReport r = nn::load_matching(path, model);
  for (const std::string& module : split_module_paths(config.freeze)) {
    std::vector<std::string> random;
    for (const std::string& k : r.kept)
      if (k.rfind(module + ".", 0) == 0) random.push_back(k);
    FER_CHECK(random.empty(), "--freeze " << module << ": " << random.size() << " of its tensors (" << random.front()
                                          << (random.size() > 1 ? ", ..." : "") << ") are not in " << path
                                          << " and would stay frozen at their initialisation; hint: weights made for "
                                             "this model (and --width), or leave " << module << " out of --freeze");
  }
  const std::string source = !get("source").empty()                 ? get("source")
                             : get("format") == nn::kCheckpointFormat ? "a fer checkpoint of " + get("fer.model") + " (" +
                                                                           get("fer.class_set") + ")"
                                                                     : "a safetensors file";
  auto listed = [](const std::vector<std::string>& v) {
    std::ostringstream s;
    for (size_t i = 0; i < v.size() && i < 6; ++i) s << (i ? ", " : "") << v[i];
    if (v.size() > 6) s << ", ...";
    s << " (" << v.size() << ")";
    return s.str();
  };
  std::ostringstream s;
  s << "weights:   from " << path << " (" << source << "), by name and shape: " << r.loaded_tensors << " of "
    << r.model_tensors << " tensors, " << std::fixed << std::setprecision(2) << r.loaded_values / 1e6 << " M of "
    << r.model_values / 1e6 << " M values (" << std::setprecision(1)
    << 100.0 * static_cast<double>(r.loaded_values) / static_cast<double>(std::max<int64_t>(r.model_values, 1)) << "%)";
  if (!r.kept.empty()) s << "\n           kept as initialised: " << listed(r.kept);
  if (!r.unused.empty()) s << "\n           not used from the file: " << listed(r.unused);
  return s.str();
}


std::string frozen_modules_at(const TrainConfig& config, int64_t epoch) {
  const std::vector<std::string> paths = split_module_paths(config.freeze);
  const int64_t n = static_cast<int64_t>(paths.size());
  int64_t released = 0;
  if (config.unfreeze_epoch > 0 && epoch >= config.unfreeze_epoch)
    released = config.unfreeze_every > 0 ? std::min(n, 1 + (epoch - config.unfreeze_epoch) / config.unfreeze_every) : n;
  std::ostringstream s;
  for (int64_t i = 0; i < n - released; ++i) s << (i ? "," : "") << paths[static_cast<size_t>(i)];
  return s.str();
}

int64_t last_unfreeze_epoch(const TrainConfig& config) {
  if (config.freeze.empty() || config.unfreeze_epoch <= 0) return 0;
  const int64_t n = static_cast<int64_t>(split_module_paths(config.freeze).size());
  return config.unfreeze_every > 0 ? config.unfreeze_epoch + (n - 1) * config.unfreeze_every : config.unfreeze_epoch;
}

int64_t set_modules_trainable(nn::Module& model, const std::string& paths, bool trainable) {
  std::vector<nn::Module*> modules;  // all paths are checked before anything changes
  for (const std::string& path : split_module_paths(paths)) {
    nn::Module* m = path.empty() ? nullptr : model.find(path);
    if (m == nullptr) {
      std::ostringstream children;
      for (const auto& [name, child] : model.children()) children << (children.tellp() ? ", " : "") << name;
      FER_FAIL("--freeze: the model has no module '" << path << "'; its top-level modules are: " << children.str()
                                                     << " (a dotted path such as layer1.0 reaches deeper)");
    }
    modules.push_back(m);
  }
  int64_t count = 0;
  for (nn::Module* m : modules) {
    m->set_trainable(trainable);
    count += m->parameter_count();
  }
  return count;
}

}  // namespace fer::tools
