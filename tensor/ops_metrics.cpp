// tensor/ops_metrics.cpp: training metrics computed where the logits live (kernels/accuracy.h).
#include "kernels/accuracy.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace fer::ops {

Tensor count_correct(const Tensor& logits, const Tensor& labels) {
  const char* op = "count_correct";
  FER_CHECK(logits.ndim() == 2, op << ": expected logits [N, K], got " << describe(logits));
  FER_CHECK(labels.ndim() == 1 && labels.size(0) == logits.size(0) && labels.dtype() == DType::i32,
            op << ": expected i32 labels [" << logits.size(0) << "], got " << describe(labels));
  check_same_device(op, logits, labels);
  check_cuda_float(op, logits);
  const Tensor z = logits.detach();
  Tensor correct = Tensor::empty({}, DType::i64, logits.device());
  run_kernel(
      op, z,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::count_correct<T>(z.size(0), z.size(1), z.data<T>(), labels.data<int32_t>(), correct.data<int64_t>());
      },
      [&](cuda_stream s) {
        cuda::count_correct(z.size(0), z.size(1), z.data<float>(), labels.data<int32_t>(), correct.data<int64_t>(), s);
      });
  return correct;
}

}  // namespace fer::ops
