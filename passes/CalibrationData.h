// Calibration data: where the token ids come from (the module attribute
// `qcc.calibration` that qcc-calibrate sets and later passes read) and
// loading them.
#pragma once

#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

struct CalibrationSpec {
  std::string source = "random"; // "random", a text file (*.txt) or a token-id file, one sequence per line
  int64_t samples = 32;
  int64_t seqLen = 128;
  uint64_t seed = 0;
};

// Loads the samples: up to `samples` lines of the file, each cut to seqLen
// tokens; or `samples` random sequences of seqLen tokens starting with BOS
// (ids drawn uniformly from the vocabulary by a fixed 64-bit generator). A
// source named *.txt is text, encoded with the tokenizer.json the module
// records (`qcc.tokenizer`) and cut into up to `samples` windows of BOS +
// seqLen - 1 tokens (frontends/llama/TextData.h).
Expected<std::vector<std::vector<int64_t>>> loadCalibrationSamples(const CalibrationSpec &spec,
                                                                   const ModelConfig &config, mlir::ModuleOp module);
// Records the spec on the module, with the XXH3-128 of the file's bytes
// (random tokens: none), so that a later process loads the same data.
Status setCalibrationSpec(mlir::ModuleOp module, const CalibrationSpec &spec);
// Fails when the module has no `qcc.calibration` (qcc-calibrate did not run),
// or when the file's bytes changed since.
Expected<CalibrationSpec> getCalibrationSpec(mlir::ModuleOp module);

} // namespace qcc
