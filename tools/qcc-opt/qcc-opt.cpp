// qcc-opt: the mlir-opt-style driver for qcc passes (lit tests use it).
//
// The input's bracket nesting is bounded before MLIR's parser sees it: the
// parser recurses once per level of nested regions, attributes and types,
// and deep enough input would overflow its stack.
#include "passes/Passes.h"
#include "passes/Pipelines.h"
#include "support/Nesting.h"
#include "support/Printable.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace {
// Any real qcc module nests a few tens of levels; 256 stays far below what
// overflows the parser's stack (also under AddressSanitizer).
constexpr int kMaxInputNesting = 256;
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  mlir::DialectRegistry registry;
  qcc::registerQccDialects(registry);
  qcc::registerQccPasses();
  qcc::registerQccPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  auto [inputName, outputName] =
      mlir::registerAndParseCLIOptions(argc, argv, "qcc optimizer driver\n", registry);
  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, inputName, outputName, registry));

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = mlir::openInputFile(inputName, &error);
  if (!input) {
    llvm::errs() << qcc::printable(error) << "\n";
    return 1;
  }
  const std::string shownName = inputName == "-" ? "<stdin>" : inputName;
  qcc::NestingSyntax mlirSyntax;
  mlirSyntax.angleBrackets = true;
  if (qcc::Status s = qcc::checkNestingDepth(std::string_view(input->getBufferStart(), input->getBufferSize()),
                                             kMaxInputNesting, shownName, mlirSyntax);
      !s) {
    llvm::errs() << "qcc-opt: error: " << qcc::printable(s.message()) << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output = mlir::openOutputFile(outputName, &error);
  if (!output) {
    llvm::errs() << qcc::printable(error) << "\n";
    return 1;
  }
  if (mlir::failed(mlir::MlirOptMain(output->os(), std::move(input), registry, config))) return 1;
  output->keep();
  return 0;
}
