// tools/common/step_trace.cpp: see step_trace.h.
#include "tools/common/step_trace.h"

#include <algorithm>
#include <sstream>

#include "fer/config.h"
#include "kernels/device.h"

namespace fer::tools {

namespace {

std::string shape_text(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << "]";
  return o.str();
}

std::string si(double v) {  // 1234567 -> "1.23 G"
  const char* units[] = {"", " k", " M", " G", " T"};
  int u = 0;
  while (v >= 1000.0 && u < 4) v /= 1000.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g%s", v, units[u]);
  return buf;
}
std::string bytes_text(double v) { return si(v) + "B"; }
// fixed units (GFLOP/s, GB/s) so that lines compare across machines of different speed
std::string rates(double flops, double bytes, double seconds) {
  if (seconds <= 0) return "- GFLOP/s, - GB/s";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g GFLOP/s, %.3g GB/s", flops / seconds / 1e9, bytes / seconds / 1e9);
  return buf;
}

}  // namespace

StepTrace::StepTrace(nn::Module& model) {
  for (const auto& [path, module] : model.named_modules()) paths_[module] = path.empty() ? "(model)" : path;
}

StepTrace::~StepTrace() {
  if (recording_) nn::set_forward_hook(nullptr);
}

void StepTrace::start_forward() {
  recording_ = true;
  nn::set_forward_hook([this](const nn::ForwardEvent& e) {
    auto it = paths_.find(e.module);
    forward_.push_back({e.order, e.depth, it != paths_.end() ? it->second : "?", e.module->type_name(),
                        shape_text(e.input_shape), shape_text(e.output_shape), e.macs, e.bytes, e.seconds});
  });
}

void StepTrace::end_forward() {
  nn::set_forward_hook(nullptr);
  recording_ = false;
  std::sort(forward_.begin(), forward_.end(), [](const Row& a, const Row& b) { return a.order < b.order; });
  last_ = std::chrono::steady_clock::now();
}

void StepTrace::on_backward_node(const Node& node, const std::vector<Tensor>& grads) {
  std::ostringstream shapes;
  bool on_cuda = false;
  int64_t bytes = 0, gemms = 0, elem = 4;
  for (size_t i = 0; i < grads.size(); ++i) {
    shapes << (i ? " " : "") << (grads[i].defined() ? shape_text(grads[i].shape()) : "-");
    if (!grads[i].defined()) continue;
    on_cuda = on_cuda || grads[i].is_cuda();
    bytes += static_cast<int64_t>(grads[i].nbytes());
    elem = static_cast<int64_t>(dtype_size(grads[i].dtype()));
    if (i < 2) ++gemms;
  }
  int64_t dy_elems = 1;
  for (int64_t s : node.output_shape) dy_elems *= s;
  if (!grads.empty()) bytes += dy_elems * elem;
  if constexpr (kCudaBuilt) {
    if (on_cuda) cuda::stream_synchronize(cuda::default_stream());  // time the node, not its launch
  }
  const auto now = std::chrono::steady_clock::now();
  backward_.push_back({node.name(), shapes.str(), 2 * node.forward_macs * gemms, bytes,
                       std::chrono::duration<double>(now - last_).count()});
  last_ = now;
}

void StepTrace::print(std::FILE* out, int64_t epoch, int64_t step) const {
  std::fprintf(out,
               "trace: epoch %lld, step %lld: forward (modules in call order; time, MACs and bytes include "
               "children; bytes = inputs + outputs of the recorded ops)\n",
               static_cast<long long>(epoch), static_cast<long long>(step));
  std::fprintf(out, "  %-4s %-34s %-18s %-18s %-18s %14s %14s %10s\n", "#", "module", "type", "input", "output",
               "MACs", "bytes", "ms");
  for (const Row& r : forward_) {
    std::ostringstream module;  // indented by nesting depth
    module << std::string(static_cast<size_t>(2 * r.depth), ' ') << r.path;
    std::fprintf(out, "  %-4lld %-34s %-18s %-18s %-18s %14lld %14lld %10.3f\n", static_cast<long long>(r.order),
                 module.str().c_str(), r.type.c_str(), r.input.c_str(), r.output.c_str(),
                 static_cast<long long>(r.macs), static_cast<long long>(r.bytes), 1e3 * r.seconds);
  }
  std::fprintf(out,
               "trace: backward (autograd nodes in execution order; gradient shapes per input; FLOPs of the "
               "conv/linear/matmul gradients; bytes = dy + gradients)\n");
  std::fprintf(out, "  %-4s %-28s %-48s %14s %14s %10s\n", "#", "node", "input gradients", "FLOPs", "bytes", "ms");
  double backward_seconds = 0;
  int64_t backward_flops = 0, backward_bytes = 0;
  for (size_t i = 0; i < backward_.size(); ++i) {
    const NodeRow& b = backward_[i];
    std::fprintf(out, "  %-4zu %-28s %-48s %14lld %14lld %10.3f\n", i, b.name.c_str(), b.shapes.c_str(),
                 static_cast<long long>(b.flops), static_cast<long long>(b.bytes), 1e3 * b.seconds);
    backward_seconds += b.seconds;
    backward_flops += b.flops;
    backward_bytes += b.bytes;
  }
  if (!forward_.empty()) {  // row 0 is the model: its counts include every module's
    const Row& m = forward_.front();
    std::fprintf(out, "trace: totals: forward %s FLOP, %s, %.3f ms, %s; backward %s FLOP, %s, %.3f ms, %s\n",
                 si(2.0 * double(m.macs)).c_str(), bytes_text(double(m.bytes)).c_str(), 1e3 * m.seconds,
                 rates(2.0 * double(m.macs), double(m.bytes), m.seconds).c_str(), si(double(backward_flops)).c_str(),
                 bytes_text(double(backward_bytes)).c_str(), 1e3 * backward_seconds,
                 rates(double(backward_flops), double(backward_bytes), backward_seconds).c_str());
  }
  std::fflush(out);
}

}  // namespace fer::tools
