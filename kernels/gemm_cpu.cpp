// kernels/gemm_cpu.cpp: CPU GEMM (row-major). See gemm.h for the contract.
//
// Fast path: OpenBLAS cblas_{s,d}gemm (the OpenMP build, so it shares our thread pool).
// Fallback: a cache-blocked i-k-j loop nest parallel over row blocks of C; it reads op(A)/op(B)
// through index helpers, so one code path serves every transpose combination.
#include "kernels/gemm.h"

#include <algorithm>
#include <vector>

#ifdef FER_USE_OPENBLAS
#include <cblas.h>
#endif

namespace fer::cpu {

namespace {

void check_gemm_args(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc, bool ta, bool tb) {
  FER_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=" << M << " N=" << N << " K=" << K);
  FER_CHECK(lda >= std::max<int64_t>(1, ta ? M : K) && ldb >= std::max<int64_t>(1, tb ? K : N) &&
                ldc >= std::max<int64_t>(1, N),
            "gemm: leading dimension too small (M=" << M << " N=" << N << " K=" << K << " lda=" << lda
                                                   << " ldb=" << ldb << " ldc=" << ldc << ")");
}

// Blocked fallback: C = alpha*op(A)op(B) + beta*C.
template <typename T>
void gemm_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                  int64_t ldb, T beta, T* C, int64_t ldc) {
  constexpr int64_t kRowBlock = 32, kDepthBlock = 256;
#pragma omp parallel for schedule(static)
  for (int64_t i0 = 0; i0 < M; i0 += kRowBlock) {
    const int64_t i1 = std::min(M, i0 + kRowBlock);
    std::vector<T> acc(static_cast<size_t>(N));
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t k0 = 0; k0 < K; k0 += kDepthBlock) {
        const int64_t k1 = std::min(K, k0 + kDepthBlock);
        for (int64_t k = k0; k < k1; ++k) {
          const T a = ta ? A[k * lda + i] : A[i * lda + k];
          if (a == T(0)) continue;
          if (!tb) {
            const T* brow = B + k * ldb;
            for (int64_t j = 0; j < N; ++j) acc[j] += a * brow[j];
          } else {
            for (int64_t j = 0; j < N; ++j) acc[j] += a * B[j * ldb + k];
          }
        }
      }
      T* crow = C + i * ldc;
      if (beta == T(0)) {
        for (int64_t j = 0; j < N; ++j) crow[j] = alpha * acc[j];
      } else {
        for (int64_t j = 0; j < N; ++j) crow[j] = alpha * acc[j] + beta * crow[j];
      }
    }
  }
}

#ifdef FER_USE_OPENBLAS
void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}
void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
               const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}
#endif

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  check_gemm_args(M, N, K, lda, ldb, ldc, trans_a, trans_b);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS leaves C*beta; make beta=0 exact (NaN in C must not survive)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
#ifdef FER_USE_OPENBLAS
  blas_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  check_gemm_args(M, N, K, lda, ldb, ldc, trans_a, trans_b);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
      }
      C[i * ldc + j] = beta == T(0) ? alpha * sum : alpha * sum + beta * C[i * ldc + j];
    }
  }
}

template <typename T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
  for (int64_t b = 0; b < batch; ++b)
    gemm(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta, C + b * stride_c,
         ldc);
}

// Silence the unused-function warning when OpenBLAS is present (the fallback is still compiled,
// so it cannot rot).
[[maybe_unused]] static auto* const kBlockedFloat = &gemm_blocked<float>;

#define FER_INSTANTIATE(T)                                                                                    \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t);                                                                             \
  template void gemm_reference<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,       \
                                  int64_t, T, T*, int64_t);                                                   \
  template void gemm_strided_batched<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, int64_t, \
                                        const T*, int64_t, int64_t, T, T*, int64_t, int64_t, int64_t);
FER_INSTANTIATE(float)
FER_INSTANTIATE(double)
#undef FER_INSTANTIATE

}  // namespace fer::cpu
