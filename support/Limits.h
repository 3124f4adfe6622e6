// Limits on sizes that come from a flag or a file, in one place, and the
// check of an allocation that grows with such a size against the memory
// this process can have. Both run before anything is allocated, so a huge
// value is an error message, never std::bad_alloc or the OOM killer.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace qcc::limits {

// Tokens of one sequence: --max-seq-len, --seq-len, --calib-seq-len (8x the
// 131072 positions of Llama-3.1).
constexpr int64_t kMaxSequenceTokens = int64_t(1) << 20;
// Calibration sequences: --calib-samples.
constexpr int64_t kMaxCalibrationSamples = int64_t(1) << 20;

// Bytes this process can still allocate: the kernel's MemAvailable, lowered
// by a cgroup (v2) memory limit when one applies. nullopt when unknown.
std::optional<uint64_t> availableMemoryBytes();

// a * b * ... saturating at UINT64_MAX (estimates must not wrap around).
uint64_t saturatingProduct(std::initializer_list<uint64_t> factors);
uint64_t saturatingSum(std::initializer_list<uint64_t> terms);

// "1.50 GiB", "12.0 MiB", "512 B".
std::string bytesText(uint64_t bytes);

// An error when `bytes` exceed the available memory:
//   "<what> need about 8.00 TiB of memory, 21.3 GiB are available"
// ok when they fit or the available memory is unknown.
Status checkFitsInMemory(uint64_t bytes, const std::string &what);

} // namespace qcc::limits
