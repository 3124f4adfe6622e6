// Per-layer sensitivity to quantization, measured on the CPU interpreter
// (what `qcc sensitivity` and `--format auto` without a table run).
//
// For every linear (and lm_head with includeLmHead) and every candidate
// format: the mean KL(p_bf16 || p_q) in nats per predicted position of the
// next-token distributions over the calibration ids, with that layer alone
// quantized, forward only. How:
//   1. the unquantized model runs each calibration sequence once; its logits
//      (fp32, as computed) and each row's log-sum-exp (double) are kept;
//   2. per candidate format, the quantization pipeline of `qcc compile`
//      (import -> qcc-select-formats -> ... -> qcc-quantize-weights, same method,
//      clipping and calibration) runs on a copy of the module with that format
//      everywhere; each layer's quantized weight is taken from it (so GPTQ
//      codes are what a uniform compile computes: their Hessians come from
//      the quantized blocks before them, which a single-layer compile would
//      not have), and the uniform model's own KL is measured on the way;
//   3. layer by layer in program order, the activations entering the layer's
//      decoder block (program `block`) are kept per sequence, the layer's
//      weight is swapped for its quantized one and only the program from the
//      start of that block to the logits runs again.
// Activations are f32 unless exec.actDtype says otherwise: with bf16 rounding
// after every op a change to any layer flips roundings downstream, which puts
// a floor under every layer's KL and makes the sum overstate the whole.
// Deterministic: the interpreter's results do not depend on threads, and the
// sums run in a fixed order. AWQ and SmoothQuant fold scales into shared
// producers (norms, other layers), so a layer cannot be quantized alone with
// them: they are rejected.
#pragma once

#include "passes/AutoFormats.h"
#include "passes/Pipelines.h"
#include "runtime/cpu/Interpreter.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcc {

struct SensitivityOptions {
  // Method, clipping, act order, group size, calibration ids and
  // include-lm-head are used; the format and targets are not.
  QuantizationOptions quant;
  std::vector<std::string> candidates = {"bf16", "fp8", "int8", "w4a16"}; // rule format names
  cpu::ExecutorOptions exec; // actDtype unset: f32 (see Sensitivity.cpp)
  std::function<void(const std::string &line)> progress; // one line per event; may be empty
};

struct LayerSensitivity {
  std::string name;
  int64_t n = 0, k = 0;
  int32_t block = -1;
  std::map<std::string, double> kl;               // per measured format (bf16: 0)
  std::map<std::string, std::string> unavailable; // per format: why it was not measured
};

struct SensitivityResult {
  std::vector<std::string> candidates;  // canonical (w4a16:G)
  std::vector<LayerSensitivity> layers; // program order
  std::map<std::string, double> uniformKl; // the uniform compile of each candidate (bf16: 0)
  std::string checkpointHash, calibration;
  int64_t samples = 0, tokens = 0;      // calibration sequences and predicted positions
  // Costs: one unquantized forward over the calibration data; the per-layer
  // runs, and the linear multiply-adds they ran against what full forwards
  // would have.
  double referenceSeconds = 0, quantizeSeconds = 0, layerSeconds = 0;
  int64_t layerRuns = 0, opsRun = 0, opsFull = 0; // ops: linear multiply-adds

  SensitivityTable table() const;
};

class SensitivityRun {
public:
  // `module` is the imported, unquantized model (left unchanged).
  static Expected<std::unique_ptr<SensitivityRun>> measure(mlir::ModuleOp module, const SensitivityOptions &options);
  const SensitivityResult &result() const { return result_; }
  // The mean KL over the calibration data with each named layer in its
  // format (layers not named, and bf16 ones, stay unquantized); measured.
  Expected<double> measureAssignment(const std::map<std::string, std::string> &formatOf);

private:
  Expected<double> klOfSample(size_t sample, const std::vector<float> &logits) const;

  SensitivityResult result_;
  std::unique_ptr<cpu::Interpreter> base_;
  std::vector<std::vector<int64_t>> samples_;
  std::vector<std::vector<float>> refLogits_; // per sample [T, V]
  std::vector<std::vector<double>> refLse_;   // per sample [T]
  std::vector<size_t> linearOps_;             // per result_.layers entry: its program op
  std::map<std::pair<size_t, std::string>, formats::QuantizedLinear> quantized_; // (layer, format)
};

} // namespace qcc
