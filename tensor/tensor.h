// tensor/tensor.h: the Tensor handle.
//
// A Tensor is a shared handle (copying it shares the data, like PyTorch) to:
//   storage   refcounted memory on one device (CPU or CUDA)
//   offset    where this tensor's elements start inside the storage (in elements)
//   shape     sizes of each dimension; tensors are always dense row-major (NCHW for images):
//             the stride of dim i is the product of the sizes after it. Ops that change the
//             layout (permute, slice on an inner dim) copy; reshape and narrow on dim 0 are views.
//   dtype     f32 (reference), f64 (CPU gradient checks), bf16, u8, i32, i64
//   autograd  requires_grad, grad, and grad_fn (the node of the tape that produced it)
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "tensor/dtype.h"

namespace fer {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

struct Node;
struct AccumulateGrad;

// Refcounted memory block on one device.
struct Storage {
  Storage(Device device, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::f32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;           // accumulated gradient (leaves)
  std::shared_ptr<Node> grad_fn;              // the node that produced this tensor (non-leaves)
  std::shared_ptr<AccumulateGrad> accumulator;  // leaves: the node that adds into grad
  std::string name;                           // optional, for error messages and tracing
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories --------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
  // Copies host values into a new tensor (on `device`); values.size() must equal the shape's numel.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu);
  static Tensor from_floats(std::initializer_list<float> values, const Shape& shape, Device device = Device::cpu) {
    return from_vector(std::vector<float>(values), shape, device);
  }

  // ---- properties -------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t ndim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  bool is_cuda() const { return device() == Device::cuda; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  const std::string& name() const { return impl().name; }
  Tensor& set_name(std::string n) {
    impl().name = std::move(n);
    return *this;
  }

  // Typed pointers to the first element (checked against the dtype).
  template <typename T>
  T* data() const;
  void* raw_data() const;
  // True when both handles share storage and offset (same data).
  bool same_data(const Tensor& other) const;

  // ---- copies and views ---------------------------------------------------------------------
  Tensor to(Device device) const;  // copy to another device (no autograd); same device: shares
  Tensor to_dtype(DType dtype) const;  // cast (no autograd); same dtype: shares
  Tensor clone() const;                // deep copy, same device and dtype (no autograd)
  Tensor detach() const;               // shares data, no autograd history
  template <typename T>
  std::vector<T> to_vector() const;  // copies to the host
  double item() const;               // the value of a one-element tensor
  void copy_from(const Tensor& src);  // element copy, same shape and dtype, any devices (no autograd)
  void fill_(double value);           // no autograd
  void zero_() { fill_(0.0); }
  // A view of rows [start, start+length) along dim 0 (no autograd, shares storage).
  Tensor narrow_rows(int64_t start, int64_t length) const;
  // A view with another shape of the same numel (differentiable). One dim may be -1.
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 1) const;  // [N, ...] -> [N, prod(...)]

  // ---- autograd -----------------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // Backpropagates from this tensor. A scalar uses gradient 1; otherwise pass the gradient.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  TensorImpl& impl() const {
    FER_CHECK(impl_ != nullptr, "use of an undefined tensor; hint: the tensor was default-constructed or moved from");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
// "f32[64, 1, 48, 48] on cpu"
std::string describe(const Tensor& t);

// ---- checks used by ops ----------------------------------------------------------------------
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_dtype(const char* op, const Tensor& t, DType expected, const char* what);
void check_ndim(const char* op, const Tensor& t, int64_t ndim, const char* what);

}  // namespace fer
