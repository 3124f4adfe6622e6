// The GPU targets qcc compiles for, and the one table of per-target tile choices.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc::cuda {

struct GpuTarget {
  const char *name;        // "sm_80": what NVRTC's --gpu-architecture gets ("sm_90a" on Hopper)
  const char *cliName;     // "sm80": what `qcc compile --target` accepts
  const char *exampleGpu;  // the GPU the numbers below describe
  int ccMajor, ccMinor;    // compute capability the cubin runs on
  int smCount;             // streaming multiprocessors
  int sharedPerBlockOptin; // bytes of shared memory a block may opt into
  double memBandwidthGBs;  // DRAM bandwidth, for rooflines
  bool hasFp8Mma;          // mma.sync with e4m3 operands (sm_89+)
  bool hasWgmma;           // warpgroup mma (sm_90a)
};

// sm_80 (A100), sm_86 (A6000), sm_89 (L40S), sm_90a (H100/H200).
const std::vector<GpuTarget> &allTargets();
// Accepts "sm80", "sm_80", "sm90", "sm_90", "sm_90a" ... ; the error lists the known ones.
Expected<const GpuTarget *> findTarget(const std::string &name);
// The target whose cubins run on a device of compute capability major.minor
// (exact match; sm_90a for 9.0), or null.
const GpuTarget *targetForComputeCapability(int major, int minor);

// GEMM kernel formats (see kernels/gemm.cuh). Fp8WeightOnly is the sm_80/86
// fallback: e4m3 weights dequantised to bf16 in registers, bf16 activations.
enum class GemmFormat : int { BF16 = 0, INT8 = 1, FP8 = 2, W4A16 = 3, FP8WeightOnly = 4 };
const char *gemmFormatName(GemmFormat f); // "bf16" "int8" "fp8" "w4a16" "fp8w"

// How one GEMM kernel is tiled: a block has warpsN x kSplit warps; a warp
// computes mTiles x 16 rows and nTiles x 8 columns over every kSplit-th k chunk.
// wgmma (sm_90a, bf16/int8/fp8/w4a16): one warpgroup computes a 64 x 128 block
// with warpgroup MMAs from a shared-memory W tile; the other fields are unused.
struct GemmTile {
  int mTiles = 1, nTiles = 4, warpsN = 1, kSplit = 1;
  bool wgmma = false;
  int threads() const { return wgmma ? 128 : 32 * warpsN * kSplit; }
  int blockM() const { return wgmma ? 64 : 16 * mTiles; }
  int blockN() const { return wgmma ? 128 : 8 * nTiles * warpsN; }
  bool operator==(const GemmTile &o) const {
    return wgmma == o.wgmma && mTiles == o.mTiles && nTiles == o.nTiles && warpsN == o.warpsN &&
           kSplit == o.kSplit;
  }
};
// Shared memory (bytes) the tile's k-split reduction needs.
int64_t gemmSharedBytes(const GemmTile &tile, GemmFormat f);
// k elements one warp consumes per step (32 bf16, 64 8-bit, 128 int4).
int gemmKChunk(GemmFormat f);
// Whether the wgmma kernel exists for the format (bf16, int8, fp8, w4a16) and k.
bool wgmmaSupports(GemmFormat f, int64_t K);

// The one tile table: decode (M <= 16) splits K across warps so that the
// grid fills the SMs; larger M uses 2 m-tiles and 4 warps across N, or on
// sm_90a (M > 64, bf16/int8/fp8/w4a16) the wgmma kernel. The choice is bounded by
// the target's shared memory and scaled by its SM count.
GemmTile chooseGemmTile(const GpuTarget &target, GemmFormat f, int64_t M, int64_t N, int64_t K);

} // namespace qcc::cuda
