// tensor/allocator.cpp: CPU aligned allocation (with a cache of large blocks) and the CUDA caching
// pool (see allocator.h).
#include "tensor/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fer/config.h"
#include "kernels/common.h"
#include "kernels/device.h"

namespace fer {
namespace {

struct Counters {
  AllocatorStats stats;
  void on_alloc(size_t bytes) {
    stats.alloc_calls++;
    stats.allocated_bytes += static_cast<int64_t>(bytes);
    if (stats.allocated_bytes > stats.peak_allocated_bytes) stats.peak_allocated_bytes = stats.allocated_bytes;
  }
  void on_free(size_t bytes) { stats.allocated_bytes -= static_cast<int64_t>(bytes); }
};

std::mutex g_mutex;
Counters g_cpu, g_cuda;
// CUDA free lists: rounded size -> cached blocks of exactly that size.
std::map<size_t, std::vector<void*>> g_cuda_free;
// Per device (index: Device::cpu, Device::cuda): the private pool of the active PoolScope, 0 none.
int64_t g_active_pool[2] = {0, 0};

// FER_CUDA_ALLOC=direct (read once): no rounding and no cache; every CUDA block is a cudaMalloc of
// exactly its tensor's bytes and goes back with cudaFree when the tensor dies (private pools still
// keep theirs). Slow; it is for compute-sanitizer memcheck, which cannot see an access past a
// tensor's end that stays inside a larger cached block.
bool cuda_direct() {
  static const bool direct = [] {
    const char* v = std::getenv("FER_CUDA_ALLOC");
    return v != nullptr && std::string(v) == "direct";
  }();
  return direct;
}

size_t round_cuda(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20;
  if (bytes == 0) bytes = 1;
  if (cuda_direct()) return bytes;
  if (bytes <= (size_t(1) << 20)) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

void release_cuda_cache_locked() {
  // emptied first, so no freed block stays listed for reuse; every block is freed even when one
  // cudaFree fails (the sticky error of an earlier fault), then the failure is reported once
  const std::map<size_t, std::vector<void*>> blocks_by_size = std::move(g_cuda_free);
  g_cuda_free.clear();
  int64_t failed = 0;
  for (const auto& [size, blocks] : blocks_by_size) {
    for (void* p : blocks) {
      g_cuda.stats.reserved_bytes -= static_cast<int64_t>(size);
      if constexpr (kCudaBuilt) failed += cuda::device_free_nothrow(p) ? 0 : 1;
    }
  }
  FER_CHECK(failed == 0, "releasing the CUDA cache: cudaFree failed for " << failed
                             << " block(s); an earlier kernel probably faulted (run with FER_DEBUG_SYNC=1 to name it)");
}

void* cuda_allocate_locked(size_t bytes) {
  const size_t size = round_cuda(bytes);
  auto it = g_cuda_free.find(size);
  if (it != g_cuda_free.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    g_cuda.on_alloc(size);
    return p;
  }
  void* p = nullptr;
  if constexpr (kCudaBuilt) {
    try {
      p = cuda::device_malloc(size);
    } catch (const Error& e) {
      // give cached blocks back and try once more; not while a graph is captured into a pool (cudaFree
      // is not allowed during a capture)
      if (g_active_pool[1] != 0)
        FER_FAIL(e.what() << "; this happened while a CUDA graph was being captured; hint: a smaller --batch-size, "
                          << "or --cuda-graph off");
      release_cuda_cache_locked();
      p = cuda::device_malloc(size, g_cuda.stats.allocated_bytes);
    }
  } else {
    FER_FAIL("CUDA tensor requested but this build has no CUDA backend; hint: use --device cpu or rebuild with nvcc");
  }
  g_cuda.stats.system_calls++;
  g_cuda.stats.reserved_bytes += static_cast<int64_t>(size);
  g_cuda.on_alloc(size);
  return p;
}

// CPU: blocks of at least kCpuCacheMin bytes are kept after their tensor dies, by exact rounded
// size, and handed to the next request of that size (a training step allocates the same shapes every
// step; fresh large blocks come from mmap and cost a page fault per 4 KiB on first touch). The cache
// holds at most kCpuCacheMax bytes; beyond that, freed blocks go back to the system.
constexpr size_t kCpuCacheMin = size_t(1) << 20, kCpuCacheMax = size_t(1) << 30;
std::map<size_t, std::vector<void*>> g_cpu_free;
size_t g_cpu_cached = 0;
int64_t g_pool_free_cpu = 0;  // CPU bytes free inside private pools (part of the CPU's reserved bytes)

size_t round_cpu(size_t bytes) {
  const size_t size = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  return size >= kCpuCacheMin ? (size + 4095) / 4096 * 4096 : size;
}

void release_cpu_cache_locked() {
  for (auto& [size, blocks] : g_cpu_free)
    for (void* p : blocks) std::free(p);
  g_cpu_free.clear();
  g_cpu_cached = 0;
  g_cpu.stats.reserved_bytes = g_cpu.stats.allocated_bytes + g_pool_free_cpu;
}

// Gives the cached CPU blocks back at exit (declared after g_cpu_free, so destroyed before it):
// nothing is left for a leak checker to report.
struct CpuCacheAtExit {
  ~CpuCacheAtExit() {
    std::lock_guard<std::mutex> lock(g_mutex);
    release_cpu_cache_locked();
  }
} g_cpu_cache_at_exit;

void* cpu_allocate_locked(size_t bytes) {
  const size_t size = round_cpu(bytes);
  auto it = g_cpu_free.find(size);
  if (it != g_cpu_free.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    g_cpu_cached -= size;
    g_cpu.on_alloc(size);
    return p;
  }
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr && g_cpu_cached > 0) {  // give the cache back and try once more
    release_cpu_cache_locked();
    p = std::aligned_alloc(64, size);
  }
  FER_CHECK(p != nullptr, "out of host memory: requested " << bytes << " bytes");
  g_cpu.stats.system_calls++;
  g_cpu.on_alloc(size);
  g_cpu.stats.reserved_bytes = g_cpu.stats.allocated_bytes + static_cast<int64_t>(g_cpu_cached) + g_pool_free_cpu;
  return p;
}

void cpu_deallocate_locked(void* ptr, size_t bytes) {
  const size_t size = round_cpu(bytes);
  g_cpu.on_free(size);
  if (size >= kCpuCacheMin && g_cpu_cached + size <= kCpuCacheMax) {
    g_cpu_free[size].push_back(ptr);
    g_cpu_cached += size;
  } else {
    std::free(ptr);
  }
  g_cpu.stats.reserved_bytes = g_cpu.stats.allocated_bytes + static_cast<int64_t>(g_cpu_cached) + g_pool_free_cpu;
}

// ---- private pools (see allocator.h) ------------------------------------------------------------
struct PoolState {
  Device device = Device::cpu;
  std::map<size_t, std::vector<void*>> free;  // rounded size -> free blocks owned by the pool
  int64_t owned_bytes = 0, free_bytes = 0;
};
std::map<int64_t, PoolState> g_pools;
std::unordered_map<void*, int64_t> g_pool_of;  // block -> owning pool id
int64_t g_next_pool_id = 1;

int dev_index(Device d) { return d == Device::cuda ? 1 : 0; }
size_t round_for(Device d, size_t bytes) { return d == Device::cuda ? round_cuda(bytes) : round_cpu(bytes); }
Counters& counters(Device d) { return d == Device::cuda ? g_cuda : g_cpu; }
void update_cpu_reserved() {
  g_cpu.stats.reserved_bytes = g_cpu.stats.allocated_bytes + static_cast<int64_t>(g_cpu_cached) + g_pool_free_cpu;
}

// A freed block enters pool `id`'s free list (the block's bytes stop counting as allocated).
void pool_take_back_locked(int64_t id, void* ptr, size_t size) {
  PoolState& pool = g_pools.at(id);
  pool.free[size].push_back(ptr);
  pool.free_bytes += static_cast<int64_t>(size);
  counters(pool.device).on_free(size);
  if (pool.device == Device::cpu) {
    g_pool_free_cpu += static_cast<int64_t>(size);
    update_cpu_reserved();
  }
}

// An allocation inside a scope of pool `id`: its own free block of that size, else a fresh block
// from the device's usual path, which the pool then owns.
void* pool_allocate_locked(int64_t id, size_t bytes) {
  PoolState& pool = g_pools.at(id);
  const size_t size = round_for(pool.device, bytes);
  auto it = pool.free.find(size);
  if (it != pool.free.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    pool.free_bytes -= static_cast<int64_t>(size);
    counters(pool.device).on_alloc(size);
    if (pool.device == Device::cpu) {
      g_pool_free_cpu -= static_cast<int64_t>(size);
      update_cpu_reserved();
    }
    return p;
  }
  void* p = pool.device == Device::cuda ? cuda_allocate_locked(bytes) : cpu_allocate_locked(bytes);
  g_pool_of[p] = id;
  pool.owned_bytes += static_cast<int64_t>(size);
  return p;
}

}  // namespace

void* allocate(Device device, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (const int64_t pool = g_active_pool[dev_index(device)]; pool != 0) return pool_allocate_locked(pool, bytes);
  if (device == Device::cuda) return cuda_allocate_locked(bytes);
  return cpu_allocate_locked(bytes);
}

void deallocate(Device device, void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  const size_t size = round_for(device, bytes);
  if (auto owner = g_pool_of.find(ptr); owner != g_pool_of.end()) {  // a pool's block: back to its pool
    pool_take_back_locked(owner->second, ptr, size);
    return;
  }
  if (const int64_t pool = g_active_pool[dev_index(device)]; pool != 0) {  // freed inside a scope: adopted
    g_pool_of[ptr] = pool;
    g_pools.at(pool).owned_bytes += static_cast<int64_t>(size);
    pool_take_back_locked(pool, ptr, size);
    return;
  }
  if (device == Device::cuda) {
    g_cuda.on_free(size);
    if (cuda_direct()) {  // straight back (cudaFree waits for the kernels still using it)
      g_cuda.stats.reserved_bytes -= static_cast<int64_t>(size);
      // called from ~Storage: never throws; a failure is printed and left for the next checked call
      if constexpr (kCudaBuilt) cuda::device_free_nothrow(ptr);
      return;
    }
    g_cuda_free[size].push_back(ptr);
    return;
  }
  cpu_deallocate_locked(ptr, bytes);
}

MemoryPool::MemoryPool(Device device) : device_(device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  id_ = g_next_pool_id++;
  g_pools[id_].device = device;
}

MemoryPool::~MemoryPool() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_active_pool[dev_index(device_)] == id_) g_active_pool[dev_index(device_)] = 0;
  PoolState& pool = g_pools.at(id_);
  // free blocks go to the device's cache (CPU: the cache or the system); held blocks are disowned,
  // so they take the usual way back when their tensors die
  for (auto& [size, blocks] : pool.free)
    for (void* p : blocks) {
      g_pool_of.erase(p);
      if (device_ == Device::cuda) {
        g_cuda_free[size].push_back(p);
      } else {
        g_pool_free_cpu -= static_cast<int64_t>(size);
        if (size >= kCpuCacheMin && g_cpu_cached + size <= kCpuCacheMax) {
          g_cpu_free[size].push_back(p);
          g_cpu_cached += size;
        } else {
          std::free(p);
        }
      }
    }
  for (auto it = g_pool_of.begin(); it != g_pool_of.end();)
    it = it->second == id_ ? g_pool_of.erase(it) : std::next(it);
  if (device_ == Device::cpu) update_cpu_reserved();
  g_pools.erase(id_);
}

int64_t MemoryPool::owned_bytes() const {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_pools.at(id_).owned_bytes;
}

int64_t MemoryPool::free_bytes() const {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_pools.at(id_).free_bytes;
}

PoolScope::PoolScope(MemoryPool& pool) : device_(pool.device_) {
  std::lock_guard<std::mutex> lock(g_mutex);
  int64_t& active = g_active_pool[dev_index(device_)];
  FER_CHECK(active == 0, "PoolScope: a memory pool is already active on " << device_name(device_)
                                                                          << " (scopes do not nest)");
  active = pool.id_;
}

PoolScope::~PoolScope() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_active_pool[dev_index(device_)] = 0;
}

AllocatorStats allocator_stats(Device device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return device == Device::cuda ? g_cuda.stats : g_cpu.stats;
}

void reset_peak_stats(Device device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto& c = device == Device::cuda ? g_cuda : g_cpu;
  c.stats.peak_allocated_bytes = c.stats.allocated_bytes;
}

void empty_cache(Device device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (device == Device::cuda)
    release_cuda_cache_locked();
  else
    release_cpu_cache_locked();
}

}  // namespace fer
