// kernels/philox.h: Philox 4x32-10, the counter-based RNG shared by CPU and CUDA code.
//
// Math (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
//   a 128-bit counter (c0,c1,c2,c3) and a 64-bit key (k0,k1) go through 10 rounds of
//     (c0,c1,c2,c3) <- (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0))
//   with the key bumped by the Weyl constants (W0,W1) between rounds. Output: 4 x uint32.
//
// In fer: key = seed (64 bits), counter = (offset lo, offset hi, stream lo, stream hi). Every
// consumer (init, dropout, augmentation, shuffling) owns a stream id and draws element i from
// offset i, so the integers are bit-identical on CPU and GPU and independent of thread layout.
// This header is plain arithmetic: it compiles as C++ and as CUDA (host and device).
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace fer::philox {

struct Uint4 {
  uint32_t x, y, z, w;
};

FER_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Philox4x32 with 10 rounds: the raw bijection of the counter under the key.
FER_HD Uint4 philox4x32_10(Uint4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(M0, ctr.x, &hi0);
    const uint32_t lo1 = mulhilo(M1, ctr.z, &hi1);
    ctr = Uint4{hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// Four random 32-bit integers for (seed, stream, block): block = offset / 4 in fer's streams.
FER_HD Uint4 random4(uint64_t seed, uint64_t stream, uint64_t block) {
  const Uint4 ctr{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                  static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The 32-bit integer number `offset` of the stream (seed, stream).
FER_HD uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t offset) {
  const Uint4 r = random4(seed, stream, offset >> 2);
  switch (offset & 3) {
    case 0: return r.x;
    case 1: return r.y;
    case 2: return r.z;
    default: return r.w;
  }
}

// Uniform in [0, 1) with 24 random bits: exact in fp32, so identical on CPU and GPU.
FER_HD float u32_to_uniform(uint32_t v) { return static_cast<float>(v >> 8) * (1.0f / 16777216.0f); }

// Uniform in [0, 1) for offset `offset` of the stream.
FER_HD float uniform(uint64_t seed, uint64_t stream, uint64_t offset) {
  return u32_to_uniform(random_u32(seed, stream, offset));
}

}  // namespace fer::philox
