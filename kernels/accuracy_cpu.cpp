// kernels/accuracy_cpu.cpp: the CPU twin of kernels/accuracy.h (one pass over the rows).
#include "kernels/accuracy.h"

namespace fer {

void check_count_correct(const char* op, int64_t n, int64_t k) {
  FER_CHECK(n >= 0 && k >= 1, op << ": expected logits [N, K] with N >= 0 and K >= 1, got N=" << n << " K=" << k);
}

namespace cpu {

template <typename T>
void count_correct(int64_t n, int64_t k, const T* logits, const int32_t* labels, int64_t* correct) {
  check_count_correct("count_correct", n, k);
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) c += accuracy::row_argmax(logits + i * k, k) == labels[i];
  *correct = c;
}

template void count_correct<float>(int64_t, int64_t, const float*, const int32_t*, int64_t*);
template void count_correct<double>(int64_t, int64_t, const double*, const int32_t*, int64_t*);

}  // namespace cpu
}  // namespace fer
