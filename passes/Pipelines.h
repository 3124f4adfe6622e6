// The named pass pipelines of qcc: what `qcc compile` runs (and prints with
// --dump-pass-pipeline), what `qcc eval` runs to quantize in memory, and their
// qcc-opt registrations with the same option names as the qcc CLI:
//
//   qcc-select-formats -> qcc-legalize-target (GPU targets) -> qcc-calibrate ->
//   qcc-fold-smoothquant -> qcc-quantize-weights -> qcc-fuse ->
//   qcc-lower-to-kernels -> qcc-plan-buffers (GPU targets)
//
// (legality is checked, on a lowered copy, before any expensive calibration).
#pragma once

#include "mlir/Pass/PassManager.h"

#include <optional>
#include <string>

namespace qcc {

struct QuantizationOptions {
  std::string format = "bf16";     // default format: bf16, fp8, int8, w4a16[:G], or auto
  std::string budget;              // format auto: bits=B | size=BYTES | latency=US@GPU
  bool uniformGroups = false;      // format auto: q|k|v and gate|up share a format (qcc export)
  std::string sensitivityFile;     // format auto: a `qcc sensitivity` JSON (else the module's qcc.sensitivity)
  std::string autoCandidates;      // format auto, measured in the tool: comma-separated formats
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
  std::string targets;             // comma-separated; empty: no GPU target (CPU only)
  bool fp8WeightOnly = false;
  std::string tilesFile;           // a `qcc tune` table for the GEMM tiles

  // Whether the options need calibration data (SmoothQuant, GPTQ, AWQ).
  bool needsCalibration() const { return smoothQuantAlpha.has_value() || method != "rtn"; }
};

// The quantization passes (what `qcc eval MODEL_DIR` runs in memory).
void buildQuantizationPipeline(mlir::OpPassManager &pm, const QuantizationOptions &options);
// The whole compile: quantization, fusion and, for GPU targets, lowering to
// kernels and buffer planning (what `qcc compile` runs before translating).
void buildCompilePipeline(mlir::OpPassManager &pm, const QuantizationOptions &options);

// Registers `qcc-quantize-pipeline` and `qcc-compile-pipeline` with qcc-opt.
void registerQccPipelines();

} // namespace qcc
