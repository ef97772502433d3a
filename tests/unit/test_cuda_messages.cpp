// tests/unit/test_cuda_messages.cpp: the words of CUDA resource failures (kernels/cuda_messages.h),
// checked on the CPU: the out-of-memory message names the requested and free bytes, what fer holds
// and a smaller batch size; the no-driver / no-device / wrong-architecture hints name the fix.
#include <doctest/doctest.h>

#include <string>

#include "kernels/cuda_messages.h"

using namespace fer::cuda;

namespace {
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("cuda messages: format_bytes and smaller_batch_size") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(2ull << 20) == "2.00 MiB");
  CHECK(format_bytes(85028995072ull) == "79.19 GiB");
  CHECK(format_bytes(3ull << 40) == "3.00 TiB");
  CHECK(smaller_batch_size(64) == 32);
  CHECK(smaller_batch_size(48) == 32);
  CHECK(smaller_batch_size(33) == 32);
  CHECK(smaller_batch_size(2) == 1);
  CHECK(smaller_batch_size(1) == 0);
  CHECK(smaller_batch_size(0) == 0);
}

TEST_CASE("cuda messages: out of memory names requested, free, held bytes and a batch size to try") {
  const std::string m = cuda_oom_message(1610612736ull, 512ull << 20, 85028995072ull, 78ll << 30, 64);
  CHECK(m.find("CUDA out of memory: requested 1.50 GiB (1610612736 bytes)") == 0);
  CHECK(has(m, "512.00 MiB of 79.19 GiB free"));
  CHECK(has(m, "fer's tensors hold 78.00 GiB"));
  CHECK(has(m, "try --batch-size 32 instead of 64"));
  CHECK_FALSE(has(m, "other processes"));
  // Unknown batch size and holdings: still a concrete hint, nothing made up.
  const std::string u = cuda_oom_message(1000, 10, 2000);
  CHECK(has(u, "requested 1000 B (1000 bytes), 10 B of 1.95 KiB free"));
  CHECK(has(u, "reduce --batch-size (halve it"));
  CHECK_FALSE(has(u, "fer's tensors hold"));
  // Batch 1: nothing smaller to try.
  CHECK(has(cuda_oom_message(1 << 30, 0, 8ull << 30, 7ll << 30, 1), "the batch is already 1"));
  // Little held by fer and little free: another process has the memory.
  CHECK(has(cuda_oom_message(1 << 20, 1 << 20, 80ull << 30, 1 << 20, 64), "used by other processes (see nvidia-smi)"));
}

TEST_CASE("cuda messages: missing driver, no device and an unsupported architecture name the fix") {
  CHECK(has(cuda_failure_hint(CudaFailure::insufficient_driver), "install or update the driver"));
  CHECK(has(cuda_failure_hint(CudaFailure::insufficient_driver), "--device cpu"));
  CHECK(has(cuda_failure_hint(CudaFailure::no_device), "CUDA_VISIBLE_DEVICES"));
  const std::string arch = cuda_failure_hint(CudaFailure::no_kernel_image, 120, "80,90");
  CHECK(has(arch, "no kernels for this GPU (sm_120); it was compiled for 80,90"));
  CHECK(has(arch, "-DCMAKE_CUDA_ARCHITECTURES=120"));
  CHECK(has(cuda_failure_hint(CudaFailure::no_kernel_image), "-DCMAKE_CUDA_ARCHITECTURES=native"));
  CHECK(has(cuda_failure_hint(CudaFailure::out_of_memory), "--batch-size"));
  CHECK(has(cuda_failure_hint(CudaFailure::other), "FER_DEBUG_SYNC=1"));
}
