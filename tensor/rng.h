// tensor/rng.h: the run's random number generator, built on Philox 4x32-10 (kernels/philox.h).
//
// A Generator is a seed plus one 64-bit position per named stream. A consumer reserves `count`
// numbers of its stream and receives the starting offset; number i of that draw is
// philox(seed, stream, offset + i), on the CPU or inside a CUDA kernel alike. So a run is fully
// determined by its seed and the sequence of draws, and saving the positions (state()) is enough
// to resume it exactly.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace fer {

enum class RngStream : uint32_t { init = 0, dropout = 1, augment = 2, shuffle = 3, data = 4, misc = 5 };
inline constexpr size_t kRngStreams = 6;

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  // Reserves `count` numbers of `stream` (rounded up to whole Philox blocks of 4); returns the first offset.
  uint64_t reserve(RngStream stream, uint64_t count);
  // Stream id as passed to philox (stream index; the seed is the key).
  static uint64_t stream_id(RngStream s) { return static_cast<uint64_t>(s); }

  std::array<uint64_t, kRngStreams> state() const { return positions_; }
  void set_state(uint64_t seed, const std::array<uint64_t, kRngStreams>& positions) {
    seed_ = seed;
    positions_ = positions;
  }

  // CUDA graph capture of a training step (tools' StepGraph). A graph freezes kernel arguments, so
  // while a capture is in progress a draw is located relative to the step's start, and the kernel
  // adds the start from device memory when it runs (kernels/dropout.h, offset_base):
  //   begin_capture(bases)   bases: kRngStreams uint64 in device memory; the runner writes the
  //                          stream positions there before every replay
  //   locate(s, offset)      for an offset from reserve(): {offset, null} outside a capture, and
  //                          {offset - start of s, &bases[s]} during one
  //   end_capture()          back to absolute offsets
  // reserve() advances the positions during a capture exactly as in an uncaptured step, so the
  // numbers a step consumes are the difference of state() around the capture; the runner advances
  // the positions by that much after each replay, and replay k draws what uncaptured step k would.
  struct Draw {
    uint64_t offset;
    const uint64_t* base;
  };
  void begin_capture(const uint64_t* device_bases);
  void end_capture() { capture_bases_ = nullptr; }
  bool capturing() const { return capture_bases_ != nullptr; }
  Draw locate(RngStream stream, uint64_t offset) const;

 private:
  uint64_t seed_;
  std::array<uint64_t, kRngStreams> positions_{};
  const uint64_t* capture_bases_ = nullptr;
  std::array<uint64_t, kRngStreams> capture_start_{};
};

// The process-wide generator used by layers (init, dropout) unless one is passed explicitly.
Generator& default_generator();
void manual_seed(uint64_t seed);

// In-place fills (no autograd), computed on the CPU from Philox and copied to the tensor's device,
// so they are identical whatever the device. f32 or f64 tensors.
void uniform_(Tensor& t, double low, double high, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double stddev, Generator& gen = default_generator());

}  // namespace fer
