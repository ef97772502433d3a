// data/knn.cpp: exact k-NN in pixel space, by integer loops or by float GEMM plus exact refinement.
#include "data/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/common.h"
#include "kernels/gemm.h"

namespace fer::data {

int64_t squared_distance(const uint8_t* a, const uint8_t* b) {
  // int32 is enough (< 1.5e8) and lets the compiler vectorize.
  int32_t s = 0;
  for (int p = 0; p < kImagePixels; ++p) {
    const int32_t d = static_cast<int32_t>(a[p]) - static_cast<int32_t>(b[p]);
    s += d * d;
  }
  return s;
}

namespace {

// The k best (distance, index) pairs of one query, kept sorted ascending; `n` of them filled.
struct TopK {
  int64_t* d;
  int64_t* idx;
  int k;
  int n = 0;

  // Largest kept distance once full; +inf (int64 max) before.
  int64_t bound() const { return n < k ? std::numeric_limits<int64_t>::max() : d[k - 1]; }

  void offer(int64_t dist, int64_t j) {
    if (n == k && (dist > d[k - 1] || (dist == d[k - 1] && j >= idx[k - 1]))) return;
    int pos = n < k ? n : k - 1;  // slot to fill, then bubble towards the front
    while (pos > 0 && (d[pos - 1] > dist || (d[pos - 1] == dist && idx[pos - 1] > j))) {
      d[pos] = d[pos - 1];
      idx[pos] = idx[pos - 1];
      --pos;
    }
    d[pos] = dist;
    idx[pos] = j;
    if (n < k) ++n;
  }
};

void check_inputs(const Dataset& ds, const std::vector<int64_t>& ref, const std::vector<int64_t>& query, int k) {
  FER_CHECK(k >= 1, "knn: k must be >= 1, got " << k);
  FER_CHECK(static_cast<int64_t>(ds.pixels.size()) == ds.size() * kImagePixels,
            "knn: dataset holds " << ds.pixels.size() << " pixel bytes for " << ds.size() << " images; expected "
                                  << ds.size() * kImagePixels);
  for (int64_t i : ref)
    FER_CHECK(i >= 0 && i < ds.size(), "knn: reference index " << i << " is outside 0.." << ds.size() - 1);
  for (int64_t i : query)
    FER_CHECK(i >= 0 && i < ds.size(), "knn: query index " << i << " is outside 0.." << ds.size() - 1);
  std::vector<int64_t> sorted = ref;
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  FER_CHECK(dup == sorted.end(), "knn: reference index " << *dup << " is listed twice; hint: pass each image once");
}

void knn_loops(const Dataset& ds, const std::vector<int64_t>& ref, const std::vector<int64_t>& query, bool exclude_self,
               Neighbours& out) {
  const int64_t Q = static_cast<int64_t>(query.size());
  const int64_t R = static_cast<int64_t>(ref.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t q = 0; q < Q; ++q) {
    TopK top{out.dist2.data() + q * out.k, out.index.data() + q * out.k, out.k};
    const uint8_t* a = ds.image(query[q]);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t j = ref[r];
      if (exclude_self && j == query[q]) continue;
      top.offer(squared_distance(a, ds.image(j)), j);
    }
  }
}

void knn_gemm(const Dataset& ds, const std::vector<int64_t>& ref, const std::vector<int64_t>& query, bool exclude_self,
              Neighbours& out) {
  constexpr int64_t kQB = 1024, kRB = 2048, P = kImagePixels;
  const int64_t Q = static_cast<int64_t>(query.size());
  const int64_t R = static_cast<int64_t>(ref.size());
  // Exact squared norms, and their square roots for the error bound.
  auto norms = [&](const std::vector<int64_t>& idx, std::vector<int64_t>& n2, std::vector<double>& n1) {
    n2.resize(idx.size());
    n1.resize(idx.size());
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < static_cast<int64_t>(idx.size()); ++t) {
      const uint8_t* a = ds.image(idx[t]);
      int64_t s = 0;
      for (int p = 0; p < P; ++p) s += static_cast<int64_t>(a[p]) * a[p];
      n2[t] = s;
      n1[t] = std::sqrt(static_cast<double>(s));
    }
  };
  std::vector<int64_t> qn2, rn2;
  std::vector<double> qn1, rn1;
  norms(query, qn2, qn1);
  norms(ref, rn2, rn1);
  // |estimate - exact| <= 2 gamma_K |a||b|; the factor 2 on top is a safety margin.
  const double u = std::ldexp(1.0, -24);
  const double gamma = P * u / (1.0 - P * u);
  const double slope = 4.0 * gamma;

  std::vector<TopK> tops;
  tops.reserve(Q);
  for (int64_t q = 0; q < Q; ++q)
    tops.push_back(TopK{out.dist2.data() + q * out.k, out.index.data() + q * out.k, out.k});

  auto to_float = [&](const std::vector<int64_t>& idx, int64_t i0, int64_t n, float* dst) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n; ++t) {
      const uint8_t* a = ds.image(idx[i0 + t]);
      float* f = dst + t * P;
      for (int p = 0; p < P; ++p) f[p] = static_cast<float>(a[p]);
    }
  };
  // Scans a tile: query positions qb..qb+nq against reference positions rb..rb+nr, element (t, s)
  // of the GEMM result at C[t * row_stride + s * col_stride].
  auto scan = [&](int64_t qb, int64_t nq, int64_t rb, int64_t nr, const float* C, int64_t row_stride,
                  int64_t col_stride) {
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t t = 0; t < nq; ++t) {
      const int64_t q = qb + t;
      TopK& top = tops[q];
      const uint8_t* a = ds.image(query[q]);
      const float* row = C + t * row_stride;
      const double na = static_cast<double>(qn2[q]);
      const double sa = qn1[q];
      for (int64_t s = 0; s < nr; ++s) {
        const int64_t r = rb + s;
        const int64_t j = ref[r];
        if (exclude_self && j == query[q]) continue;
        const double est = na + static_cast<double>(rn2[r]) - 2.0 * static_cast<double>(row[s * col_stride]);
        const double lower = est - (slope * sa * rn1[r] + 1.0);
        if (lower > static_cast<double>(top.bound())) continue;  // provably farther than the k-th
        top.offer(squared_distance(a, ds.image(j)), j);
      }
    }
  };

  if (ref == query) {
    // One list against itself: the distance matrix is symmetric, so only tiles on and above the
    // block diagonal are computed, and an off-diagonal tile serves both of its blocks (half the
    // GEMM work).
    constexpr int64_t kB = 2048;
    std::vector<float> xa(static_cast<size_t>(std::min(Q, kB) * P)), xb(xa.size());
    std::vector<float> tile(static_cast<size_t>(std::min(Q, kB) * std::min(Q, kB)));
    for (int64_t b0 = 0; b0 < Q; b0 += kB) {
      const int64_t nb0 = std::min(kB, Q - b0);
      to_float(query, b0, nb0, xa.data());
      for (int64_t b1 = b0; b1 < Q; b1 += kB) {
        const int64_t nb1 = std::min(kB, Q - b1);
        const float* other = xa.data();
        if (b1 != b0) {
          to_float(query, b1, nb1, xb.data());
          other = xb.data();
        }
        cpu::gemm<float>(false, true, nb0, nb1, P, 1.0f, xa.data(), P, other, P, 0.0f, tile.data(), nb1);
        scan(b0, nb0, b1, nb1, tile.data(), nb1, 1);
        if (b1 != b0) scan(b1, nb1, b0, nb0, tile.data(), 1, nb1);
      }
    }
    return;
  }

  std::vector<float> qa(static_cast<size_t>(std::min(Q, kQB) * P));
  std::vector<float> rb(static_cast<size_t>(std::min(R, kRB) * P));
  std::vector<float> tile(static_cast<size_t>(std::min(Q, kQB) * std::min(R, kRB)));
  for (int64_t q0 = 0; q0 < Q; q0 += kQB) {
    const int64_t nq = std::min(kQB, Q - q0);
    to_float(query, q0, nq, qa.data());
    for (int64_t r0 = 0; r0 < R; r0 += kRB) {
      const int64_t nr = std::min(kRB, R - r0);
      to_float(ref, r0, nr, rb.data());
      cpu::gemm<float>(false, true, nq, nr, P, 1.0f, qa.data(), P, rb.data(), P, 0.0f, tile.data(), nr);
      scan(q0, nq, r0, nr, tile.data(), nr, 1);
    }
  }
}

}  // namespace

Neighbours knn(const Dataset& ds, const std::vector<int64_t>& ref, const std::vector<int64_t>& query, int k,
               const KnnOptions& options) {
  check_inputs(ds, ref, query, k);
  Neighbours out;
  out.queries = static_cast<int64_t>(query.size());
  out.k = k;
  out.index.assign(static_cast<size_t>(out.queries * k), -1);
  out.dist2.assign(static_cast<size_t>(out.queries * k), -1);
  if (out.queries == 0 || ref.empty()) return out;
  KnnMethod method = options.method;
  if (method == KnnMethod::automatic)
    method = static_cast<double>(out.queries) * static_cast<double>(ref.size()) < 1048576.0 ? KnnMethod::loops
                                                                                            : KnnMethod::gemm;
  if (method == KnnMethod::loops)
    knn_loops(ds, ref, query, options.exclude_self, out);
  else
    knn_gemm(ds, ref, query, options.exclude_self, out);
  // Unfilled slots (fewer than k candidates) still hold the -1 they were initialised with: TopK only
  // writes slots 0..n-1.
  return out;
}

}  // namespace fer::data
