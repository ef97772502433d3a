// tensor/allocator.h: where tensor memory comes from.
//
// CPU: 64-byte aligned blocks from the system allocator; blocks of 1 MiB and more are cached by size
// after their tensor dies (up to 1 GiB in all) and reused by the next request of that size, which
// spares a training step the page faults of fresh large blocks.
// CUDA: a caching pool on fer's single stream. Freed blocks go back to per-size free lists and are
// reused by later allocations; since every kernel runs on the same stream, a block freed after its
// last kernel was enqueued can be handed out again at once (stream order keeps the uses apart).
// Sizes are rounded up (512 B granularity, 2 MiB above 1 MiB) so steady-state training stops calling
// cudaMalloc after the first step. When cudaMalloc fails, the cache is released and the call retried
// once; a second failure reports the requested and free bytes and suggests a smaller batch.
// FER_CUDA_ALLOC=direct in the environment turns rounding and caching off (every block is a
// cudaMalloc of exactly the tensor's bytes, cudaFree'd when it dies): for compute-sanitizer memcheck,
// which cannot see an out-of-bounds access that stays inside a larger cached block.
//
// Private pools (what a captured CUDA graph needs, on either device so the CPU tests prove the
// rules): while a PoolScope of device D is active, every allocation of D is served by the pool
// (its own free blocks first, then the device's cache or the system), and every block of D freed
// meanwhile joins the pool, whoever allocated it. A pool's blocks go back to the pool's free lists
// when their tensors die, also after the scope ended, and are handed out again only inside a scope
// of that pool. So the memory a captured graph reads and writes on every replay is never given to
// another tensor while the pool lives. Destroying the pool passes its free blocks to the device's
// cache; blocks still held by tensors go there when those tensors die.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace fer {

struct AllocatorStats {
  int64_t allocated_bytes = 0;       // in use by live tensors
  int64_t peak_allocated_bytes = 0;  // maximum of allocated_bytes since the last reset
  int64_t reserved_bytes = 0;        // allocated + cached
  int64_t alloc_calls = 0;           // allocate() calls
  int64_t system_calls = 0;          // malloc / cudaMalloc calls actually made
};

void* allocate(Device device, size_t bytes);
void deallocate(Device device, void* ptr, size_t bytes);

AllocatorStats allocator_stats(Device device);
void reset_peak_stats(Device device);
// Returns the device's cached blocks to the driver / the system allocator.
void empty_cache(Device device);

class MemoryPool {
 public:
  explicit MemoryPool(Device device);
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;
  Device device() const { return device_; }
  // Bytes of the blocks the pool owns: held by live tensors plus free in the pool.
  int64_t owned_bytes() const;
  // Of those, the bytes free in the pool (ready for the next allocation inside a scope).
  int64_t free_bytes() const;

 private:
  friend class PoolScope;
  Device device_;
  int64_t id_;
};

// Routes the device's allocations to `pool` until destroyed. Scopes do not nest (one graph is
// captured at a time); a second scope on the same device is an error.
class PoolScope {
 public:
  explicit PoolScope(MemoryPool& pool);
  ~PoolScope();
  PoolScope(const PoolScope&) = delete;
  PoolScope& operator=(const PoolScope&) = delete;

 private:
  Device device_;
};

}  // namespace fer
