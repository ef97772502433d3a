// kernels/gemm.cu: GEMM on the GPU through cuBLAS (row-major interface over column-major cuBLAS).
//
// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so we call cuBLAS with the
// operands swapped: (N, M, K, B, A). No data is transposed.
#include "kernels/cuda_common.cuh"
#include "kernels/gemm.h"

namespace fer::cuda {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cuda_stream stream) {
  if (M == 0 || N == 0) return;
  cublasHandle_t h = cublas_handle();
  FER_CUBLAS_CHECK(cublasSetStream(h, stream));
  FER_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N,
                               (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc));
}

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                          float* C, int64_t ldc, int64_t stride_c, int64_t batch, cuda_stream stream) {
  if (M == 0 || N == 0 || batch == 0) return;
  cublasHandle_t h = cublas_handle();
  FER_CUBLAS_CHECK(cublasSetStream(h, stream));
  FER_CUBLAS_CHECK(cublasSgemmStridedBatched(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                             (int)N, (int)M, (int)K, &alpha, B, (int)ldb, stride_b, A, (int)lda,
                                             stride_a, &beta, C, (int)ldc, stride_c, (int)batch));
}

}  // namespace fer::cuda
