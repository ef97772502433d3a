// CUDA vs CPU parity for activations and GEMM (odd sizes, NaN-prefilled outputs).
#include <doctest/doctest.h>

#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

TEST_CASE("activation cuda == cpu") {
  for (Activation a : {Activation::relu, Activation::sigmoid, Activation::silu, Activation::gelu}) {
    for (int64_t n : {1, 255, 257, 10007}) {
      const auto x = test::to_float(test::random_vector(n, 3, -4, 4));
      const auto dy = test::to_float(test::random_vector(n, 4));
      auto y = test::cpu_output(n), dx = test::cpu_output(n);
      cpu::activation_forward(a, n, x.data(), y.data());
      cpu::activation_backward(a, n, x.data(), y.data(), dy.data(), dx.data());
      test::DeviceArray gx(x), gdy(dy), gy(n), gdx(n);
      cuda::activation_forward(a, n, gx.get(), gy.get(), cuda::default_stream());
      cuda::activation_backward(a, n, gx.get(), gy.get(), gdy.get(), gdx.get(), cuda::default_stream());
      const std::string name = std::string(activation_name(a)) + " n=" + std::to_string(n);
      test::expect_close(name + " forward", gy.download(), y, 1e-6, 1e-5);
      test::expect_close(name + " backward", gdx.download(), dx, 1e-6, 1e-5);
    }
  }
}

TEST_CASE("gemm cuda (cuBLAS) == cpu") {
  const int64_t sizes[][3] = {{1, 1, 1}, {33, 17, 65}, {129, 64, 300}};
  for (auto& s : sizes) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        const int64_t M = s[0], N = s[1], K = s[2];
        const auto A = test::to_float(test::random_vector(M * K, 5));
        const auto B = test::to_float(test::random_vector(K * N, 6));
        auto C = test::cpu_output(M * N);
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        cpu::gemm<float>(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N);
        test::DeviceArray gA(A), gB(B), gC(M * N);
        cuda::gemm(ta, tb, M, N, K, 1.f, gA.get(), lda, gB.get(), ldb, 0.f, gC.get(), N, cuda::default_stream());
        test::expect_close("gemm " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K),
                           gC.download(), C, 1e-5, 1e-4);
      }
    }
  }
}
