// tensor/dtype.h: element types and devices.
//
//   f32   the reference precision of every op
//   f64   CPU only: gradient checks of ops and small models in double precision
//   bf16  mixed precision storage (conversion kernels; compute comes with the GPU precision work)
//   u8    images (the whole training set lives on the GPU as uint8)
//   i32   labels, argmax indices
//   i64   indices and BatchNorm's num_batches_tracked (PyTorch-compatible checkpoints)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fer {

enum class DType : uint8_t { f32, f64, bf16, u8, i32, i64 };
enum class Device : uint8_t { cpu, cuda };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16: return 2;
    case DType::u8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::u8: return "u8";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64 || t == DType::bf16; }

// The C++ type behind a dtype, for typed access (bf16 is stored as its raw 16 bits).
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<double>() { return DType::f64; }
template <>
constexpr DType dtype_of<uint16_t>() { return DType::bf16; }
template <>
constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace fer
