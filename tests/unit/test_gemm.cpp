// The CPU GEMM (OpenBLAS or blocked fallback) equals the textbook triple loop for every
// transpose combination, odd sizes, beta 0 (overwrite, even over NaN) and beta 1 (accumulate).
#include <doctest/doctest.h>

#include <limits>

#include "kernels/gemm.h"
#include "tests/support/gradcheck.h"

using namespace fer;

TEST_CASE("cpu gemm equals the reference loop nest") {
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 10, 129}, {5, 300, 2}};
  for (auto& s : sizes) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (double beta : {0.0, 1.0}) {
          const int64_t M = s[0], N = s[1], K = s[2];
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(beta);
          const auto A = test::random_vector(M * K, 11);
          const auto B = test::random_vector(K * N, 12);
          auto C0 = test::random_vector(M * N, 13);
          if (beta == 0) C0.assign(C0.size(), std::numeric_limits<double>::quiet_NaN());
          auto C1 = C0;
          const int64_t lda = ta ? M : K, ldb = tb ? K : N;
          cpu::gemm<double>(ta, tb, M, N, K, 0.5, A.data(), lda, B.data(), ldb, beta, C0.data(), N);
          cpu::gemm_reference<double>(ta, tb, M, N, K, 0.5, A.data(), lda, B.data(), ldb, beta, C1.data(), N);
          double max_err = 0;
          for (size_t i = 0; i < C0.size(); ++i) max_err = std::max(max_err, std::fabs(C0[i] - C1[i]));
          CHECK(max_err < 1e-12);
        }
      }
    }
  }
}

TEST_CASE("cpu gemm rejects a too-small leading dimension") {
  float a[4] = {}, b[4] = {}, c[4] = {};
  CHECK_THROWS_WITH_AS(cpu::gemm<float>(false, false, 2, 2, 2, 1.f, a, 1, b, 2, 0.f, c, 2),
                       doctest::Contains("leading dimension"), fer::Error);
}
