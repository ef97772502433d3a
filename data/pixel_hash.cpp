// data/pixel_hash.cpp: FNV-1a hashing, duplicate groups (hash, then byte-exact), overlaps.
#include "data/pixel_hash.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "kernels/common.h"

namespace fer::data {

uint64_t fnv1a64(const uint8_t* bytes, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV offset basis
  for (size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ull;  // FNV prime
  }
  return h;
}

std::vector<uint64_t> pixel_hashes(const Dataset& ds) {
  const int64_t n = ds.size();
  std::vector<uint64_t> h(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) h[i] = pixel_hash(ds.image(i));
  return h;
}

namespace {
bool same_pixels(const Dataset& a, int64_t i, const Dataset& b, int64_t j) {
  return std::memcmp(a.image(i), b.image(j), kImagePixels) == 0;
}

std::vector<int64_t> all_indices(const Dataset& ds) {
  std::vector<int64_t> idx(ds.size());
  std::iota(idx.begin(), idx.end(), int64_t{0});
  return idx;
}

void check_indices(const Dataset& ds, const std::vector<int64_t>& idx, const char* what) {
  for (int64_t i : idx) FER_CHECK(i >= 0 && i < ds.size(), what << ": index " << i << " is outside 0.." << ds.size() - 1);
}
}  // namespace

DuplicateReport find_duplicates(const Dataset& ds) { return find_duplicates(ds, all_indices(ds)); }

DuplicateReport find_duplicates(const Dataset& ds, const std::vector<int64_t>& indices) {
  check_indices(ds, indices, "find_duplicates");
  // Sort by (hash, index): candidates for equality become neighbours.
  std::vector<std::pair<uint64_t, int64_t>> keyed(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) keyed[k] = {pixel_hash(ds.image(indices[k])), indices[k]};
  std::sort(keyed.begin(), keyed.end());
  DuplicateReport rep;
  for (size_t a = 0; a < keyed.size();) {
    size_t b = a;
    while (b < keyed.size() && keyed[b].first == keyed[a].first) b++;
    // Within one hash run, split into byte-exact classes (almost always exactly one).
    std::vector<int64_t> rest;
    for (size_t k = a; k < b; ++k) rest.push_back(keyed[k].second);
    while (rest.size() >= 2) {
      DuplicateGroup g;
      std::vector<int64_t> other;
      for (int64_t i : rest) (same_pixels(ds, rest[0], ds, i) ? g.members : other).push_back(i);
      if (g.members.size() >= 2) {
        std::sort(g.members.begin(), g.members.end());
        g.members.erase(std::unique(g.members.begin(), g.members.end()), g.members.end());
      }
      if (g.members.size() >= 2) {
        for (int64_t i : g.members) g.conflicting_labels |= ds.labels[i] != ds.labels[g.members[0]];
        rep.groups.push_back(std::move(g));
      }
      rest.swap(other);
    }
    a = b;
  }
  std::sort(rep.groups.begin(), rep.groups.end(),
            [](const DuplicateGroup& x, const DuplicateGroup& y) { return x.members[0] < y.members[0]; });
  for (const DuplicateGroup& g : rep.groups) {
    rep.images_in_groups += static_cast<int64_t>(g.members.size());
    rep.conflicting_groups += g.conflicting_labels ? 1 : 0;
  }
  rep.redundant_images = rep.images_in_groups - static_cast<int64_t>(rep.groups.size());
  return rep;
}

std::vector<int64_t> match_images(const Dataset& ref, const std::vector<int64_t>* ref_indices, const Dataset& query,
                                  const std::vector<int64_t>* query_indices) {
  const std::vector<int64_t> ref_all = ref_indices ? std::vector<int64_t>() : all_indices(ref);
  const std::vector<int64_t>& r = ref_indices ? *ref_indices : ref_all;
  const std::vector<int64_t> query_all = query_indices ? std::vector<int64_t>() : all_indices(query);
  const std::vector<int64_t>& q = query_indices ? *query_indices : query_all;
  check_indices(ref, r, "match_images (reference)");
  check_indices(query, q, "match_images (query)");
  // hash -> reference indices with that hash, ascending (so the first exact match is the smallest).
  std::unordered_multimap<uint64_t, int64_t> table;
  table.reserve(r.size());
  std::vector<int64_t> sorted_r = r;
  std::sort(sorted_r.begin(), sorted_r.end());
  for (int64_t i : sorted_r) table.emplace(pixel_hash(ref.image(i)), i);
  std::vector<int64_t> out(q.size(), -1);
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t k = 0; k < static_cast<int64_t>(q.size()); ++k) {
    auto [lo, hi] = table.equal_range(pixel_hash(query.image(q[k])));
    int64_t best = -1;
    for (auto it = lo; it != hi; ++it)
      if ((best < 0 || it->second < best) && same_pixels(ref, it->second, query, q[k])) best = it->second;
    out[k] = best;
  }
  return out;
}

std::vector<int64_t> find_overlap(const Dataset& ds, const std::vector<int64_t>& train, const std::vector<int64_t>& eval) {
  const std::vector<int64_t> m = match_images(ds, &train, ds, &eval);
  std::vector<int64_t> out;
  for (size_t k = 0; k < eval.size(); ++k)
    if (m[k] >= 0) out.push_back(eval[k]);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<SplitOverlap> training_overlap(const Dataset& ds) {
  const std::vector<int64_t> train = indices_of_split(ds, Split::training);
  std::vector<SplitOverlap> out;
  for (Split s : {Split::public_test, Split::private_test, Split::test, Split::unknown}) {
    const std::vector<int64_t> idx = indices_of_split(ds, s);
    if (idx.empty()) continue;
    out.push_back(SplitOverlap{s, static_cast<int64_t>(idx.size()), find_overlap(ds, train, idx)});
  }
  return out;
}

}  // namespace fer::data
