// The lowering of @forward to a target's kernel launches (qcc-lower-to-kernels),
// shared with qcc-legalize-target, which runs it on a copy before calibration.
#pragma once

#include "codegen/cuda/Targets.h"
#include "codegen/cuda/TileTable.h"
#include "dialects/qcc/QccDialect.h"
#include "dialects/qcck/QcckDialect.h"
#include "support/Status.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace qcc {

// Whether a GEMM in `format` with K = k (and a w4a16 group) runs on `target`.
Status gemmLegal(const cuda::GpuTarget &target, cuda::GemmFormat format, int64_t k, int64_t group);

// Appends a qcck.program for `target` to the module of `forward`. On failure
// the op that could not be lowered has reported why (a diagnostic) and the
// module is unchanged.
Expected<qcck::ProgramOp> lowerForTarget(mlir::func::FuncOp forward, const cuda::GpuTarget &target,
                                         bool fp8WeightOnly, const cuda::TileTable *tiles, int64_t maxSeq);

// The KV-cache length kernels are built for: `requested` when positive, else
// the model's max_position_embeddings capped at 8192.
int64_t kernelMaxSeq(mlir::ModuleOp module, int64_t requested);

} // namespace qcc
