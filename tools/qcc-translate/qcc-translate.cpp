// qcc-translate --qcc-to-artifact lowered.mlir -o model.qcc
//
// The artifact as a translation of a compiled module (what `qcc compile` does
// after its pipeline): the CPU program from @forward, each qcck.program's
// launch list and kernels (NVRTC, through the kernel cache), the tensors
// streamed from the module's parameter archives. `-` reads stdin.
#include "codegen/artifact/EmitArtifact.h"
#include "passes/Passes.h"
#include "support/MappedFile.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdio>

namespace cl = llvm::cl;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::opt<bool> toArtifact("qcc-to-artifact", cl::desc("translate a compiled qcc module into a model.qcc artifact"));
  cl::opt<std::string> input(cl::Positional, cl::desc("<input.mlir>"), cl::init("-"));
  cl::opt<std::string> output("o", cl::desc("the artifact to write (atomically)"), cl::value_desc("file"));
  cl::opt<std::string> kernelCache("kernel-cache", cl::desc("kernel cache folder (default: the user's cache)"),
                                   cl::init(""));
  cl::ParseCommandLineOptions(argc, argv, "qcc translation driver\n");
  if (!toArtifact) {
    std::fprintf(stderr, "qcc-translate: error: give a translation (--qcc-to-artifact)\n");
    return 2;
  }
  if (output.empty()) {
    std::fprintf(stderr, "qcc-translate: error: -o FILE is required (an artifact is not written to stdout)\n");
    return 2;
  }
  qcc::removeTemporariesOnFatalSignals();

  mlir::DialectRegistry registry;
  qcc::registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  std::string error;
  auto file = mlir::openInputFile(input, &error);
  if (!file) {
    std::fprintf(stderr, "qcc-translate: error: %s\n", error.c_str());
    return 1;
  }
  llvm::SourceMgr sources;
  sources.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(sources, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(sources, &context);
  if (!module) return 1; // the parser reported why

  qcc::TranslateOptions options;
  options.outputPath = output;
  options.kernelCacheDir = kernelCache;
  auto summary = qcc::translateToArtifact(*module, options);
  if (!summary) {
    std::fprintf(stderr, "qcc-translate: error: %s\n", summary.message().c_str());
    return 1;
  }
  return 0;
}
