// kernels/gemm.h: general matrix multiply, the workhorse behind linear layers, im2col
// convolution and batched attention matmuls.
//
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C[M,N]       (all matrices row-major)
//   op(X) = X or X^T (trans_a / trans_b); lda/ldb/ldc are row strides of the stored matrices.
//   beta = 0 overwrites C (C may hold NaN); beta = 1 accumulates.
//
// CPU: OpenBLAS when the build found it, else a cache-blocked loop nest (the GPU machines have no
// OpenBLAS); the float and double versions share the code; always plain fp32 / fp64.
// CUDA: cuBLAS, fp32 (pedantic math). `operands` = tf32 | bf16 declares that A and B are ALREADY
// rounded to that format (kernels/precision.h; the tensor ops do it): cuBLAS then runs on the tensor
// cores (cublasGemmEx, CUBLAS_COMPUTE_32F_FAST_TF32 / _FAST_16BF, fp32 accumulation), whose operand
// conversion is exact on such values, so the result is the fp32 GEMM of the same operands up to the
// summation order. Where cuBLAS does not support it (a GPU before sm_80), the fp32 GEMM runs instead:
// the same numbers, without the speed.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/precision.h"

namespace fer::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The textbook triple loop, no blocking, no BLAS: the oracle the tests hold gemm() to.
template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// `batch` independent GEMMs; matrix b of A starts at A + b*stride_a (likewise B, C).
template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C,
                          int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace fer::cpu

namespace fer::cuda {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cuda_stream stream,
          MathPrecision operands = MathPrecision::fp32);

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                          float* C, int64_t ldc, int64_t stride_c, int64_t batch, cuda_stream stream,
                          MathPrecision operands = MathPrecision::fp32);

}  // namespace fer::cuda
