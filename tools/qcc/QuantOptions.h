// Command-line quantization options shared by `qcc compile` and `qcc eval`,
// so both quantize a model the same way.
#pragma once

#include "passes/Pipelines.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

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

// When calibration is needed and no --calib was given: MODEL_DIR/calib.ids if
// the model folder has one, else random tokens. Returns a note for the user.
std::string defaultCalibration(QuantizationOptions &options, const std::string &modelDir);

} // namespace qcc::cli
