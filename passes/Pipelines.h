// The named pass pipeline of qcc: what `qcc compile` and `qcc eval` run, in
// this explicit order:
//   qcc-select-formats -> qcc-legalize-target -> qcc-calibrate ->
//   qcc-fold-smoothquant -> qcc-quantize-weights
// (legality is checked before any expensive calibration).
#pragma once

#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace qcc {

struct QuantizationOptions {
  std::string format = "bf16";     // default format: bf16, fp8, int8, w4a16[:G]
  std::string layerFormatsFile;    // ordered per-layer rules (YAML/JSON)
  bool includeLmHead = false;
  int64_t groupSize = 128;
  std::string method = "rtn";      // rtn | gptq | awq
  bool mseClip = false;
  bool actOrder = false;
  std::optional<double> smoothQuantAlpha;
  std::string calibSource = "random"; // token-id file or "random"
  int64_t calibSamples = 32;
  int64_t calibSeqLen = 128;
  uint64_t calibSeed = 0;
  std::string targets;             // comma-separated; empty: no target check
  bool fp8WeightOnly = false;

  // Whether the options need calibration data (SmoothQuant, GPTQ, AWQ).
  bool needsCalibration() const { return smoothQuantAlpha.has_value() || method != "rtn"; }
  // The options in a canonical order, for provenance and cache keys; input
  // files (calibration ids, rules) by base name and XXH3-128 of their bytes.
  std::string canonical() const;
};

void buildQuantizationPipeline(mlir::OpPassManager &pm, const QuantizationOptions &options);

// Registers `qcc-quantize-pipeline` with qcc-opt.
void registerQccPipelines();

} // namespace qcc
