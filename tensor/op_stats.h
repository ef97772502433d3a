// tensor/op_stats.h: counting what the ops do (MACs for model cost tables, MACs and bytes for the
// teaching trace, fertrain --trace).
//
// While a MacCounter is alive on this thread:
//   macs   conv2d, conv_transpose2d, linear and bmm add their multiply-accumulates (MODELS.md's
//          convention: only convolutions, transposed convolutions, linear layers and matmuls count;
//          per forward pass);
//   bytes  every op that records an autograd node adds the bytes of its inputs and its output
//          (a lower bound of its memory traffic: what it must read and write at least once).
// Counters nest: an inner counter's counts also reach the outer ones (a module and its parents).
#pragma once

#include <cstdint>

namespace fer {

class MacCounter {
 public:
  MacCounter();
  ~MacCounter();
  MacCounter(const MacCounter&) = delete;
  MacCounter& operator=(const MacCounter&) = delete;
  int64_t macs() const { return macs_; }
  int64_t bytes() const { return bytes_; }

 private:
  int64_t macs_ = 0;
  int64_t bytes_ = 0;
  MacCounter* previous_;
  friend void count_macs(int64_t);
  friend void count_bytes(int64_t);
};

// Called by the ops (count_bytes by the autograd recorder); no-ops when no counter is active.
void count_macs(int64_t macs);
void count_bytes(int64_t bytes);
bool op_counting_active();

}  // namespace fer
