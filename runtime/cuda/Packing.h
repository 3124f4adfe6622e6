// w4a16 weights in the kernel's layout (see kernels/gemm.cuh), converted from
// and back to the canonical layout of runtime/formats/Formats.h.
//
// Canonical (formats::QuantizedLinear, W4A16): bytes [N][K/2], byte (n, j)
// holds k = 2j (low nibble) and 2j+1 (high nibble) as two's-complement int4;
// scales [N][K/group] f32.
//
// Kernel layout: bytes [ceil(N/8)][K/128][32 lanes][16], one 16-byte load per
// lane per (8-row tile, 128-wide k block). For weight W[n][k]:
//   tile = n / 8, g = n % 8, kb = k / 128, r = k % 128, t = r / 32, j = r % 32
//   lane = 4*g + t, word = j / 8, v = j % 8
//   nibble position in the 32-bit word: v even -> v/2, v odd -> 4 + v/2
//   (so (word >> 4p) & 0x000f000f yields the pair (v=2p, v=2p+1) as two halves)
//   code stored = q + 8 in [0, 15]; rows n >= N of the last tile are code 8 (zero).
// Scales: f32 [K/group][ceil(N/8)*8], padded columns 1.0.
#pragma once

#include "runtime/formats/Formats.h"
#include "support/Status.h"

#include <cstdint>
#include <vector>

namespace qcc::cuda {

struct W4A16KernelWeights {
  int64_t n = 0, k = 0, group = 0;
  std::vector<uint8_t> weights; // [ceil(N/8)][K/128][32][16]
  std::vector<float> scales;    // [K/group][ceil(N/8)*8]
};

// Byte offset and nibble shift (0 or 4) of W[n][k] in the kernel layout.
void w4a16KernelPosition(int64_t n, int64_t k, int64_t K, int64_t *byteOffset, int *shift);

// Errors: not W4A16, K not a multiple of 128, group not a multiple of 128, bad sizes.
Expected<W4A16KernelWeights> packW4A16ForKernel(const formats::QuantizedLinear &q);
// The inverse: back to the canonical QuantizedLinear.
Expected<formats::QuantizedLinear> unpackW4A16FromKernel(const W4A16KernelWeights &p);

} // namespace qcc::cuda
