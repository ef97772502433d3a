// tensor/op_stats.h: counting what the ops do (MACs for model cost tables, a trace for teaching).
//
// While a MacCounter is alive on this thread, conv2d, conv_transpose2d, linear and bmm add their
// multiply-accumulates to it (MODELS.md's convention: only convolutions, transposed convolutions,
// linear layers and matmuls count; per forward pass).
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

 private:
  int64_t macs_ = 0;
  MacCounter* previous_;
  friend void count_macs(int64_t);
};

// Called by the ops; a no-op when no counter is active.
void count_macs(int64_t macs);

}  // namespace fer
