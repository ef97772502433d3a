// data/pixel_hash.h: exact-duplicate and train/evaluation leak detection by pixel hash.
//
// Hash: 64-bit FNV-1a over the 2,304 pixel bytes of an image,
//   h = 0xcbf29ce484222325; for each byte b: h = (h ^ b) * 0x100000001b3   (mod 2^64).
// Two images are "identical" when all 2,304 bytes are equal. Hashes only group candidates: every
// group below is confirmed byte by byte, so a 64-bit collision can never merge different images.
// FER2013 has exact duplicates, some under two labels (R002); resampling before splitting copies
// training faces into evaluation sets (R004). These functions make both visible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

// FNV-1a 64 of any byte range (fnv1a64("", 0) = 0xcbf29ce484222325, of "a" = 0xaf63dc4c8601ec8c).
uint64_t fnv1a64(const uint8_t* bytes, size_t size);
// The pixel hash of one 48x48 image: fnv1a64(image, 2304).
inline uint64_t pixel_hash(const uint8_t* image) { return fnv1a64(image, kImagePixels); }
// Pixel hashes of all images (index i -> hash of image i), computed in parallel.
std::vector<uint64_t> pixel_hashes(const Dataset& ds);

// A set of >= 2 images with identical pixels.
struct DuplicateGroup {
  std::vector<int64_t> members;     // dataset indices, ascending
  bool conflicting_labels = false;  // the members do not all carry the same label
};

struct DuplicateReport {
  std::vector<DuplicateGroup> groups;  // ordered by their first member
  int64_t images_in_groups = 0;        // sum of group sizes
  int64_t conflicting_groups = 0;      // groups with more than one label
  int64_t redundant_images = 0;        // images_in_groups - groups.size(): copies beyond the first
};

// Exact duplicate groups among all images, or among `indices` only.
DuplicateReport find_duplicates(const Dataset& ds);
DuplicateReport find_duplicates(const Dataset& ds, const std::vector<int64_t>& indices);

// For each image of `query` (or each of `query_indices`), the smallest index among `ref_indices`
// of `ref` (all of `ref` when null) whose pixels are identical, else -1. `ref` and `query` may be
// the same dataset. Result has one entry per queried image, in query order.
std::vector<int64_t> match_images(const Dataset& ref, const std::vector<int64_t>* ref_indices, const Dataset& query,
                                  const std::vector<int64_t>* query_indices);

// The images of `eval` (dataset indices, ascending) whose pixels also occur among `train`.
std::vector<int64_t> find_overlap(const Dataset& ds, const std::vector<int64_t>& train, const std::vector<int64_t>& eval);

// For every split other than Training that has images: how many of them also occur in Training.
struct SplitOverlap {
  Split split;
  int64_t images = 0;                // images of this split
  std::vector<int64_t> in_training;  // those whose pixels occur in Training (dataset indices)
};
std::vector<SplitOverlap> training_overlap(const Dataset& ds);

}  // namespace fer::data
