// The weights of a module under compilation: the mmap'ed checkpoint, overlaid
// with what passes produce (smoothed dense weights, quantized linears) and the
// calibration statistics they share. qcc.weight / qcc.quantized_weight ops
// refer to entries here by name.
//
// qcc compile attaches a store to the module it builds; qcc-opt finds one
// through the module's `qcc.checkpoint` attribute (opened once per process).
#pragma once

#include "frontends/llama/Checkpoint.h"
#include "runtime/cpu/LlamaModel.h"
#include "runtime/formats/Formats.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcc {

class WeightStore : public WeightProvider {
public:
  explicit WeightStore(std::unique_ptr<Checkpoint> checkpoint);

  const Checkpoint &checkpoint() const { return *checkpoint_; }
  const ModelConfig &config() const { return checkpoint_->config(); }

  // A dense tensor: the overlay (F32) when a pass replaced it, else the checkpoint's.
  const TensorRef *find(const std::string &name) const override;
  // fp32 copy of a dense tensor (converting bf16 / f16); empty when absent.
  std::vector<float> readFloat(const std::string &name) const;
  // Replaces a dense tensor; the shape must match the checkpoint's.
  Status setDense(const std::string &name, std::vector<float> values);

  // Quantized linears, by weight name ("model.layers.0.mlp.down_proj.weight").
  // A stored result (GPTQ, AWQ) is kept in memory; a round-to-nearest recipe
  // is computed from the source weights each time it is asked for, so that
  // writing an artifact holds one layer at a time.
  void setQuantized(const std::string &name, formats::QuantizedLinear q);
  struct RtnRecipe {
    std::string source; // dense weight name it is computed from
    formats::FormatSpec spec;
    bool mseClip = false;
  };
  void setQuantizedRecipe(const std::string &name, RtnRecipe recipe);
  bool hasQuantized(const std::string &name) const;
  Expected<formats::QuantizedLinear> quantizedLinear(const std::string &name) const;
  std::vector<std::string> quantizedNames() const; // sorted

  // Per-input-channel absmax of each linear's input, by linear name
  // ("model.layers.0.self_attn.q_proj"), from qcc-calibrate.
  std::map<std::string, std::vector<float>> &activationAbsMax() { return actAbsMax_; }

  // An executor over the current weights (dense overlay included, quantized
  // linears installed), for calibration and evaluation.
  Expected<std::unique_ptr<cpu::LlamaModel>> buildExecutor(const cpu::ExecutorOptions &options) const;

  // Progress lines from passes that work layer by layer ("quantized layer 3 of 32"); may be empty.
  std::function<void(const std::string &stage, int64_t layer, int64_t layers)> progress;

  // The store of `module`: the attached one, or one opened from its
  // `qcc.checkpoint` attribute (cached per process and path).
  static Expected<std::shared_ptr<WeightStore>> forModule(mlir::ModuleOp module);
  static void attach(mlir::ModuleOp module, std::shared_ptr<WeightStore> store);
  // Forgets `module` (call before destroying it, so a later module at the same
  // address cannot find this store).
  static void detach(mlir::ModuleOp module);

private:
  struct DenseEntry {
    TensorRef ref;
    std::vector<float> values;
  };
  std::unique_ptr<Checkpoint> checkpoint_;
  std::map<std::string, std::unique_ptr<DenseEntry>> dense_;
  std::map<std::string, formats::QuantizedLinear> quantized_;
  std::map<std::string, RtnRecipe> recipes_;
  std::map<std::string, std::vector<float>> actAbsMax_;
};

// Where calibration token ids come from (the module attribute
// `qcc.calibration` that qcc-calibrate sets and later passes read).
struct CalibrationSpec {
  std::string source = "random"; // "random" or a token-id file, one sequence per line
  int64_t samples = 32;
  int64_t seqLen = 128;
  uint64_t seed = 0;
};
// Loads the samples: up to `samples` lines of the file, each cut to seqLen
// tokens; or `samples` random sequences of seqLen tokens starting with BOS
// (ids drawn uniformly from the vocabulary by a fixed 64-bit generator).
// A source named *.txt is text, encoded with modelDir/tokenizer.json and cut
// into up to `samples` windows of BOS + seqLen - 1 tokens (TextData.h).
Expected<std::vector<std::vector<int64_t>>> loadCalibrationSamples(const CalibrationSpec &spec,
                                                                   const ModelConfig &config,
                                                                   const std::string &modelDir = "");
void setCalibrationSpec(mlir::ModuleOp module, const CalibrationSpec &spec);
// Fails when the module has no `qcc.calibration` (qcc-calibrate did not run).
Expected<CalibrationSpec> getCalibrationSpec(mlir::ModuleOp module);

// The executor options a module asks for: fp32 or bf16 activations, from the
// element type of @forward's embedding result.
cpu::ExecutorOptions executorOptionsFor(mlir::ModuleOp module);

} // namespace qcc
