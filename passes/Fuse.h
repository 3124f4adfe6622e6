// The rewrites of qcc-fuse on one function (qcc-legalize-target runs them on
// a copy to check what the kernels will be).
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace qcc {

void fuseFunction(mlir::func::FuncOp fn);

} // namespace qcc
