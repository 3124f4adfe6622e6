// The artifact as a translation of a (lowered) qcc module:
//   * the tensor table: every weight the CPU program reads, named, with its
//     format, method and SmoothQuant mark from the IR, bytes streamed from the
//     parameters in program order (round-to-nearest is computed as each is
//     written, so the writer holds one tensor at a time);
//   * the CPU program: @forward translated op for op (passes/ToProgram.h);
//   * per CUDA target (each `qcck.program` of a lowered module): its kernels,
//     compiled by NVRTC through the kernel cache, and its launch list;
//   * the tokenizer the importer recorded, and the provenance: the model's
//     name and checkpoint hash, and the passes that ran (`qcc.passes`).
// `qcc-translate --qcc-to-artifact` and `qcc compile` both call this.
#pragma once

#include "runtime/artifact/Artifact.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace qcc {

struct TranslateOptions {
  std::string outputPath;
  // Into an anonymous in-memory file instead (outputPath names it in
  // messages); TranslateSummary::memoryFd is its descriptor.
  bool inMemory = false;
  std::string kernelCacheDir; // "" = the default kernel cache
  // Called once per tensor written (done, total), may be empty.
  std::function<void(int64_t done, int64_t total)> onTensorWritten;
};

struct TranslateSummary {
  uint64_t fileSize = 0;
  std::map<std::string, uint64_t> bytesByFormat; // "fp8" -> bytes of codes + scales
  size_t tensors = 0;
  std::vector<std::string> targets; // targets with kernels
  int memoryFd = -1;                // TranslateOptions::inMemory: the caller's to close
};

// Writes the artifact atomically (nothing at the path on failure).
Expected<TranslateSummary> translateToArtifact(mlir::ModuleOp module, const TranslateOptions &options);

} // namespace qcc
