// nn/safetensors.h: reading and writing the safetensors format (Hugging Face's tensor files).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the raw little-endian
// tensor data. The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (byte offsets into the data section) and may hold "__metadata__": {string: string}. fer reads
// and writes F32, F64, BF16, U8, I32 and I64, which map one to one onto fer's dtypes. PyTorch
// writes the same files with safetensors.torch.save_file(model.state_dict()), and this module's
// files load in PyTorch with safetensors.torch.load_file.
//
// Everything read is validated (header length within the file, JSON shape, dtype, shape product
// against the byte range, ranges inside the data and not overlapping): a corrupt or truncated file
// throws fer::Error naming the file and the offending field; it never crashes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace fer::nn::safetensors {

struct TensorRef {
  std::string name;
  Tensor tensor;
};

// The dtype names of the format ("F32", ...) and back (throws on a name fer does not read).
const char* dtype_to_string(DType dtype);
DType dtype_from_string(const std::string& name, const std::string& what);

// Writes `tensors` (any device; CUDA tensors are copied to the host) and `metadata` to `path`
// atomically (nn/atomic_file.h). Names must be unique, non-empty and not "__metadata__".
void save(const std::string& path, const std::vector<TensorRef>& tensors,
          const std::map<std::string, std::string>& metadata = {});
// The same bytes in memory.
std::string serialize(const std::vector<TensorRef>& tensors, const std::map<std::string, std::string>& metadata = {});

// Only the header's metadata, reading just the header (the tensors' entries are still validated).
std::map<std::string, std::string> read_metadata(const std::string& path);

class File {
 public:
  struct Entry {
    DType dtype = DType::f32;
    Shape shape;
    size_t begin = 0;  // byte range in the data section
    size_t end = 0;
  };

  // Reads and validates the whole file.
  static File load(const std::string& path);
  // Validates `bytes` (a whole file's contents); `what` names it in errors (a path or "buffer").
  static File parse(std::string bytes, const std::string& what);

  const std::string& what() const { return what_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  const Entry& entry(const std::string& name) const;
  // A new CPU tensor holding the named tensor.
  Tensor at(const std::string& name) const;
  // Copies the named tensor into `dst` (any device). Shape and dtype must match exactly; the error
  // names the file, the tensor, and the expected and stored shape/dtype.
  void copy_to(const std::string& name, Tensor& dst) const;

 private:
  std::string what_;
  std::string bytes_;
  size_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace fer::nn::safetensors
