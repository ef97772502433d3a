// tensor/op_record.h: the forward ops as a graph, for exporters (ONNX: tools/common/onnx_export.h).
//
// While an OpRecordScope is alive on this thread, each op that an exporter can translate reports
// itself once its output exists: its name (the ops:: function, e.g. "conv2d"), its inputs (in the
// function's order; an absent optional input is an undefined Tensor), its output and its scalar
// attributes (stride, eps, the activation, ...). Tensors are identified by their TensorImpl, so the
// consumer links an op's input to the op that produced it, to a parameter of the model, or to the
// graph's input. Ops that return their input unchanged (dropout in eval mode) do not report.
// Recording costs one call that tests a thread-local pointer per op when no scope is alive (each
// op checks op_recording() before building the record).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace fer {

struct RecordedOp {
  std::string op;
  std::vector<Tensor> inputs;
  Tensor output;
  std::vector<std::pair<std::string, std::vector<double>>> attrs;  // name -> value(s)

  bool has(const std::string& name) const;
  // The attribute's single value / all values; a missing attribute is an error naming the op.
  double attr(const std::string& name) const;
  const std::vector<double>& attr_list(const std::string& name) const;
};

using OpRecorder = std::function<void(RecordedOp&&)>;

// Installs `recorder` for this thread while alive (scopes nest: the inner one receives the ops).
class OpRecordScope {
 public:
  explicit OpRecordScope(OpRecorder recorder);
  ~OpRecordScope();
  OpRecordScope(const OpRecordScope&) = delete;
  OpRecordScope& operator=(const OpRecordScope&) = delete;

 private:
  OpRecorder recorder_;
  OpRecordScope* previous_;
  friend void record_op(const char*, std::vector<Tensor>, const Tensor&,
                        std::vector<std::pair<std::string, std::vector<double>>>);
};

bool op_recording();

// Called by the ops (tensor/ops_*.cpp) after computing `output`; a no-op unless a scope is alive.
void record_op(const char* op, std::vector<Tensor> inputs, const Tensor& output,
               std::vector<std::pair<std::string, std::vector<double>>> attrs = {});

}  // namespace fer
