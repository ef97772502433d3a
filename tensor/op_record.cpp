// tensor/op_record.cpp: see op_record.h.
#include "tensor/op_record.h"

#include "kernels/common.h"

namespace fer {

namespace {
thread_local OpRecordScope* t_scope = nullptr;
}  // namespace

bool RecordedOp::has(const std::string& name) const {
  for (const auto& [n, v] : attrs)
    if (n == name) return true;
  return false;
}

const std::vector<double>& RecordedOp::attr_list(const std::string& name) const {
  for (const auto& [n, v] : attrs)
    if (n == name) return v;
  FER_FAIL("recorded op " << op << ": no attribute '" << name << "'");
}

double RecordedOp::attr(const std::string& name) const {
  const std::vector<double>& v = attr_list(name);
  FER_CHECK(v.size() == 1, "recorded op " << op << ": attribute '" << name << "' has " << v.size() << " values, not 1");
  return v[0];
}

OpRecordScope::OpRecordScope(OpRecorder recorder) : recorder_(std::move(recorder)), previous_(t_scope) {
  t_scope = this;
}

OpRecordScope::~OpRecordScope() { t_scope = previous_; }

bool op_recording() { return t_scope != nullptr; }

void record_op(const char* op, std::vector<Tensor> inputs, const Tensor& output,
               std::vector<std::pair<std::string, std::vector<double>>> attrs) {
  if (t_scope == nullptr) return;
  // an op that handed back its input (dropout in eval mode) adds nothing to the graph
  if (inputs.size() == 1 && inputs[0].defined() && inputs[0].impl_ptr() == output.impl_ptr()) return;
  t_scope->recorder_(RecordedOp{op, std::move(inputs), output, std::move(attrs)});
}

}  // namespace fer
