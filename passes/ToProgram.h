// The translation of a qcc function into the CPU op list
// (runtime/program/Program.h), and the weights it refers to, evaluated from
// the IR's parameters. Calibration runs the result through the CPU
// interpreter while the module is compiled; the artifact stores it.
//
// Each qcc op becomes one program op (its name is the op's `layer`, or its
// location's name; its calibration block the `qcc.block` attribute); the
// codes and token scales of a quantized activation are one program value;
// weight ops with the same name and parameter are one tensor.
#pragma once

#include "dialects/qcc/QccDialect.h"
#include "passes/Params.h"
#include "runtime/ModelConfig.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/program/Program.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace qcc {

struct TranslatedProgram {
  program::Program program;
  // Per tensor index: the IR value that defines the weight, and its name.
  std::vector<mlir::Value> weights;
  std::vector<std::string> weightNames;
  // Per tensor index: every operand of a graph op that reads it.
  std::vector<std::vector<mlir::OpOperand *>> weightUses;
  // Per program op: the IR op it came from.
  std::vector<mlir::Operation *> origin;
  // Tensor index by weightIdentity (copies of the graph, such as a lowered
  // qcck.program, find their weights' tensors through it).
  std::map<std::string, uint32_t> tensorByIdentity;
};

// What makes two weight values the same tensor: name and parameter (or
// inline value; round-to-nearest: name, format and source). Empty when `w`
// is not defined by a weight op.
std::string weightIdentity(mlir::Value w, std::string *name = nullptr);

// The module's @forward (token ids [T], positions [T] -> logits [T, V]).
Expected<mlir::func::FuncOp> forwardFunction(mlir::ModuleOp module);
Expected<TranslatedProgram> translateToProgram(mlir::func::FuncOp forward);

// The model metadata the importer records (`qcc.model_config`): sizes,
// tokens, RoPE and norm settings as the checkpoint's config.json says.
Expected<ModelConfig> modelConfigOf(mlir::ModuleOp module);

// The weights of a translated program, evaluated from the IR on request
// (parameters are read and checked; round-to-nearest is computed then).
class IrWeightSource : public cpu::WeightSource {
public:
  explicit IrWeightSource(const TranslatedProgram &t) : t_(t) {}
  size_t count() const override { return t_.weights.size(); }
  Expected<cpu::WeightData> weight(uint32_t index) const override;

private:
  const TranslatedProgram &t_;
  mutable std::vector<WeightValue> held_; // keeps converted bytes alive
};

// The CPU interpreter over the module's @forward as it is now (every weight
// evaluated and converted once).
Expected<std::unique_ptr<cpu::Interpreter>> interpretModule(mlir::ModuleOp module, const cpu::ExecutorOptions &options);

} // namespace qcc
