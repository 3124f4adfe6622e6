// Imports a Llama-3.1 checkpoint into the qcc dialect: one func.func @forward
// over token ids and positions, weights referenced by name (never copied).
#pragma once

#include "frontends/llama/Checkpoint.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace qcc {

struct ImportOptions {
  // Element type of activations: "f32", "bf16" or "" for the checkpoint's own
  // torch_dtype (a float32 checkpoint computes in fp32, a bf16 one in bf16).
  std::string activationDtype;
};

// The context must have the qcc and func dialects loaded (registerQccDialects).
Expected<mlir::OwningOpRef<mlir::ModuleOp>> importLlama(mlir::MLIRContext &context,
                                                        const Checkpoint &checkpoint,
                                                        const ImportOptions &options);

} // namespace qcc
