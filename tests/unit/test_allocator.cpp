// tensor/allocator.h on the CPU: large blocks are cached by size and reused (no new system call),
// small ones are not, the statistics add up, and empty_cache gives the cached memory back.
#include <doctest/doctest.h>

#include <cstdint>

#include "tensor/allocator.h"

using namespace fer;

TEST_CASE("CPU allocator: large blocks are reused by size, statistics and empty_cache") {
  empty_cache(Device::cpu);
  const AllocatorStats s0 = allocator_stats(Device::cpu);
  CHECK(s0.reserved_bytes == s0.allocated_bytes);
  const size_t big = (size_t(3) << 20) + 100;  // 3 MiB + 100 B: cached (rounded to 4 KiB)
  void* a = allocate(Device::cpu, big);
  REQUIRE(a != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  const AllocatorStats s1 = allocator_stats(Device::cpu);
  CHECK(s1.system_calls == s0.system_calls + 1);
  CHECK(s1.allocated_bytes - s0.allocated_bytes == int64_t((big + 4095) / 4096 * 4096));
  CHECK(s1.peak_allocated_bytes >= s1.allocated_bytes);
  deallocate(Device::cpu, a, big);
  const AllocatorStats s2 = allocator_stats(Device::cpu);
  CHECK(s2.allocated_bytes == s0.allocated_bytes);
  CHECK(s2.reserved_bytes == s0.reserved_bytes + (s1.allocated_bytes - s0.allocated_bytes));  // kept
  void* b = allocate(Device::cpu, big);  // the same size again: the cached block, no system call
  CHECK(b == a);
  CHECK(allocator_stats(Device::cpu).system_calls == s1.system_calls);
  deallocate(Device::cpu, b, big);
  // small blocks go straight back to the system
  void* c = allocate(Device::cpu, 1000);
  deallocate(Device::cpu, c, 1000);
  CHECK(allocator_stats(Device::cpu).reserved_bytes == s2.reserved_bytes);
  empty_cache(Device::cpu);
  const AllocatorStats s3 = allocator_stats(Device::cpu);
  CHECK(s3.reserved_bytes == s3.allocated_bytes);
  void* d = allocate(Device::cpu, big);  // after empty_cache: a new system call
  CHECK(allocator_stats(Device::cpu).system_calls == s3.system_calls + 1);
  deallocate(Device::cpu, d, big);
  empty_cache(Device::cpu);
}
