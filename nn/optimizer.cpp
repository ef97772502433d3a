// nn/optimizer.cpp: see optimizer.h.
#include "nn/optimizer.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "fer/config.h"
#include "kernels/device.h"
#include "tensor/dispatch.h"

namespace fer::nn {

namespace {

// Pointer to element `offset` of a flat buffer (CPU or CUDA memory).
template <typename T>
T* at(const Tensor& t, int64_t offset) {
  return t.data<T>() + offset;
}

// Pointer to element `offset` of an optional buffer (undefined tensor: null).
template <typename T>
T* at_opt(const Tensor& t, int64_t offset) {
  return t.defined() ? t.data<T>() + offset : nullptr;
}

}  // namespace

Optimizer::Optimizer(FlatParameters& params) : params_(params), param_steps_(params.entries().size(), 0) {
  const DType dt = params.values().dtype();
  FER_CHECK(dt == DType::f32 || dt == DType::f64,
            "Optimizer: parameters must be f32 (or f64 on the CPU), got " << dtype_name(dt));
  check_cuda_float("Optimizer", params.values());
}

Tensor Optimizer::zeros_like_params() const {
  return Tensor::zeros({params_.size()}, params_.values().dtype(), params_.device());
}

template <typename Fn>
void Optimizer::for_each_run(Fn&& fn) {
  ++step_count_;
  const auto& entries = params_.entries();
  int64_t run_offset = 0, run_count = 0, run_step = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (!e.param.requires_grad()) continue;
    const int64_t s = ++param_steps_[i];
    if (run_count > 0 && run_offset + run_count == e.offset && run_step == s) {
      run_count += e.count;
      continue;
    }
    if (run_count > 0) fn(run_offset, run_count, run_step);
    run_offset = e.offset, run_count = e.count, run_step = s;
  }
  if (run_count > 0) fn(run_offset, run_count, run_step);
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("step", Tensor::from_vector(param_steps_, {static_cast<int64_t>(param_steps_.size())}));
  out.emplace_back("step_count", Tensor::from_vector(std::vector<int64_t>{step_count_}, {1}));
  for (const auto& [name, t] : buffers_) out.emplace_back(name, t);
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  auto expected = state_tensors();
  std::ostringstream want;
  for (const auto& [n, t] : expected) want << " " << n << " " << describe(t) << ";";
  FER_CHECK(state.size() == expected.size(),
            name() << " optimizer load_state: got " << state.size() << " state tensors, expected " << expected.size()
                   << " (" << want.str() << " ); hint: the state belongs to another optimizer or settings");
  for (size_t i = 0; i < state.size(); ++i) {
    const auto& [n, t] = state[i];
    const auto& [en, et] = expected[i];
    FER_CHECK(n == en && t.defined() && t.shape() == et.shape() && t.dtype() == et.dtype(),
              name() << " optimizer load_state: entry " << i << " is '" << n << "' "
                     << (t.defined() ? describe(t) : std::string("undefined")) << ", expected '" << en << "' "
                     << describe(et) << "; hint: the state belongs to another optimizer, model or settings");
  }
  const auto steps = state[0].second.to_vector<int64_t>();
  for (int64_t s : steps) FER_CHECK(s >= 0, name() << " optimizer load_state: negative step count " << s);
  const int64_t count = state[1].second.to_vector<int64_t>()[0];
  FER_CHECK(count >= 0, name() << " optimizer load_state: negative step_count " << count);
  for (size_t i = 2; i < state.size(); ++i) buffers_[i - 2].second.copy_from(state[i].second);
  param_steps_.assign(steps.begin(), steps.end());
  step_count_ = count;
}

void Optimizer::prepare_step() {
  runs_.clear();
  host_scalars_.clear();
  for_each_run([&](int64_t off, int64_t n, int64_t s) {
    runs_.emplace_back(off, n);
    host_scalars_.resize(host_scalars_.size() + optim::kStepScalars);
    step_scalars(s, host_scalars_.data() + host_scalars_.size() - optim::kStepScalars);
  });
  if (runs_.empty()) return;
  const int64_t slots = static_cast<int64_t>(params_.entries().size()) * optim::kStepScalars;
  if (!scalars_.defined()) scalars_ = Tensor::zeros({slots}, DType::f64, params_.device());
  const size_t bytes = host_scalars_.size() * sizeof(double);
  if (scalars_.device() == Device::cuda) {
    if constexpr (kCudaBuilt) cuda::memcpy_h2d(scalars_.data<double>(), host_scalars_.data(), bytes, cuda::default_stream());
  } else {
    std::copy(host_scalars_.begin(), host_scalars_.end(), scalars_.data<double>());
  }
}

void Optimizer::apply_step() {
  for (size_t r = 0; r < runs_.size(); ++r)
    apply_run(runs_[r].first, runs_[r].second, scalars_.data<double>() + r * optim::kStepScalars);
}

// ---- SGD ---------------------------------------------------------------------------------------

Sgd::Sgd(FlatParameters& params, const SgdConfig& config) : Optimizer(params), config_(config) {
  check_sgd("Sgd", params.size(), config_, 1, true);
  if (config_.momentum != 0) buffers_.emplace_back("momentum_buffer", zeros_like_params());
}

void Sgd::step_scalars(int64_t step, double* out) const { optim::sgd_step_scalars(config_, step, out); }

void Sgd::apply_run(int64_t off, int64_t n, const double* scalars) {
  const Tensor& p = params_.values();
  const Tensor& g = params_.grads();
  const Tensor buf = buffers_.empty() ? Tensor() : buffers_[0].second;
  on_device(
      "Sgd::step", p.device(),
      [&] {
        with_floating("Sgd::step", p.dtype(), [&](auto tag) {
          using T = decltype(tag);
          cpu::sgd_apply<T>(n, at<T>(p, off), at<T>(g, off), at_opt<T>(buf, off), config_, scalars);
        });
      },
      [&](cuda_stream stream) {
        cuda::sgd_apply(n, at<float>(p, off), at<float>(g, off), at_opt<float>(buf, off), config_, scalars, stream);
      });
}

// ---- Adam / AdamW ------------------------------------------------------------------------------

Adam::Adam(FlatParameters& params, const AdamConfig& config) : Optimizer(params), config_(config) {
  check_adam("Adam", params.size(), config_, 1, true);
  buffers_.emplace_back("exp_avg", zeros_like_params());
  buffers_.emplace_back("exp_avg_sq", zeros_like_params());
  if (config_.amsgrad) buffers_.emplace_back("max_exp_avg_sq", zeros_like_params());
}

void Adam::step_scalars(int64_t step, double* out) const { optim::adam_step_scalars(config_, step, out); }

void Adam::apply_run(int64_t off, int64_t n, const double* scalars) {
  const Tensor& p = params_.values();
  const Tensor& g = params_.grads();
  const Tensor m = buffers_[0].second, v = buffers_[1].second;
  const Tensor vmax = config_.amsgrad ? buffers_[2].second : Tensor();
  on_device(
      "Adam::step", p.device(),
      [&] {
        with_floating("Adam::step", p.dtype(), [&](auto tag) {
          using T = decltype(tag);
          cpu::adam_apply<T>(n, at<T>(p, off), at<T>(g, off), at<T>(m, off), at<T>(v, off), config_, scalars,
                             at_opt<T>(vmax, off));
        });
      },
      [&](cuda_stream stream) {
        cuda::adam_apply(n, at<float>(p, off), at<float>(g, off), at<float>(m, off), at<float>(v, off), config_,
                         scalars, stream, at_opt<float>(vmax, off));
      });
}

// ---- RAdam -------------------------------------------------------------------------------------

RAdam::RAdam(FlatParameters& params, const AdamConfig& config) : Optimizer(params), config_(config) {
  FER_CHECK(!config_.amsgrad, "RAdam: amsgrad is an Adam option; hint: use --optimizer adam for amsgrad");
  check_adam("RAdam", params.size(), config_, 1, false);
  buffers_.emplace_back("exp_avg", zeros_like_params());
  buffers_.emplace_back("exp_avg_sq", zeros_like_params());
}

void RAdam::step_scalars(int64_t step, double* out) const { optim::radam_step_scalars(config_, step, out); }

void RAdam::apply_run(int64_t off, int64_t n, const double* scalars) {
  const Tensor& p = params_.values();
  const Tensor& g = params_.grads();
  const Tensor m = buffers_[0].second, v = buffers_[1].second;
  on_device(
      "RAdam::step", p.device(),
      [&] {
        with_floating("RAdam::step", p.dtype(), [&](auto tag) {
          using T = decltype(tag);
          cpu::radam_apply<T>(n, at<T>(p, off), at<T>(g, off), at<T>(m, off), at<T>(v, off), config_, scalars);
        });
      },
      [&](cuda_stream stream) {
        cuda::radam_apply(n, at<float>(p, off), at<float>(g, off), at<float>(m, off), at<float>(v, off), config_,
                          scalars, stream);
      });
}

// ---- factory -----------------------------------------------------------------------------------

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {"sgd", "adam", "adamw", "radam"};
  return names;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, FlatParameters& params, const OptimizerOptions& o) {
  if (name == "sgd") {
    SgdConfig c;
    c.lr = o.lr, c.momentum = o.momentum, c.dampening = o.dampening, c.weight_decay = o.weight_decay;
    c.nesterov = o.nesterov;
    return std::make_unique<Sgd>(params, c);
  }
  AdamConfig c;
  c.lr = o.lr, c.beta1 = o.beta1, c.beta2 = o.beta2, c.eps = o.eps, c.weight_decay = o.weight_decay;
  if (name == "adam" || name == "adamw") {
    c.decoupled_weight_decay = name == "adamw";
    c.amsgrad = o.amsgrad;
    return std::make_unique<Adam>(params, c);
  }
  if (name == "radam") {
    c.decoupled_weight_decay = o.radam_decoupled_weight_decay;
    return std::make_unique<RAdam>(params, c);
  }
  std::ostringstream valid;
  for (const auto& n : optimizer_names()) valid << (valid.tellp() > 0 ? ", " : "") << n;
  FER_FAIL("make_optimizer: unknown optimizer '" << name << "'; valid: " << valid.str());
}

// ---- gradient norm and clipping ----------------------------------------------------------------

namespace {

// Sum over the trainable runs of (run norm)^2, then sqrt.
double trainable_grad_norm(FlatParameters& params) {
  const Tensor& g = params.grads();
  check_cuda_float("clip_grad_norm", g);
  double total_sq = 0;
  const auto runs = params.trainable_runs();
  Tensor workspace;
  for (const auto& [off, n] : runs) {
    double norm = 0;
    on_device(
        "clip_grad_norm", g.device(),
        [&] {
          with_floating("clip_grad_norm", g.dtype(), [&](auto tag) {
            using T = decltype(tag);
            norm = cpu::grad_norm<T>(n, at<T>(g, off));
          });
        },
        [&](cuda_stream stream) {
          const int64_t bytes = static_cast<int64_t>(cuda::grad_norm_workspace_bytes(n));
          if (!workspace.defined() || workspace.numel() < bytes)
            workspace = Tensor::empty({bytes}, DType::u8, Device::cuda);
          norm = cuda::grad_norm(n, at<float>(g, off), workspace.raw_data(), stream);
        });
    if (runs.size() == 1) return norm;  // the common case: no extra rounding
    total_sq += norm * norm;
  }
  return std::sqrt(total_sq);
}

}  // namespace

double grad_norm(FlatParameters& params) {
  return trainable_grad_norm(params);
}

double clip_grad_norm(FlatParameters& params, double max_norm) {
  FER_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got " << max_norm << "; hint: 0 turns clipping off");
  const double total = trainable_grad_norm(params);
  const double coef = optim::clip_factor(total, max_norm);
  if (coef == 1.0) return total;  // PyTorch clamps the coefficient to 1; a non-finite total changes nothing
  const Tensor& g = params.grads();
  for (const auto& [off, n] : params.trainable_runs()) {
    on_device(
        "clip_grad_norm", g.device(),
        [&] {
          with_floating("clip_grad_norm", g.dtype(), [&](auto tag) {
            using T = decltype(tag);
            cpu::scale<T>(n, at<T>(g, off), coef);
          });
        },
        [&](cuda_stream stream) { cuda::scale(n, at<float>(g, off), coef, stream); });
  }
  return total;
}

Tensor grad_norm_tensor(FlatParameters& params) {
  const Tensor& g = params.grads();
  const auto runs = params.trainable_runs();
  if constexpr (kCudaBuilt) {
    if (g.device() == Device::cuda && runs.size() == 1) {
      check_cuda_float("grad_norm", g);
      const auto [off, n] = runs[0];
      Tensor workspace =
          Tensor::empty({static_cast<int64_t>(cuda::grad_norm_workspace_bytes(n))}, DType::u8, Device::cuda);
      Tensor norm = Tensor::empty({}, DType::f64, Device::cuda);
      cuda::grad_norm_to(n, at<float>(g, off), workspace.raw_data(), norm.data<double>(), cuda::default_stream());
      return norm;  // the workspace returns to the caching allocator; the stream orders its reuse
    }
  }
  return Tensor::from_vector(std::vector<double>{trainable_grad_norm(params)}, {}, g.device());
}

Tensor clip_grad_norm_tensor(FlatParameters& params, double max_norm) {
  FER_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got " << max_norm << "; hint: 0 turns clipping off");
  Tensor total = grad_norm_tensor(params);
  const Tensor& g = params.grads();
  for (const auto& [off, n] : params.trainable_runs()) {
    on_device(
        "clip_grad_norm", g.device(),
        [&] {
          with_floating("clip_grad_norm", g.dtype(), [&](auto tag) {
            using T = decltype(tag);
            cpu::clip_by_norm<T>(n, at<T>(g, off), total.data<double>(), max_norm);
          });
        },
        [&](cuda_stream stream) { cuda::clip_by_norm(n, at<float>(g, off), total.data<double>(), max_norm, stream); });
  }
  return total;
}

}  // namespace fer::nn
