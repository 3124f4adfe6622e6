// qcc-translate --qcc-to-artifact lowered.mlir -o model.qcc
// qcc-translate --qcc-to-compressed-tensors quantized.mlir -o OUT_DIR
//
// The artifact as a translation of a compiled module (what `qcc compile` does
// after its pipeline): the CPU program from @forward, each qcck.program's
// launch list and kernels (NVRTC, through the kernel cache), the tensors
// streamed from the module's parameter archives. The compressed-tensors
// folder (what `qcc export` does after the quantization pipeline): every
// weight of the quantized module in vLLM's layout, config.json, the
// recorded tokenizer files. `-` reads stdin.
#include "codegen/artifact/EmitArtifact.h"
#include "codegen/export/CompressedTensorsExport.h"
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
  cl::opt<bool> toCompressedTensors(
      "qcc-to-compressed-tensors",
      cl::desc("translate a quantized qcc module into a compressed-tensors folder (vLLM, transformers)"));
  cl::opt<std::string> input(cl::Positional, cl::desc("<input.mlir>"), cl::init("-"));
  cl::opt<std::string> output("o", cl::desc("the artifact or folder to write (atomically)"),
                              cl::value_desc("path"));
  cl::opt<std::string> kernelCache("kernel-cache", cl::desc("kernel cache folder (default: the user's cache)"),
                                   cl::init(""));
  cl::opt<bool> overwrite("overwrite", cl::desc("compressed-tensors: replace an existing output folder"));
  cl::opt<uint64_t> maxShardBytes("max-shard-bytes", cl::desc("compressed-tensors: largest shard in bytes"),
                                  cl::init(5000000000ull));
  cl::ParseCommandLineOptions(argc, argv, "qcc translation driver\n");
  if (toArtifact == toCompressedTensors) {
    std::fprintf(stderr, "qcc-translate: error: give one translation (--qcc-to-artifact or "
                         "--qcc-to-compressed-tensors)\n");
    return 2;
  }
  if (output.empty()) {
    std::fprintf(stderr, "qcc-translate: error: -o %s is required (it is not written to stdout)\n",
                 toArtifact ? "FILE" : "DIR");
    return 2;
  }
  if (toCompressedTensors && maxShardBytes == 0) {
    std::fprintf(stderr, "qcc-translate: error: --max-shard-bytes must be positive\n");
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

  if (toCompressedTensors) {
    qcc::ExportTranslateOptions options;
    options.outputDir = output;
    options.overwrite = overwrite;
    options.maxShardBytes = maxShardBytes;
    auto summary = qcc::translateToCompressedTensors(*module, options);
    if (!summary) {
      std::fprintf(stderr, "qcc-translate: error: %s\n", summary.message().c_str());
      return 1;
    }
    return 0;
  }

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
