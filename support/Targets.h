// GPU targets qcc compiles for, and which formats are legal on each. This is
// the one legality table: passes, the CLI and the runtime all consult it.
#pragma once

#include "support/Status.h"

#include <string>
#include <vector>

namespace qcc {

struct TargetInfo {
  const char *name;        // canonical: "sm80"
  const char *gpuArch;     // NVRTC --gpu-architecture value: "sm_80", "sm_90a"
  int smVersion;           // 80, 86, 89, 90
  const char *examples;    // "A100"
  bool hasFp8TensorCores;  // e4m3 mma: sm_89 and newer
  bool hasWgmma;           // warpgroup mma: sm_90a
};

// All known targets, in ascending SM order.
const std::vector<TargetInfo> &allTargets();

// Accepts canonical names (sm80, sm86, sm89, sm90), "sm_90a"-style spellings
// and the aliases a100, a6000, l40s, h100, h200 (case-insensitive).
Expected<TargetInfo> lookupTarget(const std::string &nameOrAlias);

// Parses a comma-separated list ("sm80,h100"); duplicates are dropped,
// order is kept.
Expected<std::vector<TargetInfo>> parseTargetList(const std::string &list);

// Why `format` (bf16, fp8, int8, w4a16) cannot run on `target`, or ok.
// W8A8 fp8 needs fp8 tensor cores (sm_89+); `allowFp8WeightOnly` accepts fp8
// on older targets as e4m3 weights with bf16 math.
// The CUDA w4a16 kernels dequantize whole 128-channel tiles, so groupSize
// (w4a16 only; 0 otherwise) must be a multiple of 128.
Status checkFormatLegal(const std::string &format, const TargetInfo &target, bool allowFp8WeightOnly,
                        int64_t groupSize = 0);
constexpr int64_t kW4A16KernelGroupMultiple = 128;

} // namespace qcc
