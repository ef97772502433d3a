// tools/common/train_config.cpp: JSON round trip and validation of TrainConfig.
#include "tools/common/train_config.h"

#include <limits>
#include <set>
#include <type_traits>

#include "fer/config.h"
#include "kernels/augment.h"
#include "kernels/common.h"

namespace fer::tools {

// One list of fields drives both directions of the JSON mapping.
#define FER_CONFIG_FIELDS(X)                                                                              \
  X(model) X(width) X(model_variant) X(recipe) X(data) X(synthetic_count) X(classes) X(val) X(limit)     \
  X(skip_bad) X(exclude) X(resample) X(epochs) X(batch_size) X(lr) X(optimizer) X(momentum) X(nesterov)             \
  X(weight_decay) X(beta1) X(beta2) X(eps) X(grad_clip) X(freeze) X(unfreeze_epoch) X(unfreeze_lr) X(unfreeze_every) X(scheduler) X(gamma) X(step_size)              \
  X(plateau_factor) X(plateau_patience) X(plateau_metric) X(min_lr) X(cosine_t0) X(cosine_tmult) X(warmup_epochs)         \
  X(early_stop_patience) X(early_stop_metric) X(loss) X(weighted_loss) X(label_smoothing) X(focal_gamma) X(sampler) X(hflip) \
  X(rotate_deg) X(translate_px) X(augment) X(ten_crop) X(device) X(precision) X(conv_impl) X(fuse) X(cuda_graph) X(seed) X(threads) X(out) X(resume) X(init_from)  \
  X(progress) X(detect_anomaly) X(trace) X(sync_every) X(checkpoint_every) X(log_interval)

nlohmann::json to_json(const TrainConfig& c) {
  nlohmann::json j;
#define FER_TO_JSON(name) j[#name] = c.name;
  FER_CONFIG_FIELDS(FER_TO_JSON)
#undef FER_TO_JSON
  return j;
}

namespace {
// One setting from JSON, with the JSON type checked exactly: nlohmann's get_to would turn 2.5 into
// 2, -1 into 18446744073709551615 for the seed, and 1e30 into an undefined float->int conversion.
void read_setting(const nlohmann::json& v, const char* name, std::string& out) {
  FER_CHECK(v.is_string(), "config: setting '" << name << "' must be a string, got " << v.type_name() << " " << v.dump());
  out = v.get<std::string>();
}
void read_setting(const nlohmann::json& v, const char* name, bool& out) {
  FER_CHECK(v.is_boolean(), "config: setting '" << name << "' must be true or false, got " << v.type_name() << " " << v.dump());
  out = v.get<bool>();
}
void read_setting(const nlohmann::json& v, const char* name, double& out) {
  FER_CHECK(v.is_number(), "config: setting '" << name << "' must be a number, got " << v.type_name() << " " << v.dump());
  out = v.get<double>();
}
template <class Int>
void read_setting(const nlohmann::json& v, const char* name, Int& out) {
  static_assert(std::is_integral_v<Int>);
  bool ok = false;
  if (v.is_number_unsigned()) {
    ok = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<Int>::max());
  } else if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    ok = std::is_signed_v<Int> && x >= static_cast<int64_t>(std::numeric_limits<Int>::min()) &&
         x <= static_cast<int64_t>(std::numeric_limits<Int>::max());
  }
  FER_CHECK(ok, "config: setting '" << name << "' must be an integer in [" << +std::numeric_limits<Int>::min() << ", "
                                    << +std::numeric_limits<Int>::max() << "], got " << v.type_name() << " " << v.dump());
  out = v.is_number_unsigned() ? static_cast<Int>(v.get<uint64_t>()) : static_cast<Int>(v.get<int64_t>());
}
}  // namespace

void apply_json(TrainConfig& c, const nlohmann::json& j) {
  FER_CHECK(j.is_object(), "config: expected a JSON object, got " << j.type_name());
  std::set<std::string> known;
#define FER_KNOWN(name) known.insert(#name);
  FER_CONFIG_FIELDS(FER_KNOWN)
#undef FER_KNOWN
  for (auto it = j.begin(); it != j.end(); ++it)
    FER_CHECK(known.count(it.key()), "config: unknown setting '" << it.key() << "'");
#define FER_FROM_JSON(name) \
  if (j.contains(#name)) read_setting(j.at(#name), #name, c.name);
  FER_CONFIG_FIELDS(FER_FROM_JSON)
#undef FER_FROM_JSON
}

namespace {
void check_choice(const char* what, const std::string& value, std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) {
    if (value == c) return;
    list += list.empty() ? c : std::string(", ") + c;
  }
  FER_FAIL(what << " '" << value << "' is not one of: " << list);
}
}  // namespace

std::vector<std::string> split_module_paths(const std::string& list) {
  std::vector<std::string> paths;
  if (list.empty()) return paths;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    std::string p = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto first = p.find_first_not_of(' '), last = p.find_last_not_of(' ');
    paths.push_back(first == std::string::npos ? std::string() : p.substr(first, last - first + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return paths;
}

void validate(const TrainConfig& c) {
  FER_CHECK(c.epochs >= 1, "--epochs must be at least 1, got " << c.epochs);
  FER_CHECK(c.batch_size >= 1, "--batch-size must be at least 1, got " << c.batch_size);
  FER_CHECK(c.lr > 0, "--lr must be positive, got " << c.lr);
  FER_CHECK(c.width > 0, "--width must be positive, got " << c.width);
  FER_CHECK(c.limit >= 0, "--limit must be >= 0, got " << c.limit);
  FER_CHECK(c.synthetic_count >= 14, "--synthetic-count must be at least 14, got " << c.synthetic_count);
  FER_CHECK(c.weight_decay >= 0, "--weight-decay must be >= 0, got " << c.weight_decay);
  FER_CHECK(c.momentum >= 0 && c.momentum < 1, "--momentum must be in [0, 1), got " << c.momentum);
  FER_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, "Adam betas must be in [0, 1)");
  FER_CHECK(c.label_smoothing >= 0 && c.label_smoothing < 1, "--label-smoothing must be in [0, 1)");
  FER_CHECK(c.grad_clip >= 0, "--grad-clip must be >= 0");
  FER_CHECK(c.sync_every >= 0, "--sync-every must be >= 0 (0 = auto), got " << c.sync_every);
  FER_CHECK(c.checkpoint_every >= 0, "--checkpoint-every must be >= 0 (0 = at the end of each epoch only), got "
                                         << c.checkpoint_every);
  FER_CHECK(c.log_interval >= 0, "--log-interval must be >= 0 (0 = one line per epoch), got " << c.log_interval);
  FER_CHECK(c.rotate_deg >= 0 && c.rotate_deg <= 180, "--rotate must be in [0, 180] degrees");
  FER_CHECK(c.translate_px >= 0 && c.translate_px < 24, "--translate must be in [0, 24) pixels");
  if (!c.augment.empty()) {
    const std::vector<std::string> names = augment_preset_names();
    std::ostringstream known;
    for (const std::string& n : names) known << (known.tellp() ? ", " : "") << n;
    FER_CHECK(std::find(names.begin(), names.end(), c.augment) != names.end(),
              "--augment '" << c.augment << "' is not a preset; known: " << known.str());
  }
  FER_CHECK(c.unfreeze_epoch >= 0, "--unfreeze-epoch must be >= 0 (0 = never), got " << c.unfreeze_epoch);
  FER_CHECK(c.unfreeze_lr >= 0, "--unfreeze-lr must be >= 0 (0 = keep the lr), got " << c.unfreeze_lr);
  FER_CHECK(c.unfreeze_epoch == 0 || !c.freeze.empty(),
            "--unfreeze-epoch " << c.unfreeze_epoch << " has nothing to unfreeze; hint: name the frozen modules with --freeze");
  FER_CHECK(c.unfreeze_epoch != 1, "--unfreeze-epoch 1 would unfreeze before the first step; hint: use 2 or later, or drop --freeze");
  FER_CHECK(c.unfreeze_lr == 0 || c.unfreeze_epoch > 0, "--unfreeze-lr needs --unfreeze-epoch");
  FER_CHECK(c.unfreeze_every >= 0, "--unfreeze-every must be >= 0 (0 = everything at once), got " << c.unfreeze_every);
  FER_CHECK(c.unfreeze_every == 0 || c.unfreeze_epoch > 0,
            "--unfreeze-every needs --unfreeze-epoch (the epoch the first module is released)");
  for (const std::string& path : split_module_paths(c.freeze))
    FER_CHECK(!path.empty(), "--freeze '" << c.freeze << "': empty module path; hint: --freeze features or --freeze layer1,layer2");
  check_choice("--optimizer", c.optimizer, {"sgd", "adam", "adamw", "radam"});
  check_choice("--scheduler", c.scheduler,
               {"none", "exponential", "plateau", "exponential+plateau", "cosine", "cosine-restarts", "step"});
  check_choice("--loss", c.loss, {"ce", "focal", "mse"});
  check_choice("--sampler", c.sampler, {"shuffle", "balanced", "sequential"});
  check_choice("--resample", c.resample, {"none", "ros", "smote", "smote-tomek", "smote-enn"});
  check_choice("--device", c.device, {"cpu", "cuda"});
  check_choice("--precision", c.precision, {"fp32", "tf32", "bf16"});
  check_choice("--conv-impl", c.conv_impl, {"native", "cudnn", "tc"});
  check_choice("--fuse", c.fuse, {"on", "off"});
  check_choice("--cuda-graph", c.cuda_graph, {"on", "off"});
  if (c.cuda_graph == "on") {
    FER_CHECK(c.device == "cuda", "--cuda-graph on captures the training step as a CUDA graph; with --device "
                                      << c.device << " use --cuda-graph off");
    FER_CHECK(kCudaBuilt, "--cuda-graph on: this build has no CUDA; hint: use --cuda-graph off");
    FER_CHECK(c.trace == 0, "--cuda-graph on replays the step without running its host code, so --trace has "
                            "nothing to print; hint: use --cuda-graph off with --trace");
    FER_CHECK(!c.detect_anomaly, "--cuda-graph on cannot check each op's output inside a replay; hint: use "
                                 "--cuda-graph off with --detect-anomaly");
    FER_CHECK(c.sync_every != 1, "--cuda-graph on applies the update before the metrics are read; --sync-every 1 "
                                 "(stop before the update) needs --cuda-graph off");
  }
  FER_CHECK(c.conv_impl != "cudnn" || c.device == "cuda",
            "--conv-impl cudnn runs CUDA convolutions through cuDNN; with --device " << c.device
                                                                                  << " use --conv-impl native");
  FER_CHECK(c.conv_impl != "tc" || c.device == "cuda",
            "--conv-impl tc runs CUDA convolutions on the tensor cores; with --device " << c.device
                                                                                     << " use --conv-impl native");
  FER_CHECK(c.conv_impl != "tc" || c.precision == "tf32" || c.precision == "bf16",
            "--conv-impl tc needs --precision tf32|bf16 (the tensor cores' operand formats), got --precision "
                << c.precision);
  FER_CHECK(c.conv_impl != "tc" || kCudaBuilt,
            "--conv-impl tc: this build has no CUDA; hint: use --conv-impl native");
  FER_CHECK(c.conv_impl != "cudnn" || kCudnnBuilt,
            "--conv-impl cudnn: this build has no cuDNN; hint: configure with -DCUDNN_ROOT=<cuDNN prefix>, or use "
            "--conv-impl native");
  check_choice("--plateau-metric", c.plateau_metric, {"val_loss", "val_acc"});
  check_choice("--early-stop-metric", c.early_stop_metric, {"val_loss", "val_acc"});
  check_choice("--classes", c.classes, {"fer7", "fer6", "7", "6"});
}

}  // namespace fer::tools
