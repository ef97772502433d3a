// CUDA vs CPU parity for the elementwise, reduction, layout and cast kernels. GPU outputs are
// pre-filled (NaN for float, all-ones bytes otherwise) so an unwritten element fails; CPU outputs
// are pre-filled with -7.77e7. Sizes are odd and straddle the block size (255, 257, ...).
// Tolerances, stated per check:
//   exact (bit-identical): every op built from single IEEE operations that nvcc cannot fuse
//     (add/sub/mul/div, their backward terms, copies, casts, add_n), reductions that visit the
//     elements in the CPU order with a double accumulator (axis reductions, max/argmax, the
//     thread path of reduce_sum_to_shape) and the shared bf16 integer code;
//   atol 1e-6, rtol 1e-6 (a few float ulp): where nvcc may fuse a*x+b into one FMA (scale_shift,
//     axpy, u8_to_float) or the GPU sums in a different (tree) order in double before the one
//     rounding to float (reduce_all, the block path of reduce_sum_to_shape);
//   rtol 1e-5: powf on the device vs the host pow (a few ulp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/reduce.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;
using Shape = std::vector<int64_t>;

namespace {

cuda_stream S() {
  return cuda::default_stream();
}

// A device buffer of any element type, pre-filled with all-ones bytes.
template <typename T>
class DeviceVec {
 public:
  explicit DeviceVec(size_t n) : n_(n) {
    ptr_ = static_cast<T*>(cuda::device_malloc(std::max<size_t>(n, 1) * sizeof(T)));
    cuda::memset_device(ptr_, 0xFF, n * sizeof(T), S());
  }
  explicit DeviceVec(const std::vector<T>& h) : DeviceVec(h.size()) {
    cuda::memcpy_h2d(ptr_, h.data(), h.size() * sizeof(T), S());
  }
  DeviceVec(const DeviceVec&) = delete;
  DeviceVec& operator=(const DeviceVec&) = delete;
  ~DeviceVec() { cuda::device_free_nothrow(ptr_); }
  T* get() { return ptr_; }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    cuda::memcpy_d2h(h.data(), ptr_, n_ * sizeof(T), S());
    return h;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

// Bit-for-bit equality of two arrays, reporting the first difference. any_nan_equal: a NaN matches
// any NaN (a double NaN rounded to float gets the canonical NaN on the GPU, the payload on the CPU).
template <typename T>
void expect_identical(const std::string& what, const std::vector<T>& gpu, const std::vector<T>& cpu,
                      bool any_nan_equal = false) {
  REQUIRE_MESSAGE(gpu.size() == cpu.size(), what << ": sizes differ");
  size_t bad = gpu.size();
  for (size_t i = 0; i < gpu.size() && bad == gpu.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (any_nan_equal && std::isnan(gpu[i]) && std::isnan(cpu[i])) continue;
    }
    if (std::memcmp(&gpu[i], &cpu[i], sizeof(T)) != 0) bad = i;
  }
  CHECK_MESSAGE(bad == gpu.size(), what << ": first differing element " << bad << " (gpu "
                                        << (bad < gpu.size() ? +gpu[bad] : T(0)) << ", cpu "
                                        << (bad < gpu.size() ? +cpu[bad] : T(0)) << ")");
}

std::vector<float> randf(int64_t n, uint32_t seed, double lo = -2, double hi = 2) {
  return test::to_float(test::random_vector(static_cast<size_t>(n), seed, lo, hi));
}
// Divisors with |b| in [0.5, 2].
std::vector<float> divisor(int64_t n, uint32_t seed) {
  auto v = randf(n, seed, 0.5, 2.0);
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  return v;
}
std::string str(const Shape& s) {
  return shape_string(s.data(), static_cast<int>(s.size()));
}

const BinaryOp kOps[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div};
const ReduceOp kReductions[] = {ReduceOp::sum, ReduceOp::mean, ReduceOp::sum_squares};

}  // namespace

TEST_CASE("binary forward/backward and reduce_sum_to_shape: cuda == cpu for every kind") {
  const std::vector<std::pair<Shape, Shape>> pairs = {{{257}, {257}},
                                                      {{5, 3, 7, 9}, {1}},
                                                      {{}, {5, 3, 7}},
                                                      {{64, 8, 9, 9}, {64, 8, 1, 1}},
                                                      {{5, 3, 1, 1}, {5, 3, 7, 9}},
                                                      {{8, 3, 40, 40}, {8, 3, 1, 1}},
                                                      {{5, 3, 7, 9}, {5, 1, 7, 9}},
                                                      {{1, 6, 5}, {3, 6, 5}},
                                                      {{64, 8, 48, 48}, {1, 8, 1, 1}},
                                                      {{3, 1, 1}, {5, 3, 7, 9}},
                                                      {{4, 1, 3}, {1, 5, 1}},
                                                      {{2, 1, 3, 1, 5}, {1, 4, 1, 6, 1}},
                                                      {{33, 17, 70}, {33, 1, 70}},
                                                      {{1000, 7}, {7}}};
  for (const auto& [sa, sb] : pairs) {
    const BroadcastShape bs = make_broadcast(sa, sb);
    const auto a = randf(bs.a_numel, 1), b = divisor(bs.b_numel, 2), dc = randf(bs.numel, 3);
    test::DeviceArray a_dev(a), b_dev(b), gdc(dc);
    for (BinaryOp op : kOps) {
      const std::string name =
          std::string(binary_op_name(op)) + " " + str(sa) + " " + str(sb) + " [" + broadcast_kind_name(bs.kind) + "]";
      auto c = test::cpu_output(bs.numel), ga = test::cpu_output(bs.numel), gb = test::cpu_output(bs.numel);
      auto da = test::cpu_output(bs.a_numel), db = test::cpu_output(bs.b_numel);
      cpu::binary_forward(op, bs, a.data(), b.data(), c.data());
      cpu::binary_backward(op, bs, a.data(), b.data(), dc.data(), ga.data(), gb.data());
      cpu::reduce_sum_to_shape(bs, Operand::a, ga.data(), da.data());
      cpu::reduce_sum_to_shape(bs, Operand::b, gb.data(), db.data());
      test::DeviceArray gc(bs.numel), gga(bs.numel), ggb(bs.numel), gda(bs.a_numel), gdb(bs.b_numel);
      cuda::binary_forward(op, bs, a_dev.get(), b_dev.get(), gc.get(), S());
      cuda::binary_backward(op, bs, a_dev.get(), b_dev.get(), gdc.get(), gga.get(), ggb.get(), S());
      cuda::reduce_sum_to_shape(bs, Operand::a, gga.get(), gda.get(), S());
      cuda::reduce_sum_to_shape(bs, Operand::b, ggb.get(), gdb.get(), S());
      expect_identical(name + " forward", gc.download(), c);  // exact: one IEEE op per element
      expect_identical(name + " ga", gga.download(), ga);
      expect_identical(name + " gb", ggb.download(), gb);
      test::expect_close(name + " da", gda.download(), da, 1e-6, 1e-6);
      test::expect_close(name + " db", gdb.download(), db, 1e-6, 1e-6);
    }
    // add/sub read no operands: null a and b, and a null output, are allowed.
    test::DeviceArray only_gb(bs.numel);
    auto gb_cpu = test::cpu_output(bs.numel);
    cpu::binary_backward<float>(BinaryOp::sub, bs, nullptr, nullptr, dc.data(), nullptr, gb_cpu.data());
    cuda::binary_backward(BinaryOp::sub, bs, nullptr, nullptr, gdc.get(), nullptr, only_gb.get(), S());
    expect_identical("sub gb only " + str(sa) + " " + str(sb), only_gb.download(), gb_cpu);
  }
}

TEST_CASE("reduce_sum_to_shape: thread path is bit-identical, empty output gives zeros") {
  // (N,C,H,W) -> (N,C,1,1) with H*W = 35 < 256 summed elements: one thread per output, CPU order.
  const BroadcastShape bs = make_reduce_to_shape({17, 9, 5, 7}, {17, 9, 1, 1});
  const auto dy = randf(bs.b_numel, 4);
  auto dx = test::cpu_output(bs.a_numel);
  cpu::reduce_sum_to_shape(bs, Operand::a, dy.data(), dx.data());
  test::DeviceArray gdy(dy), gdx(bs.a_numel);
  cuda::reduce_sum_to_shape(bs, Operand::a, gdy.get(), gdx.get(), S());
  expect_identical("reduce (17,9,5,7)->(17,9,1,1)", gdx.download(), dx);
  const BroadcastShape empty = make_broadcast({0, 3}, {1, 3});
  test::DeviceArray gz(3);
  cuda::reduce_sum_to_shape(empty, Operand::b, nullptr, gz.get(), S());
  expect_identical("empty output", gz.download(), std::vector<float>(3, 0.f));
}

TEST_CASE("scalar ops: cuda == cpu") {
  for (int64_t n : {1, 255, 257, 10007, 1000003}) {
    const std::string ns = " n=" + std::to_string(n);
    const auto x = randf(n, 5), pos = randf(n, 6, 0.1, 3.0), dy = randf(n, 7);
    test::DeviceArray gx(x), gpos(pos), gdy(dy);
    {
      auto y = test::cpu_output(n);
      test::DeviceArray gy(n);
      cpu::scale_shift(n, 1.7f, -0.3f, x.data(), y.data());
      cuda::scale_shift(n, 1.7f, -0.3f, gx.get(), gy.get(), S());
      test::expect_close("scale_shift" + ns, gy.download(), y, 1e-6, 1e-6);  // FMA
    }
    for (BinaryOp op : kOps) {
      for (bool first : {false, true}) {
        auto y = test::cpu_output(n);
        test::DeviceArray gy(n);
        cpu::binary_scalar(op, n, pos.data(), 0.37f, y.data(), first);
        cuda::binary_scalar(op, n, gpos.get(), 0.37f, gy.get(), first, S());
        expect_identical(std::string("binary_scalar ") + binary_op_name(op) + (first ? " s op x" : " x op s") + ns,
                         gy.download(), y);
      }
    }
    for (float p : {1.f, 2.f, 0.5f, -1.f, 3.f, 1.7f}) {
      auto y = test::cpu_output(n), dx = test::cpu_output(n);
      test::DeviceArray gy(n), gdx(n);
      cpu::pow_scalar(n, p, pos.data(), y.data());
      cpu::pow_scalar_backward(n, p, pos.data(), dy.data(), dx.data());
      cuda::pow_scalar(n, p, gpos.get(), gy.get(), S());
      cuda::pow_scalar_backward(n, p, gpos.get(), gdy.get(), gdx.get(), S());
      const std::string ps = " p=" + std::to_string(p) + ns;
      test::expect_close("pow" + ps, gy.download(), y, 1e-6, 1e-5);
      test::expect_close("pow backward" + ps, gdx.download(), dx, 1e-6, 1e-5);
    }
    {  // axpy accumulates: both sides start from the same y
      auto y = randf(n, 8);
      test::DeviceArray gy(y);
      cpu::axpy(n, -0.6f, x.data(), y.data());
      cuda::axpy(n, -0.6f, gx.get(), gy.get(), S());
      test::expect_close("axpy" + ns, gy.download(), y, 1e-6, 1e-6);  // FMA
    }
    {
      test::DeviceArray gy(n);
      cuda::fill(n, 2.5f, gy.get(), S());
      expect_identical("fill" + ns, gy.download(), std::vector<float>(n, 2.5f));
    }
  }
}

TEST_CASE("add_n: cuda is bit-identical to cpu for k across the 8-input chunks") {
  const int64_t n = 10007;
  for (int k : {1, 5, 8, 9, 19}) {
    std::vector<std::vector<float>> xs;
    for (int j = 0; j < k; ++j) xs.push_back(randf(n, 100 + j));
    std::vector<const float*> hp;
    for (auto& v : xs) hp.push_back(v.data());
    auto y = test::cpu_output(n);
    cpu::add_n(n, k, hp.data(), y.data());
    std::vector<std::unique_ptr<test::DeviceArray>> dev;
    std::vector<const float*> dp;
    for (auto& v : xs) {
      dev.push_back(std::make_unique<test::DeviceArray>(v));
      dp.push_back(dev.back()->get());
    }
    test::DeviceArray gy(n);
    cuda::add_n(n, k, dp.data(), gy.get(), S());
    expect_identical("add_n k=" + std::to_string(k), gy.download(), y);
  }
}

TEST_CASE("reduce_all: cuda == cpu on odd sizes up to 5*10^6, deterministic") {
  for (int64_t n : {0, 1, 255, 257, 4097, 1000003, 5000011}) {
    const auto x = randf(std::max<int64_t>(n, 1), 9);  // at least one element to upload; n are read
    test::DeviceArray gx(x);
    void* ws = cuda::device_malloc(cuda::reduce_all_workspace_bytes(n));
    for (ReduceOp r : kReductions) {
      if (n == 0 && r == ReduceOp::mean) continue;
      const std::string name = std::string("reduce_all ") + reduce_op_name(r) + " n=" + std::to_string(n);
      auto out = test::cpu_output(1);
      cpu::reduce_all(r, n, x.data(), out.data());
      test::DeviceArray g1(1), g2(1);
      cuda::reduce_all(r, n, gx.get(), g1.get(), ws, S());
      cuda::reduce_all(r, n, gx.get(), g2.get(), ws, S());
      test::expect_close(name, g1.download(), out, 1e-6, 1e-6);  // tree order in double, one rounding
      expect_identical(name + " run to run", g2.download(), g1.download());
      // backward: dx = dy | dy/n | 2 x dy, with dy on the device
      if (n > 0) {
        const std::vector<float> dy = {0.3f};
        test::DeviceArray gdy(dy), gdx(n);
        auto dx = test::cpu_output(n);
        cpu::reduce_all_backward(r, n, x.data(), dy.data(), dx.data());
        cuda::reduce_all_backward(r, n, gx.get(), gdy.get(), gdx.get(), S());
        expect_identical(name + " backward", gdx.download(), dx);
      }
    }
    cuda::device_free(ws);
  }
}

TEST_CASE("reduce_axis, max_axis, argmax: cuda is bit-identical to cpu") {
  const int64_t shapes[][3] = {{1, 1, 1},   {3, 5, 7},    {2, 1, 300}, {1000, 7, 1},
                               {2, 3, 600}, {1, 1001, 1}, {7, 13, 257}};
  for (const auto& s : shapes) {
    const int64_t outer = s[0], dim = s[1], inner = s[2], n = outer * dim * inner;
    const std::string shp =
        " [" + std::to_string(outer) + "," + std::to_string(dim) + "," + std::to_string(inner) + "]";
    const auto x = randf(n, 10);
    const auto dy = randf(outer * inner, 11);
    test::DeviceArray gx(x), gdy(dy);
    for (ReduceOp r : kReductions) {
      const std::string name = std::string("reduce_axis ") + reduce_op_name(r) + shp;
      auto y = test::cpu_output(outer * inner), dx = test::cpu_output(n);
      cpu::reduce_axis(r, outer, dim, inner, x.data(), y.data());
      cpu::reduce_axis_backward(r, outer, dim, inner, x.data(), dy.data(), dx.data());
      test::DeviceArray gy(outer * inner), gdx(n);
      cuda::reduce_axis(r, outer, dim, inner, gx.get(), gy.get(), S());
      cuda::reduce_axis_backward(r, outer, dim, inner, gx.get(), gdy.get(), gdx.get(), S());
      expect_identical(name, gy.download(), y);
      expect_identical(name + " backward", gdx.download(), dx);
    }
    // max/argmax on a copy with planted ties and a NaN, so the tie-break and NaN rules are compared.
    auto xm = x;
    for (int64_t e = 0; e + inner < n; e += 97) xm[e + inner] = xm[e];
    if (n > 50) xm[n / 3] = std::numeric_limits<float>::quiet_NaN();
    test::DeviceArray gxm(xm);
    auto y = test::cpu_output(outer * inner), dx = test::cpu_output(n);
    std::vector<int64_t> idx(outer * inner, -5), am(outer, -5);
    cpu::max_axis(outer, dim, inner, xm.data(), y.data(), idx.data());
    cpu::max_axis_backward(outer, dim, inner, idx.data(), dy.data(), dx.data());
    test::DeviceArray gy(outer * inner), gdx(n);
    DeviceVec<int64_t> gidx(outer * inner);
    cuda::max_axis(outer, dim, inner, gxm.get(), gy.get(), gidx.get(), S());
    cuda::max_axis_backward(outer, dim, inner, gidx.get(), gdy.get(), gdx.get(), S());
    expect_identical("max_axis values" + shp, gy.download(), y);
    expect_identical("max_axis indices" + shp, gidx.download(), idx);
    expect_identical("max_axis backward" + shp, gdx.download(), dx);
    if (inner == 1) {
      cpu::argmax_rows(outer, dim, xm.data(), am.data());
      DeviceVec<int64_t> gam(outer);
      cuda::argmax_rows(outer, dim, gxm.get(), gam.get(), S());
      expect_identical("argmax_rows" + shp, gam.download(), am);
      std::vector<int32_t> am32(outer, -5);  // int32 indices (the tensor layer's i32)
      cpu::argmax_rows(outer, dim, xm.data(), am32.data());
      DeviceVec<int32_t> gam32(outer);
      cuda::argmax_rows(outer, dim, gxm.get(), gam32.get(), S());
      expect_identical("argmax_rows int32" + shp, gam32.download(), am32);
    }
  }
}

TEST_CASE("copy_slab and permute: cuda == cpu (exact)") {
  const int64_t outer = 5, inner = 1031, src_dim = 7, dst_dim = 11;
  const auto src = randf(outer * src_dim * inner, 12);
  auto dst = randf(outer * dst_dim * inner, 13);  // both sides start from the same destination
  test::DeviceArray gsrc(src), gdst(dst);
  cpu::copy_slab(outer, 4, inner, src.data(), src_dim, 2, dst.data(), dst_dim, 6);
  cuda::copy_slab(outer, 4, inner, gsrc.get(), src_dim, 2, gdst.get(), dst_dim, 6, S());
  expect_identical("copy_slab", gdst.download(), dst);

  const Shape shape4 = {3, 5, 7, 2};
  const auto x4 = randf(210, 14);
  test::DeviceArray gx4(x4);
  std::vector<int> perm = {0, 1, 2, 3};
  do {
    auto y = test::cpu_output(210);
    test::DeviceArray gy(210);
    const PermutePlan p = make_permute(shape4, perm);
    cpu::permute(p, x4.data(), y.data());
    cuda::permute(p, gx4.get(), gy.get(), S());
    expect_identical("permute " + std::to_string(perm[0]) + std::to_string(perm[1]) + std::to_string(perm[2]) +
                         std::to_string(perm[3]),
                     gy.download(), y);
  } while (std::next_permutation(perm.begin(), perm.end()));
  const Shape shape6 = {2, 3, 1, 4, 5, 3};  // 360 elements
  const auto x6 = randf(360, 15);
  test::DeviceArray gx6(x6);
  for (const std::vector<int>& p6 :
       std::vector<std::vector<int>>{{5, 4, 3, 2, 1, 0}, {0, 2, 4, 1, 3, 5}, {3, 0, 5, 1, 4, 2}}) {
    auto y = test::cpu_output(360);
    test::DeviceArray gy(360);
    const PermutePlan p = make_permute(shape6, p6);
    cpu::permute(p, x6.data(), y.data());
    cuda::permute(p, gx6.get(), gy.get(), S());
    expect_identical("permute 6-d", gy.download(), y);
  }
}

template <typename T, typename I>
void gather_case(const std::string& name) {
  const int64_t rows = 37, row_size = 2304, n_idx = 65;  // 48x48 images
  std::vector<T> x(rows * row_size);
  for (size_t e = 0; e < x.size(); ++e) x[e] = static_cast<T>((e * 2654435761u) % 251);
  std::vector<I> idx(n_idx);
  for (int64_t r = 0; r < n_idx; ++r) idx[r] = static_cast<I>((r * 17 + 3) % rows);
  std::vector<T> y(n_idx * row_size);
  cpu::gather_rows(n_idx, row_size, x.data(), rows, idx.data(), y.data());
  DeviceVec<T> gx(x), gy(n_idx * row_size);
  DeviceVec<I> gidx(idx);
  cuda::gather_rows(n_idx, row_size, gx.get(), rows, gidx.get(), gy.get(), S());
  expect_identical("gather_rows " + name, gy.download(), y);
  // An out-of-range index yields a row of all-ones bytes on the GPU.
  idx[1] = static_cast<I>(rows);
  DeviceVec<I> gbad(idx);
  DeviceVec<T> gz(n_idx * row_size);
  cuda::gather_rows(n_idx, row_size, gx.get(), rows, gbad.get(), gz.get(), S());
  const auto z = gz.download();
  T ones;
  std::memset(&ones, 0xFF, sizeof(T));
  CHECK(std::memcmp(&z[row_size], &ones, sizeof(T)) == 0);
  CHECK(std::memcmp(&z[2 * row_size - 1], &ones, sizeof(T)) == 0);
  CHECK(z[0] == y[0]);
}

TEST_CASE("gather_rows: cuda == cpu for every element and index type") {
  gather_case<float, int32_t>("float/int32");
  gather_case<float, int64_t>("float/int64");
  gather_case<uint8_t, int32_t>("uint8/int32");
  gather_case<uint8_t, int64_t>("uint8/int64");
  gather_case<int32_t, int64_t>("int32/int64");
  gather_case<int64_t, int32_t>("int64/int32");
}

TEST_CASE("casts: bf16 bit-identical, u8 scaling, int32 <-> int64") {
  // Special values, then random bit patterns (every exponent: NaNs, infs, denormals included).
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x3F800000u, 0x7F800000u, 0xFF800000u,
                                0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0x3F808000u, 0x3F818000u,
                                0x7F7FFFFFu, 0x00000001u, 0x00018000u, 0x007FFFFFu, 0x80018000u};
  std::mt19937 gen(16);
  for (int i = 0; i < 1000003; ++i) bits.push_back(gen());
  std::vector<float> x(bits.size());
  std::memcpy(x.data(), bits.data(), bits.size() * 4);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> h(n, 0xDEAD);
  cpu::float_to_bf16(n, x.data(), h.data());
  test::DeviceArray gx(x);
  DeviceVec<uint16_t> gh(n);
  cuda::float_to_bf16(n, gx.get(), gh.get(), S());
  expect_identical("float_to_bf16", gh.download(), h);
  // All 65536 bf16 patterns back to float.
  std::vector<uint16_t> all(65536);
  std::iota(all.begin(), all.end(), uint16_t(0));
  auto f = test::cpu_output(65536);
  cpu::bf16_to_float(65536, all.data(), f.data());
  DeviceVec<uint16_t> gall(all);
  test::DeviceArray gf(65536);
  cuda::bf16_to_float(65536, gall.get(), gf.get(), S());
  expect_identical("bf16_to_float", gf.download(), f);

  std::vector<uint8_t> px(100003);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7);
  auto pf = test::cpu_output(px.size());
  cpu::u8_to_float(static_cast<int64_t>(px.size()), px.data(), 1.f / 255.f, -0.5f, pf.data());
  DeviceVec<uint8_t> gpx(px);
  test::DeviceArray gpf(px.size());
  cuda::u8_to_float(static_cast<int64_t>(px.size()), gpx.get(), 1.f / 255.f, -0.5f, gpf.get(), S());
  test::expect_close("u8_to_float", gpf.download(), pf, 1e-6, 1e-6);  // FMA

  std::vector<int32_t> i32(10007);
  for (size_t i = 0; i < i32.size(); ++i) i32[i] = static_cast<int32_t>(i * 2654435761u);  // both signs
  std::vector<int64_t> i64(i32.size());
  cpu::convert(static_cast<int64_t>(i32.size()), i32.data(), i64.data());
  DeviceVec<int32_t> g32(i32), g32back(i32.size());
  DeviceVec<int64_t> g64(i32.size());
  cuda::convert(static_cast<int64_t>(i32.size()), g32.get(), g64.get(), S());
  expect_identical("int32 -> int64", g64.download(), i64);
  cuda::convert(static_cast<int64_t>(i32.size()), g64.get(), g32back.get(), S());
  expect_identical("int64 -> int32", g32back.download(), i32);
  // CUDA narrowing keeps the low 32 bits (the CPU twin would throw): two's complement.
  const std::vector<int64_t> wide = {(int64_t(1) << 40) + 5, -(int64_t(1) << 33) - 1};
  DeviceVec<int64_t> gwide(wide);
  DeviceVec<int32_t> gnarrow(2);
  cuda::convert(2, gwide.get(), gnarrow.get(), S());
  expect_identical("int64 -> int32 wrap", gnarrow.download(), std::vector<int32_t>{5, -1});
}
