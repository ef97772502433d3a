// tensor/tensor.cpp: Tensor storage, factories, copies and views.
#include "tensor/tensor.h"

#include <cstring>
#include <sstream>

#include "fer/config.h"
#include "kernels/cast.h"
#include "kernels/device.h"
#include "tensor/allocator.h"
#include "tensor/autograd.h"

namespace fer {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Storage::Storage(Device dev, size_t nbytes) : bytes(nbytes), device(dev) { data = allocate(dev, nbytes); }
Storage::~Storage() { deallocate(device, data, bytes); }

// ---- raw copies between devices ------------------------------------------------------------------
namespace {

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::cpu && src_dev == Device::cpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
  if constexpr (kCudaBuilt) {
    const cuda_stream s = cuda::default_stream();
    if (dst_dev == Device::cuda && src_dev == Device::cpu) cuda::memcpy_h2d(dst, src, bytes, s);
    else if (dst_dev == Device::cpu && src_dev == Device::cuda) cuda::memcpy_d2h(dst, src, bytes, s);
    else cuda::memcpy_d2d(dst, src, bytes, s);
  } else {
    FER_FAIL("copy involving a CUDA tensor in a build without CUDA");
  }
}

template <typename T>
void fill_host(void* dst, int64_t n, double value) {
  T* p = static_cast<T*>(dst);
  const T v = static_cast<T>(value);
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

using cast::bf16_to_float;
using cast::float_to_bf16;

double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::u8: return static_cast<const uint8_t*>(p)[i];
    case DType::i32: return static_cast<const int32_t*>(p)[i];
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
  }
  return 0;
}

void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v)); break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
    case DType::i32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
  }
}

}  // namespace

// ---- factories ----------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) FER_CHECK(d >= 0, "Tensor::empty: negative dimension in shape " << shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(device, static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype));
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(0.0);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  FER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
            "Tensor::from_vector: " << values.size() << " values for shape " << shape_str(shape) << " ("
                                    << shape_numel(shape) << " elements)");
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu, values.size() * sizeof(T));
  return t;
}

// ---- properties ---------------------------------------------------------------------------------
int64_t Tensor::size(int64_t dim) const {
  const int64_t n = ndim();
  const int64_t d = dim < 0 ? dim + n : dim;
  FER_CHECK(d >= 0 && d < n, "Tensor::size: dim " << dim << " out of range for shape " << shape_str(shape()));
  return impl().shape[static_cast<size_t>(d)];
}

void* Tensor::raw_data() const {
  const TensorImpl& i = impl();
  return static_cast<char*>(i.storage->data) + i.offset * static_cast<int64_t>(dtype_size(i.dtype));
}

template <typename T>
T* Tensor::data() const {
  FER_CHECK(dtype() == dtype_of<T>(), "Tensor::data: tensor is " << dtype_name(dtype()) << ", accessed as "
                                                                  << dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}

bool Tensor::same_data(const Tensor& other) const {
  return impl().storage == other.impl().storage && impl().offset == other.impl().offset;
}

// ---- copies and views ---------------------------------------------------------------------------
Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape(), dtype(), device);
  copy_bytes(t.raw_data(), device, raw_data(), this->device(), nbytes());
  return t;
}

Tensor Tensor::to_dtype(DType target) const {
  if (target == dtype()) return *this;
  if (device() == Device::cuda) {
    if constexpr (kCudaBuilt) {
      Tensor dst = empty(shape(), target, device());
      const int64_t n = numel();
      const cuda_stream s = cuda::default_stream();
      const DType from = dtype();
      bool done = true;
      if (from == DType::f32 && target == DType::bf16) cuda::float_to_bf16(n, data<float>(), dst.data<uint16_t>(), s);
      else if (from == DType::bf16 && target == DType::f32) cuda::bf16_to_float(n, data<uint16_t>(), dst.data<float>(), s);
      else if (from == DType::u8 && target == DType::f32) cuda::u8_to_float(n, data<uint8_t>(), 1.f, 0.f, dst.data<float>(), s);
      else if (from == DType::i32 && target == DType::i64) cuda::convert<int32_t, int64_t>(n, data<int32_t>(), dst.data<int64_t>(), s);
      else if (from == DType::i64 && target == DType::i32) cuda::convert<int64_t, int32_t>(n, data<int64_t>(), dst.data<int32_t>(), s);
      else done = false;
      if (done) return dst;
    }
  }
  // Any other pair (and every CPU conversion): element by element on the host.
  const Tensor src = to(Device::cpu);
  Tensor dst = empty(shape(), target, Device::cpu);
  const int64_t n = numel();
  if (dtype() == DType::f32 && target == DType::bf16) {
    const float* s = src.data<float>();
    uint16_t* d = dst.data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) d[i] = float_to_bf16(s[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) store_from_double(dst.raw_data(), target, i, load_as_double(src.raw_data(), dtype(), i));
  }
  return dst.to(device());
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  copy_bytes(t.raw_data(), device(), raw_data(), device(), nbytes());
  return t;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = this->impl().offset;
  impl->shape = shape();
  impl->dtype = dtype();
  impl->name = name();
  return Tensor(std::move(impl));
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  FER_CHECK(dtype() == dtype_of<T>(), "Tensor::to_vector: tensor is " << dtype_name(dtype()) << ", requested "
                                                                       << dtype_name(dtype_of<T>()));
  std::vector<T> v(static_cast<size_t>(numel()));
  copy_bytes(v.data(), Device::cpu, raw_data(), device(), nbytes());
  return v;
}

double Tensor::item() const {
  FER_CHECK(numel() == 1, "Tensor::item: tensor has " << numel() << " elements, shape " << shape_str(shape()));
  const Tensor h = to(Device::cpu);
  return load_as_double(h.raw_data(), dtype(), 0);
}

void Tensor::copy_from(const Tensor& src) {
  FER_CHECK(src.shape() == shape() && src.dtype() == dtype(),
            "Tensor::copy_from: source " << describe(src) << " does not match destination " << describe(*this));
  copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

void Tensor::fill_(double value) {
  const int64_t n = numel();
  if (n == 0) return;
  if (device() == Device::cuda) {
    if constexpr (kCudaBuilt) {
      if (dtype() == DType::f32) {
        cuda::fill_float(data<float>(), static_cast<float>(value), static_cast<size_t>(n), cuda::default_stream());
        return;
      }
      if (value == 0.0) {
        cuda::memset_device(raw_data(), 0, nbytes(), cuda::default_stream());
        return;
      }
    }
    Tensor h = Tensor::full(shape(), value, dtype(), Device::cpu);
    copy_from(h);
    return;
  }
  switch (dtype()) {
    case DType::f32: fill_host<float>(raw_data(), n, value); break;
    case DType::f64: fill_host<double>(raw_data(), n, value); break;
    case DType::bf16: {
      const uint16_t b = float_to_bf16(static_cast<float>(value));
      auto* p = data<uint16_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = b;
      break;
    }
    case DType::u8: fill_host<uint8_t>(raw_data(), n, value); break;
    case DType::i32: fill_host<int32_t>(raw_data(), n, value); break;
    case DType::i64: fill_host<int64_t>(raw_data(), n, value); break;
  }
}

Tensor Tensor::narrow_rows(int64_t start, int64_t length) const {
  FER_CHECK(ndim() >= 1 && start >= 0 && length >= 0 && start + length <= size(0),
            "Tensor::narrow_rows: rows [" << start << ", " << start + length << ") out of range for shape "
                                          << shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = shape();
  impl->shape[0] = length;
  impl->dtype = dtype();
  impl->offset = this->impl().offset + start * (size(0) ? numel() / size(0) : 0);
  return Tensor(std::move(impl));
}

Tensor& Tensor::requires_grad_(bool on) {
  FER_CHECK(!on || is_floating(dtype()), "requires_grad: only floating-point tensors can require gradients, got "
                                             << describe(*this));
  FER_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad; hint: use detach()");
  impl().requires_grad = on;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    FER_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(),
              "set_grad: gradient " << describe(g) << " does not match tensor " << describe(*this));
  impl().grad = g.impl_ptr();
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined tensor";
  std::ostringstream os;
  os << dtype_name(t.dtype()) << shape_str(t.shape()) << " on " << device_name(t.device());
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  os << describe(t);
  if (!t.defined()) return os;
  const Tensor h = t.to(Device::cpu);
  const int64_t n = h.numel(), shown = std::min<int64_t>(n, 8);
  os << " {";
  for (int64_t i = 0; i < shown; ++i) os << (i ? ", " : "") << load_as_double(h.raw_data(), h.dtype(), i);
  if (n > shown) os << ", ...";
  return os << "}";
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  FER_CHECK(a.device() == b.device(), op << ": tensors on different devices (" << describe(a) << " vs " << describe(b)
                                         << "); hint: move both with .to(Device::...)");
}

void check_dtype(const char* op, const Tensor& t, DType expected, const char* what) {
  FER_CHECK(t.dtype() == expected, op << ": " << what << " must be " << dtype_name(expected) << ", got " << describe(t));
}

void check_ndim(const char* op, const Tensor& t, int64_t ndim, const char* what) {
  FER_CHECK(t.ndim() == ndim, op << ": " << what << " must have " << ndim << " dimensions, got " << describe(t));
}

#define FER_INSTANTIATE(T)                                                                       \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&, Device);           \
  template T* Tensor::data<T>() const;                                                           \
  template std::vector<T> Tensor::to_vector<T>() const;
FER_INSTANTIATE(float)
FER_INSTANTIATE(double)
FER_INSTANTIATE(uint16_t)
FER_INSTANTIATE(uint8_t)
FER_INSTANTIATE(int32_t)
FER_INSTANTIATE(int64_t)
#undef FER_INSTANTIATE

}  // namespace fer
