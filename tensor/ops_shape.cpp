// tensor/ops_shape.cpp: views that change only the shape (reshape, flatten).
// The backward of a reshape is the reshape of the gradient back to the input's shape.
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/op_record.h"

namespace fer {

namespace {
struct ReshapeBackward final : Node {
  Shape input_shape;
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {dy.reshape(input_shape)}; }
};
}  // namespace

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape shape_out = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape_out.size(); ++i) {
    if (shape_out[i] == -1) {
      FER_CHECK(infer < 0, "reshape: more than one -1 in " << shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      FER_CHECK(shape_out[i] >= 0, "reshape: negative size in " << shape_str(new_shape));
      known *= shape_out[i];
    }
  }
  if (infer >= 0) {
    FER_CHECK(known > 0 && numel() % known == 0,
              "reshape: cannot infer -1 of " << shape_str(new_shape) << " from " << numel() << " elements");
    shape_out[static_cast<size_t>(infer)] = numel() / known;
  }
  FER_CHECK(shape_numel(shape_out) == numel(), "reshape: " << shape_str(shape()) << " (" << numel()
                                                           << " elements) cannot become " << shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = this->impl().offset;
  impl->shape = shape_out;
  impl->dtype = dtype();
  Tensor out(std::move(impl));
  if (any_requires_grad({this})) {
    auto node = std::make_shared<ReshapeBackward>();
    node->input_shape = shape();
    attach_node(out, node, {this});
  }
  if (op_recording())
    record_op("reshape", {*this}, out, {{"shape", std::vector<double>(shape_out.begin(), shape_out.end())}});
  return out;
}

Tensor Tensor::flatten(int64_t start_dim) const {
  FER_CHECK(start_dim >= 0 && start_dim <= ndim(), "flatten: start_dim " << start_dim << " out of range for "
                                                                         << describe(*this));
  Shape s(shape().begin(), shape().begin() + start_dim);
  int64_t rest = 1;
  for (int64_t i = start_dim; i < ndim(); ++i) rest *= shape()[static_cast<size_t>(i)];
  s.push_back(rest);
  return reshape(s);
}

}  // namespace fer
