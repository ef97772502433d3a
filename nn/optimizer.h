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

  // One update of every trainable parameter from the gradients in params.grads():
  // prepare_step() then apply_step().
  void step() {
    prepare_step();
    apply_step();
  }
  // The host half of a step: advances the step counts and computes each run's scalars (learning
  // rate, bias corrections; kernels/optim.h) in double, then writes them to a small f64 tensor on the
  // parameters' device (on CUDA an asynchronous copy: the host never waits).
  void prepare_step();
  // The device half: one update kernel per run, reading the scalars from that tensor. Its launches
  // and their arguments are the same every step while the trainable set stays the same (runs()), so
  // a CUDA graph can capture it once and replay it after each prepare_step.
  void apply_step();
  // The runs of the last prepare_step: (offset, count) of each block of consecutive trainable
  // parameters that share one step count.
  const std::vector<std::pair<int64_t, int64_t>>& runs() const { return runs_; }
  const FlatParameters& params() const { return params_; }
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
  // The kStepScalars scalars of a run at per-parameter step `step` (the kernels' layout).
  virtual void step_scalars(int64_t step, double* out) const = 0;
  // The update kernel of one run; `scalars` points into the scalars tensor (the parameters' device).
  virtual void apply_run(int64_t offset, int64_t count, const double* scalars) = 0;

  FlatParameters& params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;  // the named state besides "step"

 private:
  std::vector<int64_t> param_steps_;  // per FlatParameters entry
  int64_t step_count_ = 0;
  std::vector<std::pair<int64_t, int64_t>> runs_;  // of the last prepare_step
  std::vector<double> host_scalars_;               // kStepScalars per run, computed by prepare_step
  Tensor scalars_;                                 // f64 [entries * kStepScalars] on the parameters' device
};

class Sgd : public Optimizer {
 public:
  Sgd(FlatParameters& params, const SgdConfig& config);
  double lr() const override { return config_.lr; }
  void set_lr(double lr) override { config_.lr = lr; }
  std::string name() const override { return "sgd"; }
  const SgdConfig& config() const { return config_; }

 protected:
  void step_scalars(int64_t step, double* out) const override;
  void apply_run(int64_t offset, int64_t count, const double* scalars) override;

 private:
  SgdConfig config_;
};

// Adam; AdamW when config.decoupled_weight_decay.
class Adam : public Optimizer {
 public:
  Adam(FlatParameters& params, const AdamConfig& config);
  double lr() const override { return config_.lr; }
  void set_lr(double lr) override { config_.lr = lr; }
  std::string name() const override { return config_.decoupled_weight_decay ? "adamw" : "adam"; }
  const AdamConfig& config() const { return config_; }

 protected:
  void step_scalars(int64_t step, double* out) const override;
  void apply_run(int64_t offset, int64_t count, const double* scalars) override;

 private:
  AdamConfig config_;
};

// RAdam (decoupled weight decay when config.decoupled_weight_decay, torch >= 2.0's option).
class RAdam : public Optimizer {
 public:
  RAdam(FlatParameters& params, const AdamConfig& config);
  double lr() const override { return config_.lr; }
  void set_lr(double lr) override { config_.lr = lr; }
  std::string name() const override { return "radam"; }
  const AdamConfig& config() const { return config_; }

 protected:
  void step_scalars(int64_t step, double* out) const override;
  void apply_run(int64_t offset, int64_t count, const double* scalars) override;

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
