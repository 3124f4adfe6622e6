#include "quant/CostModel.h"

#include <algorithm>
#include <cctype>

namespace qcc::quant {

// Published peak figures, dense (the datasheets' "with sparsity" numbers are
// twice these), memory bandwidth in GB/s:
//   RTX A6000  768 GB/s GDDR6; bf16 154.8 TFLOPS, int8 309.7 TOPS; no fp8
//              (NVIDIA RTX A6000 datasheet; Ampere GA102 whitepaper, appendix)
//   A100 SXM4 80GB  2039 GB/s HBM2e; bf16 312 TFLOPS, int8 624 TOPS; no fp8
//              (NVIDIA A100 Tensor Core GPU datasheet)
//   L40S       864 GB/s GDDR6; bf16 362.05 TFLOPS, fp8 733 TFLOPS, int8 733 TOPS
//              (NVIDIA L40S datasheet)
//   H100 SXM5  3350 GB/s HBM3; bf16 989.4 TFLOPS, fp8 1978.9 TFLOPS, int8 1978.9 TOPS
//              (NVIDIA H100 Tensor Core GPU datasheet)
//   H200 SXM   4800 GB/s HBM3e; compute as H100 SXM5 (NVIDIA H200 datasheet)
const std::vector<GpuSpec> &gpuSpecs() {
  static const std::vector<GpuSpec> specs = {
      {"a6000", "sm86", "sm_86", "RTX A6000", 768.0, 154.8, 0.0, 309.7},
      {"a100", "sm80", "sm_80", "A100 SXM4 80GB", 2039.0, 312.0, 0.0, 624.0},
      {"l40s", "sm89", "sm_89", "L40S", 864.0, 362.05, 733.0, 733.0},
      {"h100", "sm90", "sm_90a", "H100 SXM5", 3350.0, 989.4, 1978.9, 1978.9},
      {"h200", "sm90", "sm_90a", "H200 SXM", 4800.0, 989.4, 1978.9, 1978.9},
  };
  return specs;
}

Expected<const GpuSpec *> lookupGpu(const std::string &name) {
  std::string lower;
  for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
  lower.erase(std::remove(lower.begin(), lower.end(), '_'), lower.end());
  if (lower == "sm90a") lower = "sm90";
  for (const GpuSpec &g : gpuSpecs())
    if (lower == g.name) return &g;
  for (const GpuSpec &g : gpuSpecs())
    if (lower == g.target) return &g; // the first GPU of a target: sm90 -> h100
  return Status::error("unknown GPU '" + name + "' (expected a6000, a100, l40s, h100, h200 or sm80, sm86, sm89, sm90)");
}

int64_t linearWeightBytes(const formats::FormatSpec &f, int64_t n, int64_t k) {
  switch (f.format) {
  case formats::Format::BF16: return 2 * n * k;
  case formats::Format::FP8:
  case formats::Format::INT8: return n * k + 4 * n;
  case formats::Format::W4A16: return (n * k + 1) / 2 + 4 * n * (k / std::max(1, f.groupSize));
  }
  return 2 * n * k;
}

double gemmMicros(const GpuSpec &gpu, const formats::FormatSpec &f, const std::vector<GemmShape> &stacked, int64_t m,
                  const MeasuredTime &measured) {
  if (stacked.empty()) return 0;
  const int64_t k = stacked.front().k;
  int64_t n = 0, weightBytes = 0;
  for (const GemmShape &s : stacked) {
    n += s.n;
    weightBytes += linearWeightBytes(f, s.n, s.k);
  }
  const bool w8a8 = f.format == formats::Format::FP8 || f.format == formats::Format::INT8;
  const bool fp8WeightOnly = f.format == formats::Format::FP8 && gpu.fp8Tflops == 0;
  std::string tileFormat = formats::formatName(f.format);
  if (fp8WeightOnly) tileFormat = "fp8w";
  if (measured)
    if (std::optional<double> us = measured(gpu.gpuArch, tileFormat, n, k, m <= 16); us && *us > 0) return *us;
  const bool codesIn = w8a8 && !fp8WeightOnly;
  const double bytes = double(weightBytes) + double(m) * double(k) * (codesIn ? 1.0 : 2.0) +
                       (codesIn ? 4.0 * double(m) : 0.0) + 2.0 * double(m) * double(n);
  double peak = gpu.bf16Tflops;
  if (f.format == formats::Format::INT8) peak = gpu.int8Tops;
  else if (f.format == formats::Format::FP8 && !fp8WeightOnly) peak = gpu.fp8Tflops;
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const double memoryUs = bytes / (gpu.bandwidthGBs * 1e9) * 1e6;
  const double computeUs = flops / (peak * 1e12) * 1e6;
  return std::max(memoryUs, computeUs);
}

} // namespace qcc::quant
