// kernels/gemm.cu: GEMM on the GPU through cuBLAS (row-major interface over column-major cuBLAS).
//
// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so we call cuBLAS with the
// operands swapped: (N, M, K, B, A). No data is transposed.
// operands = tf32 | bf16 (A and B already rounded, kernels/precision.h): cublasGemmEx with the
// FAST_TF32 / FAST_16BF compute type (tensor cores, fp32 accumulation). The handle's pedantic math
// mode is lifted for that one call (an explicit reduced-precision compute type is what was asked
// for) and restored after; CUBLAS_STATUS_NOT_SUPPORTED (no tf32/bf16 tensor cores) falls back to
// the fp32 GEMM of the same rounded operands.
#include "kernels/cuda_common.cuh"
#include "kernels/gemm.h"

namespace fer::cuda {

namespace {

cublasComputeType_t fast_compute_type(MathPrecision operands) {
  return operands == MathPrecision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_FAST_16BF;
}

// Runs `call` (returning a cublasStatus_t) with the default math mode; true when it ran, false when
// cuBLAS does not support it here (the caller falls back to fp32). Other errors throw.
template <typename Call>
bool with_tensor_cores(cublasHandle_t h, Call&& call) {
  cublasMath_t saved;
  FER_CUBLAS_CHECK(cublasGetMathMode(h, &saved));
  FER_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  const cublasStatus_t st = call();
  FER_CUBLAS_CHECK(cublasSetMathMode(h, saved));
  if (st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH) return false;
  FER_CUBLAS_CHECK(st);
  return true;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cuda_stream stream, MathPrecision operands) {
  if (M == 0 || N == 0) return;
  cublasHandle_t h = cublas_use_stream(stream);
  const cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (operands != MathPrecision::fp32 && K > 0 && with_tensor_cores(h, [&] {
        return cublasGemmEx(h, opb, opa, (int)N, (int)M, (int)K, &alpha, B, CUDA_R_32F, (int)ldb, A, CUDA_R_32F,
                            (int)lda, &beta, C, CUDA_R_32F, (int)ldc, fast_compute_type(operands), CUBLAS_GEMM_DEFAULT);
      }))
    return;
  FER_CUBLAS_CHECK(
      cublasSgemm(h, opb, opa, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc));
}

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                          float* C, int64_t ldc, int64_t stride_c, int64_t batch, cuda_stream stream,
                          MathPrecision operands) {
  if (M == 0 || N == 0 || batch == 0) return;
  cublasHandle_t h = cublas_use_stream(stream);
  const cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (operands != MathPrecision::fp32 && K > 0 && with_tensor_cores(h, [&] {
        return cublasGemmStridedBatchedEx(h, opb, opa, (int)N, (int)M, (int)K, &alpha, B, CUDA_R_32F, (int)ldb,
                                          stride_b, A, CUDA_R_32F, (int)lda, stride_a, &beta, C, CUDA_R_32F, (int)ldc,
                                          stride_c, (int)batch, fast_compute_type(operands), CUBLAS_GEMM_DEFAULT);
      }))
    return;
  FER_CUBLAS_CHECK(cublasSgemmStridedBatched(h, opb, opa, (int)N, (int)M, (int)K, &alpha, B, (int)ldb, stride_b, A,
                                             (int)lda, stride_a, &beta, C, (int)ldc, stride_c, (int)batch));
}

}  // namespace fer::cuda
