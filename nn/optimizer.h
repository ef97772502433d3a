// nn/optimizer.h: optimizers over a model's FlatParameters, and global-norm gradient clipping.
//
// An Optimizer updates every trainable run of FlatParameters (trainable_runs()) with one fused
// kernel call (kernels/optim.h); frozen parameters and their state are left untouched. Semantics
// are PyTorch's (torch.optim.SGD / Adam / AdamW / RAdam), including its per-parameter step count:
// a parameter's step advances only on the steps where it was trainable, so a parameter unfrozen
// later starts with bias correction for step 1 (and SGD initialises its momentum buffer then),
// exactly as PyTorch, which skips parameters without a gradient.
//
// State (state_tensors / load_state) is a list of named tensors on the parameters' device:
//   "step"            i64 [number of parameters]: each parameter's step count
//   "momentum_buffer" sgd with momentum != 0        [size()]
//   "exp_avg", "exp_avg_sq"                          adam, adamw, radam   [size()]
//   "max_exp_avg_sq"                                 adam/adamw with amsgrad   [size()]
// Saving them and loading them into a fresh optimizer over the same model continues the run as if
// it had not been interrupted (bit for bit). The learning rate is not part of the state: the
// scheduler sets it (set_lr) every epoch.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/optim.h"
#include "nn/flat_params.h"

namespace fer::nn {

class Optimizer {
 public:
  explicit Optimizer(FlatParameters& params);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every trainable parameter from the gradients in params.grads().
  virtual void step() = 0;
  void zero_grad() { params_.zero_grad(); }
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // Number of step() calls so far (restored by load_state).
  int64_t step_count() const { return step_count_; }
  virtual std::string name() const = 0;

  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  // Restores a state_tensors() list: names, shapes and dtypes must match (checked; an optimizer of
  // another kind or over another model is an error). Tensors may come from another device.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 protected:
  // Calls fn(offset, count, step) for each maximal run of consecutive trainable parameters that share
  // the same per-parameter step count, after advancing those counts (step counts from 1).
  template <typename Fn>
  void for_each_run(Fn&& fn);
  // A zero tensor shaped like the flat buffer (optimizer state).
  Tensor zeros_like_params() const;

  FlatParameters& params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;  // the named state besides "step"

 private:
  std::vector<int64_t> param_steps_;  // per FlatParameters entry
  int64_t step_count_ = 0;
};

class Sgd : public Optimizer {
 public:
  Sgd(FlatParameters& params, const SgdConfig& config);
  void step() override;
  double lr() const override { return config_.lr; }
  void set_lr(double lr) override { config_.lr = lr; }
  std::string name() const override { return "sgd"; }
  const SgdConfig& config() const { return config_; }

 private:
  SgdConfig config_;
};

// Adam; AdamW when config.decoupled_weight_decay.
class Adam : public Optimizer {
 public:
  Adam(FlatParameters& params, const AdamConfig& config);
  void step() override;
  double lr() const override { return config_.lr; }
  void set_lr(double lr) override { config_.lr = lr; }
  std::string name() const override { return config_.decoupled_weight_decay ? "adamw" : "adam"; }
  const AdamConfig& config() const { return config_; }

 private:
  AdamConfig config_;
};

// RAdam (decoupled weight decay when config.decoupled_weight_decay, torch >= 2.0's option).
class RAdam : public Optimizer {
 public:
  RAdam(FlatParameters& params, const AdamConfig& config);
  void step() override;
  double lr() const override { return config_.lr; }
  void set_lr(double lr) override { config_.lr = lr; }
  std::string name() const override { return "radam"; }
  const AdamConfig& config() const { return config_; }

 private:
  AdamConfig config_;
};

// The settings of make_optimizer (tools' TrainConfig maps onto these fields one to one).
struct OptimizerOptions {
  double lr = 1e-3;
  double momentum = 0.9;      // sgd
  double dampening = 0.0;     // sgd
  bool nesterov = false;      // sgd
  double weight_decay = 0.0;  // L2 for sgd and adam, decoupled for adamw (and radam, see below)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;                      // adam / adamw
  bool radam_decoupled_weight_decay = true;  // radam: decoupled (AdamW-style) weight decay
};

// "sgd" | "adam" | "adamw" | "radam"; another name is an error listing these.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, FlatParameters& params,
                                          const OptimizerOptions& options);
const std::vector<std::string>& optimizer_names();

// torch.nn.utils.clip_grad_norm_ over the trainable parameters' gradients: total = the L2 norm of
// all of them (double accumulation, deterministic); when max_norm / (total + 1e-6) < 1 every
// trainable gradient is multiplied by that factor. Returns total (before clipping). A non-finite
// total leaves the gradients unchanged (the caller decides whether to skip the step).
double clip_grad_norm(FlatParameters& params, double max_norm);
// The L2 norm of the trainable parameters' gradients, without clipping.
double grad_norm(FlatParameters& params);

// The same two, leaving the total norm where the gradients live: an f64 scalar [] on their device,
// and on CUDA neither waits for the host (a training step reads the norm later, with its metrics).
// Same value, bit for bit, as grad_norm / clip_grad_norm. With frozen parameters between trainable
// ones (several runs) the run norms are combined on the host, which synchronises.
Tensor grad_norm_tensor(FlatParameters& params);
Tensor clip_grad_norm_tensor(FlatParameters& params, double max_norm);

}  // namespace fer::nn
