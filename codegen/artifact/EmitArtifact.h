// Emits a compiled qcc module as a model.qcc artifact: the tensor index and
// schedule in the header, then every weight streamed in layer order from the
// weight store (round-to-nearest weights are quantized as they are written,
// so the writer holds one tensor at a time).
#pragma once

#include "codegen/cuda/TileTable.h"
#include "passes/WeightStore.h"
#include "runtime/artifact/Artifact.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcc {

struct EmitOptions {
  std::string outputPath;
  // NVRTC architectures (sm_80, sm_86, sm_89, sm_90a): every kernel of the
  // schedule is compiled for each and stored; empty: a CPU-only artifact.
  std::vector<std::string> targets;
  bool fp8WeightOnly = false;         // fp8 layers on sm_80/86 as e4m3 weights, bf16 math
  const cuda::TileTable *tiles = nullptr; // `qcc tune` winners in place of the built-in tiles
  artifact::Provenance provenance;
  std::string tokenizerJsonPath;      // embedded when non-empty
  // More of the tokenizer's files (tokenizer_config.json, chat_template.jinja),
  // embedded like it under their file names.
  std::vector<std::string> tokenizerExtraPaths;
  // Called once per layer written (layer index, -1 for the others).
  std::function<void(int64_t layer)> onLayerWritten;
};

struct EmitSummary {
  uint64_t fileSize = 0;
  std::map<std::string, uint64_t> bytesByFormat; // "fp8" -> bytes of codes + scales
  size_t tensors = 0;
};

// The module must be the canonical Llama-3.1 graph the importer builds (every
// weight of the config used by the op that expects it); formats, methods and
// SmoothQuant marks are read from the IR, bytes from the store.
Expected<EmitSummary> emitArtifact(mlir::ModuleOp module, const WeightStore &store, const EmitOptions &options);

} // namespace qcc
