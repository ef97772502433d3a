// kernels/accuracy.cu: count_correct on the device (kernels/accuracy.h). One block: thread t counts
// rows t, t + 256, ...; the 256 counts are added by a fixed shared-memory tree and thread 0 writes
// the total. Batches are at most a few thousand rows, so one block is enough and nothing is atomic.
#include "kernels/accuracy.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

constexpr int kCountBlock = 256;

__global__ void count_correct_kernel(int64_t n, int64_t k, const float* logits, const int32_t* labels,
                                     int64_t* correct) {
  __shared__ int64_t sh[kCountBlock];
  int64_t c = 0;
  for (int64_t i = threadIdx.x; i < n; i += kCountBlock) c += accuracy::row_argmax(logits + i * k, k) == labels[i];
  sh[threadIdx.x] = c;
  __syncthreads();
  for (int s = kCountBlock / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *correct = sh[0];
}

}  // namespace

void count_correct(int64_t n, int64_t k, const float* logits, const int32_t* labels, int64_t* correct,
                   cuda_stream stream) {
  check_count_correct("count_correct", n, k);
  count_correct_kernel<<<1, kCountBlock, 0, to_cuda(stream)>>>(n, k, logits, labels, correct);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
