#include "codegen/cuda/Targets.h"

#include <algorithm>

namespace qcc::cuda {

const std::vector<GpuTarget> &allTargets() {
  // Shared memory opt-in and SM counts from NVIDIA's tuning guides / device queries.
  static const std::vector<GpuTarget> targets = {
      {"sm_80", "sm80", "A100-SXM4-80GB", 8, 0, 108, 166912, 2039.0, false, false},
      {"sm_86", "sm86", "RTX A6000", 8, 6, 84, 101376, 768.0, false, false},
      {"sm_89", "sm89", "L40S", 8, 9, 142, 101376, 864.0, true, false},
      {"sm_90a", "sm90", "H100-SXM5 / H200", 9, 0, 132, 232448, 3350.0, true, true},
  };
  return targets;
}

Expected<const GpuTarget *> findTarget(const std::string &name) {
  std::string n = name;
  n.erase(std::remove(n.begin(), n.end(), '_'), n.end()); // sm_90a -> sm90a
  if (n == "sm90a") n = "sm90";
  for (const GpuTarget &t : allTargets())
    if (n == t.cliName) return &t;
  return Status::error("unknown gpu target '" + name + "' (known: sm80, sm86, sm89, sm90)");
}

const GpuTarget *targetForComputeCapability(int major, int minor) {
  for (const GpuTarget &t : allTargets())
    if (t.ccMajor == major && t.ccMinor == minor) return &t;
  return nullptr;
}

const char *gemmFormatName(GemmFormat f) {
  switch (f) {
  case GemmFormat::BF16: return "bf16";
  case GemmFormat::INT8: return "int8";
  case GemmFormat::FP8: return "fp8";
  case GemmFormat::W4A16: return "w4a16";
  case GemmFormat::FP8WeightOnly: return "fp8w";
  }
  return "?";
}

int gemmKChunk(GemmFormat f) {
  switch (f) {
  case GemmFormat::INT8: case GemmFormat::FP8: return 64;
  case GemmFormat::W4A16: return 128;
  default: return 32;
  }
}

bool wgmmaSupports(GemmFormat f, int64_t K) {
  switch (f) {
  case GemmFormat::BF16: return (2 * K) % 128 == 0;
  case GemmFormat::INT8: case GemmFormat::FP8: return K % 128 == 0;
  case GemmFormat::W4A16: return K % 128 == 0; // one packed k block per stage
  default: return false;
  }
}

int64_t gemmSharedBytes(const GemmTile &t, GemmFormat f) {
  if (t.wgmma) return (f == GemmFormat::W4A16 ? 8 : 4) * 128 * 32; // the staged W tile (bf16 codes for w4a16)
  if (t.kSplit <= 1) return 0;
  return int64_t(t.kSplit - 1) * t.warpsN * t.mTiles * t.nTiles * 4 * 32 * 4; // f32 or s32 partials
}

GemmTile chooseGemmTile(const GpuTarget &target, GemmFormat f, int64_t M, int64_t N, int64_t K) {
  GemmTile tile;
  const int64_t chunks = std::max<int64_t>(1, K / gemmKChunk(f));
  if (M <= 16) {
    // Decode: memory bound. One warp column per block, split K so that
    // (blocks x warps) reaches ~8 warps per SM to keep loads in flight.
    tile.mTiles = 1;
    tile.nTiles = 4;
    tile.warpsN = 1;
    const int64_t blocks = (N + tile.blockN() - 1) / tile.blockN();
    int ks = 1;
    while (ks < 8 && blocks * ks < int64_t(target.smCount) * 8 && chunks >= int64_t(ks) * 2 * 4) ks *= 2;
    tile.kSplit = ks;
  } else if (target.hasWgmma && M > 64 && wgmmaSupports(f, K)) {
    tile.wgmma = true;
    return tile;
  } else {
    tile.mTiles = M <= 32 || f == GemmFormat::W4A16 ? (M <= 16 ? 1 : 2) : 2;
    tile.nTiles = 4;
    tile.warpsN = 4;
    tile.kSplit = 1;
    // Few blocks for the SM count (narrow N, small M): split K inside the block.
    const int64_t blocks = ((N + tile.blockN() - 1) / tile.blockN()) * ((M + tile.blockM() - 1) / tile.blockM());
    if (blocks < target.smCount && chunks >= 16) tile.kSplit = 2;
  }
  // Stay inside the static shared-memory limit (48 KiB) and the target's opt-in size.
  const int64_t limit = std::min<int64_t>(48 * 1024, target.sharedPerBlockOptin);
  while (tile.kSplit > 1 && gemmSharedBytes(tile, f) > limit) tile.kSplit /= 2;
  return tile;
}

} // namespace qcc::cuda
