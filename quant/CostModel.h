// Estimated time of one linear layer (a GEMM y[M,N] = x[M,K] W^T) on a GPU,
// for choosing formats under a latency budget: the roofline
//   time = max(bytes / memory bandwidth, flops / dense tensor-core peak)
// with the vendor's published figures (see CostModel.cpp for the sources).
//   bytes = weight bytes (codes + fp32 scales, as the artifact stores them)
//         + activations read (M*K: 2 bytes bf16, 1 byte for W8A8 codes + 4 per token)
//         + outputs written (M*N bf16)
//   flops = 2*M*N*K at the format's tensor-core rate: bf16 for bf16 and
//           w4a16 (dequantized to bf16 MMA), fp8 or int8 for W8A8, bf16 for
//           fp8 weight-only on GPUs without fp8 tensor cores.
// A time measured by `qcc tune` (a tile table entry with "ms" for the same
// target, format, N, K and bucket) replaces the estimate. Launch overheads,
// caches and achieved (rather than peak) bandwidth are not modelled: the
// estimate is a lower bound that ranks formats, not a prediction of wall time.
#pragma once

#include "runtime/formats/Formats.h"
#include "support/Status.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qcc::quant {

struct GpuSpec {
  const char *name;      // "h100"
  const char *target;    // the qcc target it compiles for: "sm90"
  const char *gpuArch;   // tile table target: "sm_90a"
  const char *product;   // "H100 SXM5 80GB"
  double bandwidthGBs;   // HBM / GDDR bandwidth, GB/s (1e9 bytes)
  double bf16Tflops;     // dense bf16 tensor core, 1e12 flop/s
  double fp8Tflops;      // dense fp8 tensor core (0: none)
  double int8Tops;       // dense int8 tensor core
};

// A6000, A100, L40S, H100, H200 (in that order).
const std::vector<GpuSpec> &gpuSpecs();
// By name (a6000, a100, l40s, h100, h200; case-insensitive) or by target
// (sm86 -> a6000, sm80 -> a100, sm89 -> l40s, sm90 -> h100).
Expected<const GpuSpec *> lookupGpu(const std::string &name);

// Bytes of a linear's weight in a format: codes plus fp32 scales.
int64_t linearWeightBytes(const formats::FormatSpec &format, int64_t n, int64_t k);

// Measured time in microseconds for (gpuArch, format name as the tile table
// spells it: bf16 int8 fp8 w4a16 fp8w, N, K, decode bucket), if any.
using MeasuredTime = std::function<std::optional<double>(const std::string &gpuArch, const std::string &format,
                                                         int64_t n, int64_t k, bool decode)>;

struct GemmShape {
  int64_t n = 0, k = 0;
};

// The estimated time in microseconds of one GEMM over linears that read the
// same input in the same format (one fused launch: their N's stacked), at M
// rows. fp8WeightOnly: fp8 on a GPU without fp8 tensor cores runs as e4m3
// weights with bf16 math.
double gemmMicros(const GpuSpec &gpu, const formats::FormatSpec &format, const std::vector<GemmShape> &stacked,
                  int64_t m, const MeasuredTime &measured = {});

constexpr int64_t kDecodeRows = 1;
constexpr int64_t kPrefillRows = 2048;

} // namespace qcc::quant
