// tensor/allocator.h on the CPU: large blocks are cached by size and reused (no new system call),
// small ones are not, the statistics add up, and empty_cache gives the cached memory back.
#include <doctest/doctest.h>

#include <cstdint>

#include "kernels/common.h"
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

TEST_CASE("private pool: blocks of a scope stay with the pool until it dies") {
  empty_cache(Device::cpu);
  const size_t big = size_t(2) << 20, small = 4000;
  void* outside_before = allocate(Device::cpu, small);  // allocated before the scope, freed inside it
  void* kept = nullptr;
  void* temp = nullptr;
  {
    MemoryPool pool(Device::cpu);
    CHECK(pool.owned_bytes() == 0);
    {
      PoolScope scope(pool);
      CHECK_THROWS_WITH_AS(PoolScope{pool}, doctest::Contains("already active"), Error);
      kept = allocate(Device::cpu, big);  // like a graph's output: alive after the scope
      temp = allocate(Device::cpu, small);
      deallocate(Device::cpu, temp, small);  // freed inside: back to the pool
      void* again = allocate(Device::cpu, small);
      CHECK(again == temp);  // reused within the pool
      deallocate(Device::cpu, again, small);
      deallocate(Device::cpu, outside_before, small);  // not the pool's, but freed inside a scope: adopted
      CHECK(pool.free_bytes() == 2 * 4032);            // temp and the adopted block (64-byte rounding)
    }
    CHECK(pool.owned_bytes() == int64_t(big) + 2 * 4032);
    // outside the scope, the pool's free blocks are never handed out (small blocks are not cached
    // globally, so any block of that size here is a fresh one)
    void* other = allocate(Device::cpu, small);
    CHECK(other != temp);
    CHECK(other != outside_before);
    deallocate(Device::cpu, other, small);
    // the graph's output dies outside the scope: it returns to the pool, not to the cache
    deallocate(Device::cpu, kept, big);
    CHECK(pool.free_bytes() == int64_t(big) + 2 * 4032);
    void* other_big = allocate(Device::cpu, big);
    CHECK(other_big != kept);
    deallocate(Device::cpu, other_big, big);
    // a new scope of the same pool gets the block back
    {
      PoolScope scope(pool);
      void* back = allocate(Device::cpu, big);
      CHECK(back == kept);
      deallocate(Device::cpu, back, big);
    }
    const AllocatorStats s = allocator_stats(Device::cpu);
    CHECK(s.reserved_bytes >= s.allocated_bytes + pool.free_bytes());
  }
  // the pool is gone: its big free block went to the cache and is reused
  void* reused = allocate(Device::cpu, big);
  CHECK(reused == kept);
  deallocate(Device::cpu, reused, big);
  empty_cache(Device::cpu);
  const AllocatorStats s = allocator_stats(Device::cpu);
  CHECK(s.reserved_bytes == s.allocated_bytes);
}

TEST_CASE("private pool: a block held when the pool dies goes the usual way when freed") {
  empty_cache(Device::cpu);
  const size_t big = size_t(2) << 20;
  void* held = nullptr;
  {
    MemoryPool pool(Device::cpu);
    PoolScope scope(pool);
    held = allocate(Device::cpu, big);
  }
  deallocate(Device::cpu, held, big);  // disowned: into the CPU cache
  void* again = allocate(Device::cpu, big);
  CHECK(again == held);
  deallocate(Device::cpu, again, big);
  empty_cache(Device::cpu);
  const AllocatorStats s = allocator_stats(Device::cpu);
  CHECK(s.reserved_bytes == s.allocated_bytes);
}
