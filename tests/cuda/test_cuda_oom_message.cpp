// A CUDA allocation far beyond the device's memory fails with one clear fer::Error naming the
// requested and free bytes, what fer's tensors hold, and a smaller --batch-size (kernels/cuda_messages.h);
// the caching allocator stays usable afterwards.
#include <doctest/doctest.h>

#include <string>

#include "kernels/common.h"
#include "tensor/allocator.h"
#include "tensor/tensor.h"

using namespace fer;

TEST_CASE("cuda: out of memory names requested and free bytes and suggests a smaller batch") {
  Tensor small = Tensor::empty({1024}, DType::f32, Device::cuda);  // fer holds something
  std::string message;
  try {
    Tensor huge = Tensor::empty({int64_t{1} << 40}, DType::f32, Device::cuda);  // 4 TiB
  } catch (const Error& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("CUDA out of memory: requested 4.00 TiB (4398046511104 bytes)") == 0);
  CHECK(message.find(" free, fer's tensors hold ") != std::string::npos);
  CHECK(message.find("--batch-size") != std::string::npos);
  // Still usable.
  Tensor after = Tensor::empty({1024}, DType::f32, Device::cuda);
  CHECK(allocator_stats(Device::cuda).allocated_bytes >= 2 * 4096);
}
