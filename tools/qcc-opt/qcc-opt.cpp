// qcc-opt: the mlir-opt-style driver for qcc passes (lit tests use it).
#include "passes/Passes.h"
#include "passes/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  qcc::registerQccDialects(registry);
  qcc::registerQccPasses();
  qcc::registerQccPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "qcc optimizer driver\n", registry));
}
