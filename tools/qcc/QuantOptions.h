// Command-line quantization options shared by `qcc compile` and `qcc eval`,
// so both quantize a model the same way.
#pragma once

#include "passes/Pipelines.h"
#include "runtime/cpu/Interpreter.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <memory>

#include <string>
#include <vector>

namespace qcc::cli {

// Options text for --help.
extern const char *kQuantOptionsHelp;

// Consumes the quantization options of args[i] (advancing i past a value);
// returns false when args[i] is not one of them. Errors go to `error`.
bool parseQuantOption(const std::vector<std::string> &args, size_t &i, QuantizationOptions &options,
                      bool &calibGiven, std::string &error);

// The options' own consistency, before any work: the group size, the default
// format and the rules file (read and parsed; which layers each rule matches
// is reported by qcc-select-formats) follow the same rules as the pass.
Status checkQuantOptions(const QuantizationOptions &options);

// A private temporary folder (for the parameter archives of an in-memory
// compile), removed with everything in it on destruction.
class TempDir {
public:
  static Expected<std::unique_ptr<TempDir>> create(const std::string &prefix);
  ~TempDir();
  const std::string &path() const { return path_; }

private:
  TempDir() = default;
  std::string path_;
};

// A checkpoint imported into qcc IR: what the pipeline runs on. With
// `paramDir`, the passes write their archives to a temporary folder that
// lives as long as the model. Members are destroyed module first.
struct ImportedModel {
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<TempDir> paramDir;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};
// activationDtype: "f32", "bf16" or "" for the checkpoint's own.
Expected<ImportedModel> importModel(const std::string &modelDir, const std::string &activationDtype, bool paramDir);

// --format auto and its options agree (a budget, no rules file, ...).
Status checkAutoOptions(const QuantizationOptions &options);
// With --format auto and no --sensitivity: measures the sensitivity table on
// the imported module (passes/Sensitivity.h) and attaches it as
// qcc.sensitivity for qcc-select-formats. Nothing otherwise.
Status prepareAutoFormats(mlir::ModuleOp module, QuantizationOptions &options, const cpu::ExecutorOptions &exec,
                          const std::function<void(const std::string &)> &progress);
std::vector<std::string> splitList(const std::string &text); // "a,b" -> {a, b}

// When calibration is needed (or --format auto measures) and no --calib was given: MODEL_DIR/calib.ids if
// the model folder has one, else random tokens. Returns a note for the user.
std::string defaultCalibration(QuantizationOptions &options, const std::string &modelDir);

} // namespace qcc::cli
