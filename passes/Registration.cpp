#include "passes/Passes.h"

#include "dialects/qcck/QcckDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"

namespace qcc {

void registerQccDialects(mlir::DialectRegistry &registry) {
  registry.insert<QccDialect, qcck::QcckDialect, mlir::func::FuncDialect>();
}

} // namespace qcc
